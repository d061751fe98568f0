"""Robust training (Section 5.3): Adv-Train, TRADES and LP-Certify losses, settings, resumption, certificates."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from intrinsic_rob import paper
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.estimators.certify import certified_accuracy, certified_mask, natural_accuracy
from intrinsic_rob.models import training
from intrinsic_rob.models.classifiers import (
    ImageNet10CNN,
    SevenLayerCNN,
    TrainConfig,
    load_or_train_classifier,
    lp_certify_net,
    predict,
    train_classifier,
)
from intrinsic_rob.models.robust import RobustConfig, make_optimizer, steplr_after_ramp, table4_config
from intrinsic_rob.models.robust_losses import AdvTrainLoss, LPCertifyLoss, TradesLoss, adv_train_attack, trades_attack
from intrinsic_rob.models.training import FitConfig, SupervisedTask, fit, load_snapshots


def _mnist_like(n: int = 48):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def _seeded(make, seed: int = 0) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()


def _same(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def _small_lp_net() -> nn.Sequential:
    """An LP-certifiable net on (B, 1, 8, 8): 64 inputs, 64 hidden units after the convolution."""
    return nn.Sequential(nn.Conv2d(1, 4, 4, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 2))


def _separable(n: int = 64, seed: int = 0):
    """Two classes of 8x8 images around grey levels 0.25 and 0.75 (means 4.0 apart in l2)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = (0.25 + 0.5 * y.float()).view(n, 1, 1, 1) + 0.05 * torch.randn(n, 1, 8, 8, generator=g)
    return x.clamp(0, 1), y


# ----------------------------------------------------------------- reductions to natural training

@pytest.mark.parametrize("loss", [TradesLoss(eps=3.0, step_size=0.5, steps=3, beta=0.0),
                                  AdvTrainLoss(eps=0.0, step_size=0.5, steps=3)], ids=["trades-beta0", "adv-eps0"])
def test_degenerate_robust_losses_are_natural_training(loss):
    x, y = _mnist_like()
    config = TrainConfig(epochs=2, batch_size=16, lr=0.05, momentum=0.9, seed=3)
    natural, robust = _seeded(SevenLayerCNN), _seeded(SevenLayerCNN)  # dropout: the global stream must match
    train_classifier(natural, x, y, config, progress=False)
    train_classifier(robust, x, y, config, loss=loss, progress=False)
    assert _same(natural, robust)


def test_a_real_perturbation_changes_training():
    x, y = _mnist_like()
    config = TrainConfig(epochs=1, batch_size=16, seed=3)
    natural, robust = _seeded(SevenLayerCNN), _seeded(SevenLayerCNN)
    train_classifier(natural, x, y, config, progress=False)
    train_classifier(robust, x, y, config, loss=AdvTrainLoss(eps=1.0, step_size=0.5, steps=2), progress=False)
    assert not _same(natural, robust)


# ----------------------------------------------------------------- inner loops

class _ModeRecorder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
        self.modes: list[bool] = []

    def forward(self, x):
        self.modes.append(self.training)
        return self.net(x)


@pytest.mark.parametrize("method", ["adv", "trades"])
def test_attacks_run_in_eval_mode_restore_it_and_leave_parameters_alone(method):
    model = _ModeRecorder().train()
    x, y = torch.rand(6, 1, 4, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    rng = torch.Generator().manual_seed(0)
    loss = (AdvTrainLoss(1.0, 0.3, 4) if method == "adv" else TradesLoss(1.0, 0.3, 4, beta=6.0))(model, x, y, rng)
    assert model.training and all(p.grad is None for p in model.parameters())
    outer = 1 if method == "adv" else 2  # TRADES: one pass at x for both terms, one at x'
    assert not any(model.modes[:-outer]) and all(model.modes[-outer:])
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_attacks_stay_in_ball_and_box_and_increase_their_objective():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 3))
    x, y = torch.rand(32, 1, 4, 4), torch.randint(0, 3, (32,))
    rng = torch.Generator().manual_seed(1)
    adv = adv_train_attack(model, x, y, eps=0.5, step_size=0.1, steps=10, rng=rng)
    kl_adv = trades_attack(model, x, eps=0.5, step_size=0.1, steps=10, rng=rng)
    for z in (adv, kl_adv):
        assert bool(((z - x).flatten(1).norm(dim=1) <= 0.5 + 1e-5).all()) and 0 <= z.min() and z.max() <= 1
    with torch.no_grad():
        assert F.cross_entropy(model(adv), y) > F.cross_entropy(model(x), y)
        p = F.softmax(model(x), 1)
        assert F.kl_div(F.log_softmax(model(kl_adv), 1), p, reduction="sum") > 1e-4


