"""The augmented-Lagrangian in-distribution attack: closed forms, real distances, best-so-far traces, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from intrinsic_rob.attacks.latent_min_norm import (latent_min_norm_attack, margin_constraint, phr_penalty)
from intrinsic_rob.errors import InputError
from intrinsic_rob.generators.affine import AffineGenerator

from .test_in_distribution import SHAPE, _Constant, _setup, _three_class_mlp


def _closed(gen, w, x):
    """The distance from x to the nearest misclassified image of the affine manifold (a linear boundary)."""
    margin = (x.flatten(1) @ w - 0.5 * float(w.sum())).abs()
    return margin / (gen.basis.T @ w).norm()


@pytest.mark.parametrize("seed", [0, 1])
def test_affine_generator_linear_classifier_closed_form(seed):
    gen, clf, w, z0, y, x = _setup(n=80, seed=seed)
    closed = _closed(gen, w, x)
    res = latent_min_norm_attack(gen, clf, x, y, z_init=z0, budget=1000)
    assert torch.isfinite(res.distance).all()
    assert bool((res.distance >= closed - 1e-4).all())  # never below the truth
    within = float((res.distance <= 1.01 * closed).float().mean())
    assert within >= 0.95, within
    assert res.evaluations == 1000 * x.shape[0]


def test_distances_are_measured_on_the_returned_misclassified_images():
    gen, clf, z0, y, x = _three_class_mlp()
    with torch.no_grad():
        wrong = clf(x).argmax(1) != y
    res = latent_min_norm_attack(gen, clf, x, y, z_init=z0, budget=1000)
    found = torch.isfinite(res.distance) & (res.distance > 0)
    assert bool(found.any())
    assert bool((res.distance[wrong] == 0).all()) and torch.equal(res.x_adv[wrong], x[wrong])
    with torch.no_grad():
        image = gen(res.z, y)
        assert torch.allclose((image - x).flatten(1).norm(dim=1)[found], res.distance[found], atol=1e-5)
        assert torch.allclose(res.x_adv[found], image[found], atol=1e-6)
        # misclassified by the margin tau, so a batch of any other size agrees
        for size in (1, 7):
            for start in range(0, 24, size):
                part = slice(start, start + size)
                picked = found[part]
                if picked.any():
                    assert bool((clf(res.x_adv[part][picked]).argmax(1) != y[part][picked]).all())


def test_unreachable_is_inf_and_the_trace_never_rises():
    gen = AffineGenerator(z_dim=2, image_shape=SHAPE, num_classes=2, seed=0)
    z0 = torch.zeros(4, 2)
    y = torch.tensor([0, 1, 0, 1])
    x = gen(z0, y)
    res = latent_min_norm_attack(gen, _Constant(), x, y, z_init=z0, budget=50)
    assert res.distance.tolist() == [float("inf"), 0.0, float("inf"), 0.0]

    gen, clf, w, z0, y, x = _setup(n=30)
    marks = (10, 50, 100, 400)
    res = latent_min_norm_attack(gen, clf, x, y, z_init=z0, budget=400, trace_at=marks)
    assert res.trace_budgets == marks and tuple(res.trace.shape) == (4, x.shape[0])
    assert bool((res.trace[1:] <= res.trace[:-1]).all())  # best-so-far: non-increasing in the budget
    assert torch.equal(res.trace[-1], res.distance)  # the last mark is the returned distance
    # deterministic: the same run asked for one mark gives the same numbers there
    again = latent_min_norm_attack(gen, clf, x, y, z_init=z0, budget=400, trace_at=(100,))
    assert torch.equal(again.trace[0], res.trace[2])


def test_runs_follow_one_another_and_each_starts_afresh():
    """The budget is spent in runs of run_length steps, one after another, each from the initial latent."""
    from intrinsic_rob.attacks.latent_min_norm import RUN_SCHEDULE

    gen, clf, z0, y, x = _three_class_mlp()
    long = latent_min_norm_attack(gen, clf, x, y, z_init=z0, budget=300, run_length=100, trace_at=(100, 200, 300))
    short = latent_min_norm_attack(gen, clf, x, y, z_init=z0, budget=200, run_length=100)
    assert torch.equal(long.trace[1], short.distance)  # a longer budget reads a shorter one exactly
    first = latent_min_norm_attack(gen, clf, x, y, z_init=z0, budget=100, run_length=100)
    assert torch.equal(long.trace[0], first.distance)
    # the second run starts from z0 with the second settings: alone, it is a one-run attack with them
    mu, lr, reduction = RUN_SCHEDULE[1]
    second = latent_min_norm_attack(gen, clf, x, y, z_init=z0, budget=100, run_length=100, mu_init=1.0 * mu,
                                    lr_init=0.1 * lr, lr_reduction=min(1.0, 0.01 * reduction))
    assert torch.equal(long.trace[1], torch.minimum(first.distance, second.distance))
    assert bool((long.distance <= first.distance).all())


def test_modes_and_random_state_are_left_alone():
    gen, clf, w, z0, y, x = _setup(n=10)
    clf.train()
    state = torch.get_rng_state()
    latent_min_norm_attack(gen, clf, x, y, z_init=z0, budget=20)
    assert clf.training and torch.equal(torch.get_rng_state(), state)
    assert all(p.grad is None for p in clf.parameters())


@pytest.mark.parametrize("kwargs, match", [
    ({"budget": 0}, "budget"),
    ({"lr_init": float("nan")}, "lr_init"),
    ({"lr_init": float("inf")}, "lr_init"),
    ({"lr_reduction": 0.0}, "lr_reduction"),
    ({"rho_growth": 0.5}, "rho_growth"),
    ({"tau": -1.0}, "tau"),
    ({"trace_at": (0,)}, "trace_at"),
    ({"trace_at": (11,)}, "trace_at"),
    ({"z_init": "nowhere"}, "z_init"),
])
def test_bad_settings_are_one_line_errors(kwargs, match):
    gen, clf, w, z0, y, x = _setup(n=4)
    settings = {"z_init": z0, "budget": 10, **kwargs}
    with pytest.raises(InputError, match=match) as err:
        latent_min_norm_attack(gen, clf, x, y, **settings)
    assert "\n" not in str(err.value)


def test_penalty_and_constraint_pieces():
    c = torch.tensor([-3.0, -0.5, 0.0, 1.0])
    rho, mu = torch.full((4,), 2.0), torch.full((4,), 1.0)
    # P = (max(0, mu + rho c)^2 - mu^2) / (2 rho): flat -mu^2/(2 rho) once mu + rho c <= 0
    assert phr_penalty(c, rho, mu).tolist() == [-0.25, -0.25, 0.0, 2.0]
    c.requires_grad_(True)
    (grad,) = torch.autograd.grad(phr_penalty(c, rho, mu).sum(), c)
    assert grad.tolist() == [0.0, 0.0, 1.0, 3.0]  # max(0, mu + rho c)
    logits = torch.tensor([[1.0, 3.0, 2.0], [5.0, 1.0, 1.0]])
    assert margin_constraint(logits, torch.tensor([1, 0]), 0.0).tolist() == [1.0, 4.0]
    assert margin_constraint(logits, torch.tensor([2, 1]), 0.25).tolist() == [-0.75, -3.75]
