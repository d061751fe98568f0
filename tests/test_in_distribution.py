"""The in-distribution attack (5.2): closed forms on an affine generator, real distances, per-example search."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from intrinsic_rob.attacks import (
    cw_margin,
    fit_latent,
    in_distribution_attack,
    in_distribution_robustness,
    not_class_cross_entropy,
)
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.generators.affine import AffineGenerator

from .models import two_class_linear

SHAPE = (1, 8, 8)


def _on_manifold_examples(gen: AffineGenerator, clf: nn.Module, n: int, seed: int) -> tuple:
    """Latents z0 and labels y with x = G(z0, y) classified as y."""
    z0 = torch.randn(n, gen.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        y = clf(gen(z0, torch.zeros(n, dtype=torch.long))).argmax(1)
        x = gen(z0, y)
        keep = clf(x).argmax(1) == y
    return z0[keep], y[keep], x[keep]


def _setup(n: int = 40, seed: int = 0):
    gen = AffineGenerator(z_dim=4, image_shape=SHAPE, num_classes=2, scale=0.1, seed=seed)
    w = torch.randn(64, generator=torch.Generator().manual_seed(seed + 1))
    clf = two_class_linear(w, -0.5 * float(w.sum()))
    z0, y, x = _on_manifold_examples(gen, clf, n, seed + 2)
    return gen, clf, w, z0, y, x


def test_linear_generator_and_classifier_closed_form():
    gen, clf, w, z0, y, x = _setup()
    margin = (x.flatten(1) @ w - 0.5 * float(w.sum())).abs()
    closed = margin / (gen.basis.T @ w).norm()  # the nearest misclassified point of the affine manifold
    res = in_distribution_attack(gen, clf, x, y, z_init=z0, max_iterations=1500, search_steps=4)
    assert torch.isfinite(res.distance).all()
    assert bool((res.distance >= closed - 1e-4).all())
    within = (res.distance <= 1.05 * closed).float().mean()
    assert within >= 0.9, float(within)
    with torch.no_grad():
        assert torch.allclose(res.x_adv, gen(res.z, y), atol=1e-6)
        logits = clf(res.x_adv)
    # Every image is misclassified, or lies on the decision boundary within float rounding: the attack
    # judged it in its own batch, and a batch of another size rounds the logits' last bits differently
    # (on CPUs with AVX-512 and AMX this flipped points whose two logits differed by 1e-5).
    true = logits.gather(1, y[:, None])[:, 0]
    other = logits.masked_fill(torch.nn.functional.one_hot(y, logits.shape[1]).bool(), -float("inf")).max(1).values
    assert bool((other - true >= -1e-4).all())
    assert float((logits.argmax(1) != y).float().mean()) >= 0.8


def _three_class_mlp(n: int = 24) -> tuple:
    """An affine generator of 3 classes, a small tanh network, latents z0, labels y and images x = G(z0, y)."""
    torch.manual_seed(0)
    gen = AffineGenerator(z_dim=6, image_shape=SHAPE, num_classes=3, scale=0.2, seed=3)
    clf = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 3))
    z0 = torch.randn(n, 6)
    y = torch.arange(n) % 3
    with torch.no_grad():
        x = gen(z0, y).clamp(0, 1)
    return gen, clf, z0, y, x


def test_every_reported_distance_is_recomputed_from_z():
    gen, clf, z0, y, x = _three_class_mlp()
    res = in_distribution_attack(gen, clf, x, y, z_init=z0, max_iterations=400, search_steps=3)
    found = torch.isfinite(res.distance) & (res.distance > 0)
    assert bool(found.any())
    with torch.no_grad():
        image = gen(res.z, y)
        again = (image - x).flatten(1).norm(dim=1)
        assert torch.allclose(again[found], res.distance[found], atol=1e-5)
        assert bool((clf(image[found]).argmax(1) != y[found]).all())
        assert torch.equal(res.x_adv[found], image[found]) or torch.allclose(res.x_adv[found], image[found], atol=1e-6)


class _Constant(nn.Module):
    """Predicts class 0 whatever the input (logits (5, 0))."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tensor([5.0, 0.0]).expand(x.shape[0], 2) + 0 * x.flatten(1)[:, :1]


def test_already_wrong_is_zero_and_unreachable_is_inf():
    gen = AffineGenerator(z_dim=2, image_shape=SHAPE, num_classes=2, seed=0)
    z0 = torch.zeros(4, 2)
    y = torch.tensor([0, 1, 0, 1])
    x = gen(z0, y)
    res = in_distribution_attack(gen, _Constant(), x, y, z_init=z0, max_iterations=50, search_steps=2)
    assert res.distance.tolist() == [float("inf"), 0.0, float("inf"), 0.0]
    assert torch.equal(res.x_adv[1::2], x[1::2])
    assert in_distribution_robustness(res, 1.0) == 0.5