def test_random_starts_come_from_the_loops_generator():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x, y = torch.rand(4, 1, 4, 4), torch.tensor([0, 1, 2, 0])
    a = adv_train_attack(model, x, y, eps=0.5, step_size=0.1, steps=0, rng=torch.Generator().manual_seed(5))
    b = adv_train_attack(model, x, y, eps=0.5, step_size=0.1, steps=0, rng=torch.Generator().manual_seed(5))
    c = adv_train_attack(model, x, y, eps=0.5, step_size=0.1, steps=0, rng=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


# ----------------------------------------------------------------- resumption

@pytest.mark.parametrize("method", ["adv", "trades", "lp"])
def test_killed_robust_training_resumes_to_identical_weights(tmp_path, method):
    if method == "lp":  # random projections (input 64 > proj 8; many unstable ReLUs) from the global generator
        x, y = _separable(48)
        make, loss = _small_lp_net, (lambda: LPCertifyLoss(eps=1.0, start_eps=0.1, ramp_epochs=3, proj=8))
    else:
        x, y = _mnist_like()
        make = SevenLayerCNN
        loss = ((lambda: AdvTrainLoss(1.0, 0.5, 2)) if method == "adv" else (lambda: TradesLoss(1.0, 0.5, 2, 6.0)))
    config = FitConfig(epochs=3, batch_size=16, seed=2)

    def task(model):
        return SupervisedTask(model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), loss(),
                              lr_at=training.step_decay(0.05, (1, 2), (0.1, 0.01)))

    whole = _seeded(make)
    history = fit(task(whole), x, y, config, folder=tmp_path / "whole", progress=False)

    def kill(epoch: int, step: int) -> None:
        if epoch == 1 and step == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(task(_seeded(make)), x, y, config, folder=tmp_path / "killed", progress=False, on_batch=kill)
    resumed = _seeded(make)
    again = fit(task(resumed), x, y, config, folder=tmp_path / "killed", progress=False)
    assert _same(whole, resumed) and again == history


# ----------------------------------------------------------------- LP-Certify

def test_lp_ramp_sets_each_epochs_eps_exactly(monkeypatch):
    import convex_adversarial

    seen: list[tuple[float, str]] = []
    original = convex_adversarial.robust_loss

    def recording(net, epsilon, X, y, **kwargs):
        seen.append((epsilon, kwargs["norm_type"]))
        return original(net, epsilon, X, y, **kwargs)

    monkeypatch.setattr(convex_adversarial, "robust_loss", recording)
    x, y = _separable(16)
    loss = LPCertifyLoss(eps=1.0, start_eps=0.1, ramp_epochs=3, proj=None)
    model = _seeded(_small_lp_net)
    fit(SupervisedTask(model, torch.optim.Adam(model.parameters(), lr=1e-3), loss), x, y,
        FitConfig(epochs=5, batch_size=8), progress=False)
    expected = [float(e) for e in np.linspace(0.1, 1.0, 3)] + [1.0, 1.0]
    assert seen == [(eps, "l2") for eps in expected for _ in range(2)]
    assert [loss.eps_at(e) for e in range(5)] == expected and expected[:3] == [0.1, 0.55, 1.0]
    assert LPCertifyLoss(eps=2.0, start_eps=None).eps_at(0) == 2.0 == LPCertifyLoss(2.0, 0.05, 0).eps_at(0)


def test_lp_uses_projections_only_when_the_input_is_larger_than_proj(monkeypatch):
    import convex_adversarial

    seen = []
    original = convex_adversarial.robust_loss
    monkeypatch.setattr(convex_adversarial, "robust_loss",
                        lambda net, eps, X, y, **kw: seen.append(kw) or original(net, eps, X, y, **kw))
    x, y = _separable(8)
    net = _seeded(_small_lp_net)
    LPCertifyLoss(1.0, proj=8)(net, x, y, torch.Generator())
    LPCertifyLoss(1.0, proj=64)(net, x, y, torch.Generator())  # 64 entries: convex-adversarial would refuse
    assert seen == [{"norm_type": "l2_normal", "proj": 8}, {"norm_type": "l2"}]
    with pytest.raises(InputError, match="nn.Sequential"):
        LPCertifyLoss(1.0)(SevenLayerCNN(), torch.rand(2, 1, 28, 28), torch.tensor([0, 1]), torch.Generator())
    odd = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(64, 2))
    with pytest.raises(InputError, match=r"^net\[0\] \(Conv2d\) does not invert"):
        LPCertifyLoss(1.0, proj=None)(odd, x, y, torch.Generator())
    with pytest.raises(InputError, match=r"^net\[2\] must be a Linear"):
        certified_accuracy(nn.Sequential(nn.Flatten(), nn.Linear(64, 8), nn.Dropout(0.5), nn.Linear(8, 2)), x, y, 0.1)


