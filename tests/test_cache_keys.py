"""The cache keys of trained models change only on purpose: a changed key silently retrains every cached model and
orphans the recorded runs' weights. The folder names below (a natural classifier and the three robust methods, on
fixed toy data) were last computed when the key's CPU kernels (intrinsic_rob.core.kernels.KERNELS) became MKL's
compatible branch and OpenBLAS's Haswell kernels, which multiply the ACGAN's linear layers."""

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
    assert trained.folder.name == "classifier-e9d5452a77d2"


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
    assert list(folders.values()) == ["robust-ad70e91b124d", "robust-2109e50e8962", "robust-18ef7281a7c6"]
