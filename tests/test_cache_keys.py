"""The cache keys of trained models change only on purpose: a changed key silently retrains every cached model and
orphans the recorded runs' weights. The folder names below (a natural classifier and the three robust methods, on
fixed toy data) were last computed when the key's CPU kernels (intrinsic_rob.core.kernels.KERNELS) came to name the
training's thread count, one; TRADES's last changed with its loss revision 1 (the KL term from log-probabilities)."""

from __future__ import annotations

import torch

from intrinsic_rob.models import training
from intrinsic_rob.models.classifiers import PlainRecipe, SevenLayerCNN, TrainConfig, load_or_train_classifier
from intrinsic_rob.models.robust import table4_config


def _toy():
    return torch.linspace(0, 1, 16 * 784).reshape(16, 1, 28, 28), torch.arange(16) % 10


def test_classifier_folder_name_is_unchanged(tmp_path):
    x, y = _toy()
    recipe = PlainRecipe(SevenLayerCNN, TrainConfig(epochs=1, batch_size=8))
    trained = load_or_train_classifier(recipe, x, y, data_id="toy", artifacts=tmp_path, progress=False)
    assert trained.folder.name == "classifier-3f773dac2105"


def test_robust_folder_names_are_unchanged(tmp_path, monkeypatch):
    x, y = _toy()
    folders = {}

    def capture(make_task, x, y, config, folder, **kwargs):
        folders[len(folders)] = folder.name
        raise KeyboardInterrupt  # the key is all this test needs: no training

    monkeypatch.setattr(training, "load_or_fit", capture)
    for method in ("lp", "adv", "trades"):
        try:
            load_or_train_classifier(table4_config("mnist", method, seed=1, epochs=3), x, y, data_id="toy",
                                     artifacts=tmp_path, progress=False)
        except KeyboardInterrupt:
            pass
    assert list(folders.values()) == ["robust-3d65978a9848", "robust-3350ee19e0d3", "robust-fd20261e5c8f"]