def test_certified_le_pgd_robust_le_natural_accuracy():
    from intrinsic_rob.attacks import pgd_l2

    x, y = _separable(64)
    net = _seeded(_small_lp_net)
    fit(SupervisedTask(net, torch.optim.Adam(net.parameters(), lr=3e-2),
                       LPCertifyLoss(eps=1.0, start_eps=0.1, ramp_epochs=3, proj=None)),
        x, y, FitConfig(epochs=10, batch_size=8), progress=False)
    clean = predict(net, x) == y
    natural = natural_accuracy(net, x, y)
    assert natural >= 0.9 and natural == float(clean.float().mean())
    assert certified_accuracy(net, x, y, 0.0) == natural
    rows = []
    for eps in (0.5, 1.0, 2.0, 3.0):
        step = eps / 4
        robust = clean & (predict(net, adv_train_attack(net, x, y, eps=eps, step_size=step, steps=20,
                                                        rng=torch.Generator().manual_seed(0))) == y)
        robust &= predict(net, pgd_l2(net, x, y, eps=eps, step_size=step, steps=20)) == y
        certified = certified_mask(net, x, y, eps, batch_size=16)
        assert not (certified & ~robust).any()  # a certified example is never broken by an attack
        rows.append((float(certified.float().mean()), float(robust.float().mean()), natural))
    assert all(c <= r <= n for c, r, n in rows), rows
    assert rows[0][0] > 0 and rows[-1][1] < natural, rows  # the check is not vacuous


# ----------------------------------------------------------------- settings