def test_one_hard_example_does_not_change_an_easy_one():
    gen, clf, w, z0, y, x = _setup(n=40)
    margin = (x.flatten(1) @ w - 0.5 * float(w.sum())).abs()
    easy, hard = int(margin.argmin()), int(margin.argmax())
    kwargs = dict(max_iterations=600, search_steps=3)
    alone = in_distribution_attack(gen, clf, x[[easy]], y[[easy]], z_init=z0[[easy]], **kwargs)
    both = in_distribution_attack(gen, clf, x[[easy, hard]], y[[easy, hard]], z_init=z0[[easy, hard]], **kwargs)
    assert both.distance[0] == pytest.approx(float(alone.distance[0]), rel=1e-4)
    assert torch.allclose(both.z[0], alone.z[0], atol=1e-4)
    assert both.lam[0] == pytest.approx(float(alone.lam[0]))


def test_early_stop_uses_fewer_evaluations_than_the_fixed_schedule():
    gen, clf, _, z0, y, x = _setup(n=20)
    kwargs = dict(max_iterations=2000, search_steps=2)
    quick = in_distribution_attack(gen, clf, x, y, z_init=z0, **kwargs)
    fixed = in_distribution_attack(gen, clf, x, y, z_init=z0, early_stop=False, **kwargs)
    assert fixed.evaluations == 2 * 2000 * x.shape[0]
    assert quick.evaluations < fixed.evaluations


def test_an_early_stopped_round_is_a_prefix_of_the_fixed_round():
    """With one lambda, early stopping only cuts each example's trajectory short: dropping finished rows
    must leave the others' iterates (and Adam moments) as they were, so no example ends closer than the
    fixed schedule takes it, and a window longer than the round changes nothing at all."""
    gen = AffineGenerator(z_dim=6, image_shape=SHAPE, num_classes=3, scale=0.2, seed=3)
    torch.manual_seed(0)
    clf = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 3))
    z0 = torch.randn(24, 6, generator=torch.Generator().manual_seed(1))
    y = torch.arange(24) % 3
    with torch.no_grad():
        x = gen(z0, y).clamp(0, 1)
    kwargs = dict(z_init=z0, max_iterations=300, search_steps=1, lambda_init=20.0)
    fixed = in_distribution_attack(gen, clf, x, y, early_stop=False, **kwargs)
    early = in_distribution_attack(gen, clf, x, y, check_every=10, tolerance=0.01, **kwargs)
    never = in_distribution_attack(gen, clf, x, y, check_every=301, **kwargs)
    assert early.evaluations < fixed.evaluations == never.evaluations
    assert bool(torch.isfinite(fixed.distance).any())
    assert bool((early.distance >= fixed.distance - 1e-5).all())
    assert torch.equal(never.distance, fixed.distance) and torch.equal(never.z, fixed.z)
    # each example stopped at a check (every 10 iterations): its distance is the fixed round's best so far there
    cuts = torch.stack([in_distribution_attack(gen, clf, x, y, early_stop=False, **{**kwargs, "max_iterations": t})
                        .distance for t in range(10, 301, 10)])
    matches = torch.isclose(cuts, early.distance.expand_as(cuts), rtol=1e-5, atol=1e-6) | (
        torch.isinf(cuts) & torch.isinf(early.distance))
    assert bool(matches.any(0).all()), early.distance[~matches.any(0)]


def test_optimised_and_recorded_initialisations():
    gen, clf, _, z0, y, x = _setup(n=10)
    z, dist = fit_latent(gen, x, y, steps=400, restarts=2, lr=0.05)
    assert bool((dist < 1e-2).all())
    recorded = in_distribution_attack(gen, clf, x, y, z_init="recorded", recorded_z=z0, max_iterations=300,
                                      search_steps=2)
    given = in_distribution_attack(gen, clf, x, y, z_init=z0, max_iterations=300, search_steps=2)
    assert torch.equal(recorded.distance, given.distance)
    optimised = in_distribution_attack(gen, clf, x, y, z_init="optimised", max_iterations=300, search_steps=2,
                                       fit_steps=400, fit_restarts=2)
    assert optimised.evaluations > given.evaluations  # the latent fit's generator passes count


def test_modes_and_random_state_are_left_alone():
    gen, clf, _, z0, y, x = _setup(n=6)
    clf.train()
    gen.train()
    state = torch.get_rng_state()
    flags = [p.requires_grad for p in clf.parameters()]
    in_distribution_attack(gen, clf, x, y, z_init="optimised", max_iterations=20, search_steps=1, fit_steps=10)
    assert torch.equal(torch.get_rng_state(), state)
    assert clf.training and gen.training
    assert [p.requires_grad for p in clf.parameters()] == flags
    assert all(p.grad is None for p in clf.parameters())


