"""The one training loop: per-epoch seeding, checkpoints, resume to identical weights, snapshots, cache."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from intrinsic_rob.core import artifacts
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.models import training
from intrinsic_rob.models.classifiers import (
    PlainRecipe,
    SevenLayerCNN,
    TrainConfig,
    load_or_train_classifier,
    train_classifier,
)
from intrinsic_rob.models.training import FitConfig, SupervisedTask, fit


def _data(n: int = 48):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def _model(seed: int = 0) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SevenLayerCNN()  # has dropout: the per-epoch seed must cover it


def _task(model: nn.Module) -> SupervisedTask:
    return SupervisedTask(model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9))


def _same(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_a_killed_run_resumes_to_identical_weights(tmp_path):
    x, y = _data()
    config = FitConfig(epochs=3, batch_size=16, seed=4)
    whole = _model()
    history = fit(_task(whole), x, y, config, folder=tmp_path / "whole", progress=False)

    def kill(epoch: int, step: int) -> None:
        if epoch == 1 and step == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(_task(_model()), x, y, config, folder=tmp_path / "killed", progress=False, on_batch=kill)
    resumed = _model()  # a new process: fresh weights, restored from the checkpoint of epoch 1
    again = fit(_task(resumed), x, y, config, folder=tmp_path / "killed", progress=False)
    assert _same(whole, resumed) and again == history and len(history) == 3


def test_caller_random_state_is_untouched_and_runs_repeat():
    x, y = _data()
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a, b = _model(), _model()
    fit(_task(a), x, y, FitConfig(epochs=2, batch_size=16), progress=False)
    assert torch.equal(torch.get_rng_state(), before)
    fit(_task(b), x, y, FitConfig(epochs=2, batch_size=16), progress=False)
    assert _same(a, b) and not a.training


def test_cpu_training_runs_on_fixed_threads_and_portable_kernels():
    # oneDNN's default mode and NNPACK sum in orders that follow the threads' timing or the processor's caches
    x, y = _data(16)
    seen = []
    torch.backends.mkldnn.deterministic = False
    fit(_task(_model()), x, y, FitConfig(epochs=1, batch_size=16), progress=False,
        on_batch=lambda epoch, step: seen.append((torch.backends.mkldnn.deterministic,
                                                  torch._C._get_nnpack_enabled(), torch.get_num_threads())))
    assert seen == [(True, False, training.TRAINING_THREADS)]
    assert torch.backends.mkldnn.deterministic is False


def test_snapshots_every_k_epochs(tmp_path):
    x, y = _data()
    fit(_task(_model()), x, y, FitConfig(epochs=4, batch_size=24, snapshot_every=2), folder=tmp_path,
        progress=False)
    names = sorted(p.name for p in tmp_path.glob("snapshot-*.safetensors"))
    assert names == ["snapshot-epoch002.safetensors", "snapshot-epoch004.safetensors"]
    assert artifacts.load_tensors(tmp_path / names[0]) is not None


def test_a_step_that_is_not_finite_stops_the_run_at_its_epoch_and_step(tmp_path):
    x, y = _data()
    calls = []

    def poisoned(model, xb, yb, rng):
        calls.append(1)
        loss = training.cross_entropy_loss(model, xb, yb, rng)
        return loss * float("nan") if len(calls) == 5 else loss  # the second step of the second epoch

    config = FitConfig(epochs=3, batch_size=16, seed=0)
    model = _model()
    task = SupervisedTask(model, torch.optim.SGD(model.parameters(), lr=0.05), loss=poisoned)
    with pytest.raises(training.TrainingDiverged, match=r"^training diverged: loss = nan at epoch 2, step 2 of 3;"):
        fit(task, x, y, config, folder=tmp_path, progress=False)
    kept = artifacts.load_checkpoint(tmp_path / training.CHECKPOINT)
    assert kept["epoch"] == 0 and len(kept["history"]) == 1  # the diverged epoch left no checkpoint


def test_the_loss_is_a_plug_in():
    x, y = _data()
    calls = []

    def counted(model, xb, yb, rng):
        calls.append(xb.shape[0])
        return training.cross_entropy_loss(model, xb, yb, rng)

    losses = train_classifier(_model(), x, y, TrainConfig(epochs=2, batch_size=20), loss=counted, progress=False)
    assert calls == [20, 20, 8] * 2 and len(losses) == 2


def test_classifier_cache_trains_once_then_loads(tmp_path, monkeypatch):
    x, y = _data()
    config = TrainConfig(epochs=1, batch_size=16)
    recipe = PlainRecipe(_model, config)
    first = load_or_train_classifier(recipe, x, y, data_id="toy", artifacts=tmp_path, progress=False)
    calls = []
    real_fit = training.fit
    monkeypatch.setattr(training, "fit", lambda *a, **k: calls.append(1) or real_fit(*a, **k))
    again = load_or_train_classifier(recipe, x, y, data_id="toy", artifacts=tmp_path, progress=False)
    assert calls == [] and _same(first.model, again.model) and first.history == again.history
    load_or_train_classifier(recipe, x, y, data_id="other data", artifacts=tmp_path, progress=False)
    assert calls == [1]  # another key, another model


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, "epochs must be >= 1, got 0"),
    ({"batch_size": 1.5}, "batch_size must be an integer >= 1, got 1.5"),
    ({"snapshot_every": 0}, "snapshot_every must be >= 1, got 0"),
])
def test_fit_config_is_checked(kwargs, message):
    with pytest.raises(InputError, match=message):
        FitConfig(**kwargs)


def test_mismatched_data_is_a_clear_error():
    with pytest.raises(InputError, match="same number"):
        fit(_task(_model()), torch.rand(4, 1, 28, 28), torch.zeros(3, dtype=torch.long), FitConfig(), progress=False)


@pytest.mark.parametrize("metrics", [{"loss": float("inf")}, {"loss": -float("inf")},
                                     {"loss_d": 0.7, "loss_g": float("nan")}])  # the ACGAN's step has no "loss"
def test_any_metric_that_is_not_finite_stops_the_run(metrics):
    with pytest.raises(training.TrainingDiverged, match="training diverged"):
        training._check_finite(metrics, 0, 0, 1)
    training._check_finite({"loss_d": 0.7, "loss_g": 1.2, "d_real": 0.5}, 0, 0, 1)  # finite ones pass
