"""The augmented-Lagrangian in-distribution attack: closed forms, real distances, best-so-far traces, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from intrinsic_rob.attacks.latent_min_norm import latent_min_norm_attack, margin_constraint, phr_penalty
from intrinsic_rob.core.errors import InputError
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


def test_the_plan_spends_the_budget_exploring_then_refining():
    from intrinsic_rob.attacks.latent_min_norm import REFINE_SCHEDULE, RUN_SCHEDULE, run_plan

    for budget, run_length, share in [(1, 1, 0.3), (1000, 1500, 0.3), (10_000, 1500, 0.3), (4001, 1000, 0.1),
                                      (300, 100, 0.0), (7, 2, 0.5)]:
        plan = run_plan(budget, run_length, share)
        assert sum(r.steps for r in plan) == budget and all(r.steps >= 1 for r in plan)
        explore = [r for r in plan if not r.from_best]
        refine = [r for r in plan if r.from_best]
        assert plan[: len(explore)] == tuple(explore)  # exploring first, refining last
        assert all(r.steps <= run_length for r in explore)
        assert [(r.mu_factor, r.lr_factor, r.reduction_factor) for r in explore] == \
            [RUN_SCHEDULE[k % len(RUN_SCHEDULE)] for k in range(len(explore))]
        assert [(r.mu_factor, r.lr_factor, r.reduction_factor) for r in refine] == list(REFINE_SCHEDULE[:len(refine)])
        if budget <= run_length or share == 0:
            assert not refine
        else:
            assert sum(r.steps for r in refine) == round(budget * share)
    with pytest.raises(InputError, match="refine_share") as err:
        run_plan(100, 10, 1.0)
    assert "\n" not in str(err.value)


def test_runs_follow_one_another_and_refining_starts_from_the_best_point():
    """Exploring runs start afresh from z0; refining runs from each example's best latent so far."""
    from intrinsic_rob.attacks.latent_min_norm import RUN_SCHEDULE

    gen, clf, w, z0, y, x = _setup(n=20)
    # without refining, a longer budget reads a shorter one exactly, and run 2 is a one-run attack with its settings
    long = latent_min_norm_attack(gen, clf, x, y, z_init=z0, budget=300, run_length=100, refine_share=0.0,
                                  trace_at=(100, 200, 300))
    short = latent_min_norm_attack(gen, clf, x, y, z_init=z0, budget=200, run_length=100, refine_share=0.0)
    assert torch.equal(long.trace[1], short.distance)
    first = latent_min_norm_attack(gen, clf, x, y, z_init=z0, budget=100, run_length=100)
    assert torch.equal(long.trace[0], first.distance)
    mu, lr, reduction = RUN_SCHEDULE[1]
    second = latent_min_norm_attack(gen, clf, x, y, z_init=z0, budget=100, run_length=100, mu_init=1.0 * mu,
                                    lr_init=0.1 * lr, lr_reduction=min(1.0, 0.01 * reduction))
    assert torch.equal(long.trace[1], torch.minimum(first.distance, second.distance))
    assert bool(torch.isfinite(first.distance).all()) and not torch.equal(first.distance, second.distance)

    # the first refining step evaluates the best latents the exploring run found (z0 where none)
    seen = []

    class Logged(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner, self.z_dim, self.num_classes = inner, inner.z_dim, inner.num_classes

        def forward(self, z, labels):
            seen.append(z.detach().clone())
            return self.inner(z, labels)

    explored = latent_min_norm_attack(gen, clf, x, y, z_init=z0, budget=300, run_length=300)
    with torch.no_grad():
        attacked = clf(x).argmax(1) == y
    refined = latent_min_norm_attack(Logged(gen), clf, x, y, z_init=z0, budget=400, run_length=300,
                                     refine_share=0.25)
    first_refining = seen[len(seen) - 100]  # the last 100 calls are the refining steps
    start = torch.where(torch.isfinite(explored.distance)[:, None], explored.z, z0)[attacked]
    assert bool(torch.isfinite(explored.distance[attacked]).all()) and not torch.equal(start, z0[attacked])
    assert torch.equal(first_refining, start)
    assert bool((refined.distance <= explored.distance).all())


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
