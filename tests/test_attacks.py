"""PGD-L2: closed forms on linear models, constraints, best iterate, and no side effects."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from intrinsic_rob.attacks import PGDSettings, pgd_l2, pgd_l2_detailed, robust_accuracy
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.models.classifiers import SevenLayerCNN

from .models import two_class_linear


def test_linear_model_closed_form_minimal_adversarial_example():
    torch.manual_seed(0)
    d = 16
    w = torch.randn(d)
    model = two_class_linear(w, 0.0)
    # points near the centre of the box, so the clip to [0, 1] never binds at these radii
    x = 0.5 + 0.02 * torch.randn(64, 1, 4, 4)
    margin = (x.flatten(1) @ w).abs()
    distance = margin / w.norm()  # the closed-form minimal l2 adversarial perturbation
    y = (x.flatten(1) @ w > 0).long()
    for scale, expect in ((1.05, True), (0.95, False)):
        eps = (distance * scale).tolist()
        for i in range(0, 64, 8):  # one eps per example: attack them one at a time
            res = pgd_l2_detailed(model, x[i : i + 1], y[i : i + 1], PGDSettings(eps[i], eps[i] / 4, 20))
            assert bool(res.fooled[0]) is expect, (i, scale)
            moved = (res.x_adv - x[i : i + 1]).flatten(1).norm(dim=1)
            assert float(moved) <= eps[i] * (1 + 1e-5)


def test_outputs_stay_in_the_ball_and_the_box():
    torch.manual_seed(1)
    model = SevenLayerCNN()
    x = torch.rand(12, 1, 28, 28)
    x[:4] = x[:4].round()  # pixels at 0 and 1, where the box binds
    y = torch.randint(0, 10, (12,))
    for restarts, best in ((1, True), (3, True), (2, False)):
        x_adv = pgd_l2(model, x, y, eps=1.5, step_size=0.7, steps=4, restarts=restarts, best_iterate=best)
        assert x_adv.shape == x.shape
        assert bool(((x_adv - x).flatten(1).norm(dim=1) <= 1.5 * (1 + 1e-5)).all())
        assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0


def test_one_step_without_random_start_is_a_normalised_gradient_step():
    torch.manual_seed(2)
    w = torch.randn(9)
    model = two_class_linear(w, 0.0)
    x = 0.5 + 0.01 * torch.randn(5, 1, 3, 3)
    y = (x.flatten(1) @ w > 0).long()
    x_adv = pgd_l2(model, x, y, eps=0.1, step_size=0.05, steps=1, random_start=False)
    # the cross-entropy's gradient points along -w for class 1 and +w for class 0
    sign = torch.where(y == 1, -1.0, 1.0)[:, None]
    expected = x.flatten(1) + 0.05 * sign * w / w.norm()
    torch.testing.assert_close(x_adv.flatten(1), expected, rtol=0, atol=1e-6)


class _Overshoot(nn.Module):
    """A 1-d classifier whose loss peaks midway: class 1 (wrong for y = 0) only on x in (0.3, 0.5).

    Gradient ascent from x = 0.1 crosses the wrong-class interval and leaves it again,
    so the last iterate is classified correctly while a middle one was not.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.flatten(1)[:, :1]
        bump = 10.0 * (torch.relu(t - 0.3) - 2 * torch.relu(t - 0.4) + torch.relu(t - 0.5))  # peak 1 at 0.4
        return torch.cat([0.5 * torch.ones_like(t), bump], dim=1) + 0.2 * t


def test_best_iterate_keeps_an_example_fooled_mid_run():
    model = _Overshoot()
    x, y = torch.full((1, 1), 0.1), torch.zeros(1, dtype=torch.long)
    kwargs = dict(eps=0.9, step_size=0.15, steps=6, random_start=False)
    last = pgd_l2_detailed(model, x, y, PGDSettings(best_iterate=False, **kwargs))
    best = pgd_l2_detailed(model, x, y, PGDSettings(**kwargs))
    assert not bool(last.fooled[0])  # the original evaluation counts it as robust
    assert bool(best.fooled[0]) and model(best.x_adv).argmax(1).item() == 1


def test_mode_random_state_and_parameters_are_left_alone():
    torch.manual_seed(3)
    model = SevenLayerCNN().train()
    model.head[2].eval()  # a submodule in another mode than its parent
    flags = [p.requires_grad for p in model.parameters()]
    x, y = torch.rand(4, 1, 28, 28), torch.randint(0, 10, (4,))
    state = torch.get_rng_state()
    pgd_l2(model, x, y, eps=1.0, step_size=0.3, steps=3, restarts=2, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    assert model.training and not model.head[2].training
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters())
    again = pgd_l2(model, x, y, eps=1.0, step_size=0.3, steps=3, restarts=2, seed=5)
    assert torch.equal(again, pgd_l2(model, x, y, eps=1.0, step_size=0.3, steps=3, restarts=2, seed=5))


def test_robust_accuracy_is_between_zero_and_natural_accuracy():
    torch.manual_seed(4)
    w = torch.randn(16)
    model = two_class_linear(w, 0.0)
    x = torch.rand(40, 1, 4, 4)
    y = (x.flatten(1) @ w > 0).long()
    natural = robust_accuracy(model, x, y, eps=1e-9, step_size=1e-9, steps=1, random_start=False)
    assert natural == 1.0
    values = [robust_accuracy(model, x, y, eps=e, step_size=e / 4, steps=10, batch_size=16) for e in (0.05, 0.2, 1.0)]
    assert values == sorted(values, reverse=True) and values[-1] < 1.0


@pytest.mark.parametrize("kwargs, message", [
    (dict(eps=0.0), "eps must be > 0"),
    (dict(step_size=-1.0), "step_size must be > 0"),
    (dict(steps=0), "steps must be >= 1"),
    (dict(restarts=0), "restarts must be >= 1"),
])
def test_bad_settings_are_one_line_errors(kwargs, message):
    args = dict(eps=1.0, step_size=0.1, steps=1)
    args.update(kwargs)
    with pytest.raises(InputError, match=message):
        pgd_l2(SevenLayerCNN(), torch.rand(2, 1, 28, 28), torch.zeros(2, dtype=torch.long), **args)


def test_bench_attack_reports_speed_and_strength_per_seed():
    from intrinsic_rob.bench.speed import bench_attack

    r = bench_attack(batch=8, steps=2, repeats=1, train_epochs=1, strength_examples=12, strength_seeds=2)
    assert set(r.steps_per_s) == set(r.robust_accuracy) == set(r.robust_accuracy_per_seed) >= {"pgd_l2", "obvious"}
    for name, values in r.robust_accuracy_per_seed.items():
        assert len(values) == 2 and all(0.0 <= v <= 1.0 for v in values)
        assert r.robust_accuracy[name] == pytest.approx(sum(values) / 2)
    assert all(v <= r.natural_accuracy for v in r.robust_accuracy_per_seed["pgd_l2"])
    assert r.strength_examples == 12 and r.speedup_over_obvious > 0


def test_an_example_already_misclassified_is_returned_unchanged_and_fooled():
    torch.manual_seed(6)
    w = torch.randn(16)
    model = two_class_linear(w, 0.0)
    x = torch.rand(20, 1, 4, 4)
    right = (x.flatten(1) @ w > 0).long()
    y = torch.where(torch.arange(20) % 2 == 0, 1 - right, right)  # even rows: the wrong label
    res = pgd_l2_detailed(model, x, y, PGDSettings(eps=1e-3, step_size=1e-3, steps=3))
    assert bool(res.fooled[::2].all())
    assert torch.equal(res.x_adv[::2], x[::2])