def test_losses():
    logits = torch.tensor([[3.0, 1.0, 0.0], [0.0, 2.0, 1.0]])
    y = torch.tensor([0, 0])
    assert cw_margin(logits, y).tolist() == [2.0, 0.0]
    assert cw_margin(logits, y, kappa=1.5).tolist() == [2.0, -1.5]
    p = torch.softmax(logits, 1)[:, 0]
    assert torch.allclose(not_class_cross_entropy(logits, y), -torch.log1p(-p))


@pytest.mark.parametrize("change, message", [
    (dict(lr=0.0), "lr must be > 0"),
    (dict(search_steps=0), "search_steps must be >= 1"),
    (dict(x_scale=2.0), "x must lie in [0, 1]"),
    (dict(label=5), "y must be labels in 0..1"),
    (dict(z_init=torch.zeros(3, 7)), "z_init must have shape (B, z_dim)"),
    (dict(z_init="recorded"), 'z_init="recorded" needs recorded_z'),
    (dict(z_init="random"), "z_init must be a (B, z_dim) tensor or one of"),
    (dict(loss="hinge"), "loss must be one of"),
])
def test_bad_input_is_a_clear_error(change, message):
    gen, clf, _, z0, y, x = _setup(n=6)
    n = x.shape[0]
    x = x * change.pop("x_scale", 1.0)
    if "label" in change:
        y = y.clone()
        y[0] = change.pop("label")
    kwargs = dict(z_init=z0, max_iterations=5, search_steps=1)
    kwargs.update(change)
    with pytest.raises(InputError) as err:
        in_distribution_attack(gen, clf, x, y, **kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert n == z0.shape[0]


def test_a_constant_classifier_sits_on_the_bound_never_above_it():
    """A classifier that always answers one class has risk 1 - p_c and robustness p_c at every eps: the
    F_alpha bound, solved exactly, must allow it for any L (it is the tight corner of (A.4))."""
    import numpy as np

    from intrinsic_rob.estimators.in_dist import bound_curve

    probs = np.full(10, 0.1)
    for lip in (0.5, 3.0, 10.0):
        for radius in (0.5, None):
            curve = bound_curve(lip, radius=radius, delta=0.0, class_probs=probs)
            for eps in (0.5, 3.0):
                assert curve(0.9, eps) >= 0.1 - 1e-12


def test_remark46_verdicts_account_for_kind_and_sampling_error():
    import pandas as pd

    from intrinsic_rob.estimators.in_dist import NOT_ABOVE, VERDICTS, clopper_pearson, remark46_test

    flat = {"flat 0.3": lambda alpha, eps: 0.3}
    rows = [dict(label="far above, certified", kind="certified", value=0.5, value_n=1000),
            dict(label="far above, measured", kind="measured", value=0.5, value_n=1000),
            dict(label="within the error", kind="certified", value=0.32, value_n=100),
            dict(label="below", kind="certified", value=0.2, value_n=1000)]
    points = pd.DataFrame([{**r, "eps": 1.0, "risk": 0.1, "risk_n": 1000} for r in rows])
    verdicts = remark46_test(points, flat)["verdict"].tolist()
    assert verdicts == [VERDICTS["certified"], VERDICTS["measured"], NOT_ABOVE, NOT_ABOVE]
    low, high = clopper_pearson(32, 100, 0.95)
    assert low < 0.3 < high
    with pytest.raises(InputError, match="kind must be one of"):
        remark46_test(points.assign(kind="guessed"), flat)


def test_fitted_latents_are_solved_once_and_cached(tmp_path, monkeypatch):
    from intrinsic_rob import attacks
    from intrinsic_rob.estimators.in_dist import InDistSettings, fitted_latents

    gen, _, _, _, y, x = _setup(n=6)
    settings = InDistSettings(fit_steps=40, fit_restarts=2)
    direct = attacks.fit_latent(gen, x, y, steps=40, restarts=2, lr=settings.lr, seed=3)
    first = fitted_latents(gen, x, y, settings, seed=3, description="affine test", group="test", artifacts=tmp_path)
    assert torch.equal(first[0], direct[0]) and torch.equal(first[1], direct[1])
    calls = []
    monkeypatch.setattr(attacks, "fit_latent", lambda *a, **k: calls.append(1))
    again = fitted_latents(gen, x, y, settings, seed=3, description="affine test", group="test", artifacts=tmp_path)
    assert not calls and torch.equal(again[0], first[0]) and torch.equal(again[1], first[1])  # loaded, not solved
    folders = sorted(p.name for p in (tmp_path / "test").iterdir())
    assert len(folders) == 1 and folders[0].startswith("latent-fit-")
    monkeypatch.undo()
    fitted_latents(gen, x[:5], y[:5], settings, seed=3, description="affine test", group="test",
                   artifacts=tmp_path)  # other digits
    fitted_latents(gen, x, y, settings, seed=4, description="affine test", group="test",
                   artifacts=tmp_path)  # another seed
    assert len(list((tmp_path / "test").iterdir())) == 3
