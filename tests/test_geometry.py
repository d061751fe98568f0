from __future__ import annotations

import pytest
import torch
from scipy import stats

from intrinsic_rob.core.errors import InputError
from intrinsic_rob.estimators import lipschitz
from intrinsic_rob.theory.geometry import (
    keep_off_centre,
    normalized_step,
    project_ball,
    project_ball_and_box,
    project_box,
    safe_ratio,
    sample_ball_offsets,
)


def test_ball_samples_are_uniform_in_the_ball():
    rng = torch.Generator().manual_seed(0)
    d, n, r = 10, 4000, 0.7
    offsets = sample_ball_offsets(2, n // 2, d, r, rng).reshape(n, d).double()
    radii = offsets.norm(dim=1)
    assert bool((radii <= r + 1e-6).all())
    # uniform in the ball: the radius is r U^(1/d), so (radius / r)^d is uniform on [0, 1]
    assert stats.kstest(((radii / r) ** d).numpy(), "uniform").pvalue > 1e-3
    # ... and the direction uniform on the sphere: mean zero, covariance I / d
    unit = offsets / radii[:, None]
    assert float(unit.mean(dim=0).abs().max()) < 0.05
    assert torch.allclose(unit.T @ unit / n, torch.eye(d, dtype=torch.float64) / d, atol=0.02)
    with pytest.raises(InputError, match="directions"):
        sample_ball_offsets(1, 1, d, r, rng, directions="cube")
    assert lipschitz.sample_ball_offsets is sample_ball_offsets  # still importable from its old home


def test_orthant_samples_are_all_positive():
    rng = torch.Generator().manual_seed(1)
    offsets = sample_ball_offsets(3, 500, 8, 0.5, rng, directions="orthant")
    assert bool((offsets >= 0).all()) and bool((offsets.norm(dim=-1) <= 0.5 + 1e-6).all())


def test_safe_ratio_is_zero_for_a_zero_step_and_never_nan():
    diff = torch.tensor([1.0, 0.0, 2.0, 0.0])
    step = torch.tensor([0.5, 0.0, 0.0, 2.0])
    ratio = safe_ratio(diff, step)
    assert ratio.tolist() == [2.0, 0.0, 0.0, 0.0]
    assert bool(torch.isfinite(ratio).all())
    # the gradient through a zero step is finite too (the gradient estimator differentiates it)
    s = torch.zeros(3, requires_grad=True)
    safe_ratio(torch.ones(3), s).sum().backward()
    assert bool(torch.isfinite(s.grad).all())


def test_normalized_step_has_the_step_length():
    torch.manual_seed(0)
    x, grad = torch.randn(50, 7), torch.randn(50, 7)
    moved = normalized_step(x, grad, 0.3)
    assert torch.allclose((moved - x).norm(dim=-1), torch.full((50,), 0.3), atol=1e-6)
    # along the gradient
    assert torch.allclose(torch.cosine_similarity(moved - x, grad, dim=-1), torch.ones(50), atol=1e-6)
    assert torch.equal(normalized_step(x, torch.zeros_like(x), 0.3), x)  # no gradient, no step


def test_project_ball_is_within_the_ball_and_idempotent():
    torch.manual_seed(1)
    offsets = torch.randn(200, 5) * torch.rand(200, 1) * 3
    once = project_ball(offsets, 1.5)
    assert bool((once.norm(dim=-1) <= 1.5 + 1e-6).all())
    inside = offsets.norm(dim=-1) <= 1.5
    assert torch.equal(once[inside], offsets[inside])  # points inside stay where they are
    assert torch.allclose(project_ball(once, 1.5), once, atol=1e-7)
    assert torch.equal(project_ball(torch.zeros(2, 5), 1.5), torch.zeros(2, 5))


def test_keep_off_centre_floor():
    offsets = torch.tensor([[1e-6, 0.0], [0.0, 0.004], [0.3, 0.4], [0.0, 0.0]])
    kept = keep_off_centre(offsets, 0.01)
    norms = kept.norm(dim=-1)
    assert torch.allclose(norms[:2], torch.full((2,), 0.01))
    assert torch.allclose(kept[:2] / norms[:2, None], offsets[:2] / offsets[:2].norm(dim=-1, keepdim=True))
    assert torch.equal(kept[2:], offsets[2:])  # long enough rows, and the zero row, unchanged


def test_project_box_and_ball_and_box():
    torch.manual_seed(2)
    x = torch.rand(20, 1, 6, 6)
    x_adv = x + torch.randn(20, 1, 6, 6)
    boxed = project_box(x_adv)
    assert bool((boxed >= 0).all() and (boxed <= 1).all())
    assert torch.equal(project_box(boxed), boxed)
    assert bool((project_box(x_adv, -0.5, 0.5).abs() <= 0.5).all())
    out = project_ball_and_box(x_adv, x, 0.8)
    assert bool(((out - x).flatten(1).norm(dim=1) <= 0.8 + 1e-6).all())
    assert bool((out >= 0).all() and (out <= 1).all())
    # first the ball, then the box (PGD-L2's projection); a second projection changes nothing
    expected = project_box(x + project_ball((x_adv - x).flatten(1), 0.8).view_as(x))
    assert torch.equal(out, expected)
    assert torch.allclose(project_ball_and_box(out, x, 0.8), out, atol=1e-6)