def test_lr_schedule_decays_relative_to_the_base_rate():
    config = RobustConfig(lr=0.05, epochs=4, batch_size=16, steps=1, milestones=(1, 2, 3), factors=(0.1, 0.01, 0.001))
    model = _seeded(SevenLayerCNN)
    opt = make_optimizer(config, model.parameters())
    rates = []
    x, y = _mnist_like(16)
    fit(SupervisedTask(model, opt, AdvTrainLoss(0.5, 0.5, 1), lr_at=config.lr_at()), x, y, config.fit_config(),
        progress=False, on_batch=lambda epoch, step: rates.append(opt.param_groups[0]["lr"]))
    assert rates == [0.05, 0.05 * 0.1, 0.05 * 0.01, 0.05 * 0.001]  # not 0.05 * 0.1 * 0.01, ...
    lp = table4_config("mnist", "lp")
    step_lr = [1e-3 * 0.5 ** (max(t - 20, 0) // 10) for t in range(60)]  # StepLR(10, 0.5).step(max(t - 20, 0))
    assert [lp.lr_at()(t) for t in range(60)] == pytest.approx(step_lr, rel=1e-12, abs=0)
    assert steplr_after_ramp(20, 60) == ((30, 40, 50), (0.5, 0.25, 0.125))


def test_table4_configs_match_the_paper():
    for (dataset, method), row in paper.TABLE4_ROBUST_TRAINING.items():
        c = table4_config(dataset, method, seed=7)
        assert (c.dataset, c.method, c.seed, c.eps, c.optimizer, c.lr, c.epochs) == \
            (dataset, method, 7, row["eps"], row["optimizer"], row["lr"], row["epochs"])
        if method != "lp":
            assert (c.step_size, c.steps, c.batch_size, c.momentum) == (row["step_size"], row["steps"], 128, 0.9)
            assert c.beta == (row["beta"] or 0.0) and c.milestones == (50, 70, 90)
    assert table4_config("imagenet10", "adv").weight_decay == 2e-4 and table4_config("mnist", "adv").weight_decay == 0
    assert table4_config("mnist", "lp").batch_size == paper.TABLE4_LP_BATCH_SIZE == 50
    assert paper.TABLE5_PGD == {1.0: (0.1, 100), 2.0: (0.3, 100), 3.0: (0.5, 100)}
    assert table4_config("mnist", "adv", epochs=2).epochs == 2


@pytest.mark.parametrize("kwargs, field", [
    ({"method": "pgd"}, "method"),
    ({"dataset": "cifar10"}, "dataset"),
    ({"optimizer": "rmsprop"}, "optimizer"),
    ({"eps": -1.0}, "eps"),
    ({"steps": 1.5}, "steps"),
    ({"beta": float("nan")}, "beta"),
    ({"lr": 0.0}, "lr"),
    ({"momentum": 1.0}, "momentum"),
    ({"milestones": (70, 50, 90)}, "milestones"),
    ({"milestones": (50, -1, 90)}, "milestones[1]"),
    ({"factors": (0.1, 0.01)}, "factors"),
    ({"factors": (0.1, 0.0, 0.001)}, "factors[1]"),
    ({"lp_proj": 0}, "lp_proj"),
    ({"lp_ramp_epochs": -1}, "lp_ramp_epochs"),
    ({"method": "lp", "dataset": "imagenet10"}, "method"),
    ({"method": "lp", "eps": 1.0, "lp_start_eps": 2.0}, "lp_start_eps"),
    ({"snapshot_every": 0}, "snapshot_every"),
])
def test_bad_settings_are_one_line_errors_naming_the_field(kwargs, field):
    with pytest.raises(InputError) as info:
        RobustConfig(**kwargs)
    message = str(info.value)
    assert message.startswith(field + " ") and "\n" not in message


def test_bad_loss_and_table_arguments_are_one_line_errors():
    for make, field in ((lambda: AdvTrainLoss(-1.0, 0.5, 3), "eps"), (lambda: TradesLoss(1.0, 0.5, 3, -2.0), "beta"),
                        (lambda: LPCertifyLoss(1.0, proj=0), "proj"), (lambda: AdvTrainLoss(1.0, 0.5, -1), "steps")):
        with pytest.raises(InputError, match=f"^{field} "):
            make()
    with pytest.raises(InputError, match="Table 4"):
        table4_config("imagenet10", "lp")
    with pytest.raises(InputError, match="unknown RobustConfig field"):
        table4_config("mnist", "adv", epoch=3)
    with pytest.raises(InputError, match="^eps "):
        certified_accuracy(_small_lp_net(), *_separable(4), -0.5)


# ----------------------------------------------------------------- architectures, cache, snapshots

def test_architectures_have_the_documented_shapes():
    assert tuple(ImageNet10CNN()(torch.zeros(2, 3, 32, 32)).shape) == (2, 10)
    assert ImageNet10CNN().head[0].in_features == 4096
    net = lp_certify_net()
    assert isinstance(net, nn.Sequential) and net[5].in_features == 1568
    assert tuple(net(torch.zeros(2, 1, 28, 28)).shape) == (2, 10)


def test_robust_model_is_cached_and_snapshotted(tmp_path, monkeypatch):
    x, y = _mnist_like(24)
    config = RobustConfig(method="trades", epochs=2, batch_size=12, steps=1, snapshot_every=1, seed=1)
    trained = load_or_train_classifier(config, x, y, data_id="toy", artifacts=tmp_path, progress=False)
    model, history = trained.model, trained.history
    snapshots = load_snapshots(trained.folder)
    assert [e for e, _ in snapshots] == [1, 2] and len(history) == 2
    assert all(torch.equal(snapshots[-1][1][k], v) for k, v in model.state_dict().items())

    def no_training(*args, **kwargs):
        raise AssertionError("a cached model was trained again")

    monkeypatch.setattr(training, "fit", no_training)
    again = load_or_train_classifier(config, x, y, data_id="toy", artifacts=tmp_path, progress=False)
    assert _same(model, again.model) and again.history == history and again.folder == trained.folder
    with pytest.raises(InputError, match="train_x must be"):
        load_or_train_classifier(config, torch.rand(4, 3, 32, 32), y[:4], data_id="toy", artifacts=tmp_path,
                                 progress=False)


def test_trades_loss_keeps_finite_gradients_where_the_natural_softmax_underflows():
    """A class whose softmax at x is 0 in float32 must not give the weights a NaN gradient (it did, through the
    KL divergence's target, and TRADES trained on NaN weights)."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.copy_(torch.tensor([200.0, 0.0, -5.0]))  # softmax (1, 0, 0) exactly
    x, y = torch.rand(2, 1, 2, 2), torch.tensor([0, 0])
    loss = TradesLoss(eps=0.5, step_size=0.2, steps=2, beta=6.0)(model, x, y, torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in model.parameters())
