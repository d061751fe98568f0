"""Half-space estimates of intrinsic robustness from below, checked where the answer is known exactly."""

import numpy as np
import pytest
import torch

from intrinsic_rob.core.errors import InputError
from intrinsic_rob.estimators.concentration import (
    gaussian_halfspace_robustness,
    generator_sampler,
    halfspace_robustness,
)
from intrinsic_rob.generators.affine import AffineGenerator
from intrinsic_rob.theory.bounds import robustness_bound

SIGMA = torch.tensor([0.3, 1.5, 0.3, 0.5, 0.3, 0.3, 0.2, 0.3])  # the widest direction: the second axis


def _gaussian(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(n, len(SIGMA), generator=g) * SIGMA, torch.zeros(n, dtype=torch.long)


def _two_classes(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, len(SIGMA), generator=g) * SIGMA
    x[:, 0] += 3.0 * y  # the classes sit apart along the first axis
    return x, y


def test_on_a_gaussian_the_estimate_finds_the_optimal_half_space():
    """For N(0, diag(sigma^2)) the half-space orthogonal to the widest axis is optimal (Lemma 4.2 after
    scaling), so 1 - mu(E_eps) has a closed form at the measured mu(E); the estimate finds that direction
    and that value, and its lower bound stays below Rob(F_alpha) itself."""
    alpha, eps = 0.05, [0.5, 1.0, 2.0]
    estimates = halfspace_robustness(_gaussian, alpha, eps, n_fit=5000, n_eval=60_000, seed=1, refine_steps=60)
    for est in estimates:
        assert len(est.halfspaces) == 1 and abs(est.halfspaces[0].direction[1]) > 0.98
        exact = gaussian_halfspace_robustness(est.measure, est.eps, float(SIGMA.max()))
        assert abs(est.robustness - exact) < 0.01
        assert est.in_class and est.measure >= alpha
        assert est.robustness_lower <= est.robustness
        assert est.robustness_lower <= gaussian_halfspace_robustness(alpha, est.eps, float(SIGMA.max()))


def test_on_an_affine_generator_the_bracket_closes():
    """An affine generator of scale s is a Gaussian of standard deviation s on its manifold, and s is its
    Lipschitz constant everywhere: Theorem 4.4's upper bound and the half-space's lower estimate meet."""
    gen = AffineGenerator(z_dim=4, image_shape=(1, 4, 4), num_classes=1, scale=0.2, seed=0)
    alpha = 0.1
    for est in halfspace_robustness(generator_sampler(gen), alpha, [0.1, 0.3], n_fit=4000, n_eval=60_000,
                                    refine_steps=40):
        upper = float(robustness_bound(alpha, est.eps, 0.2, radius=None).value)
        assert upper == pytest.approx(gaussian_halfspace_robustness(alpha, est.eps, 0.2), abs=1e-9)
        assert est.robustness_lower <= upper
        # the half-space holds a little more than alpha (the fit's margin): at its own measure, exact
        assert est.robustness == pytest.approx(gaussian_halfspace_robustness(est.measure, est.eps, 0.2), abs=0.01)


def test_per_class_holds_alpha_of_every_class():
    alpha = 0.05
    est, = halfspace_robustness(_two_classes, alpha, 1.0, n_fit=6000, n_eval=60_000, per_class=True,
                                refine_steps=20)
    x, y = _two_classes(100_000, torch.Generator().manual_seed(99))
    inside = est.contains(x)
    shares = [float(inside[y == c].double().mean()) for c in (0, 1)]
    assert min(shares) >= alpha - 0.005 and est.in_class
    whole, = halfspace_robustness(_two_classes, alpha, 1.0, n_fit=6000, n_eval=60_000, refine_steps=20)
    assert est.robustness <= whole.robustness + 0.005  # F~_alpha is the smaller class: a lower estimate no higher


def test_the_estimate_is_reproducible_and_leaves_the_random_state_alone():
    state = torch.get_rng_state()
    a = halfspace_robustness(_gaussian, 0.1, 1.0, n_fit=500, n_eval=2000, seed=3, refine_steps=5)[0]
    b = halfspace_robustness(_gaussian, 0.1, 1.0, n_fit=500, n_eval=2000, seed=3, refine_steps=5)[0]
    assert torch.equal(torch.get_rng_state(), state)
    assert a.as_row() == b.as_row()
    assert all(np.array_equal(s.direction, t.direction) for s, t in zip(a.halfspaces, b.halfspaces))


@pytest.mark.parametrize("kwargs, message", [
    (dict(alpha=0.0), "^alpha must be"),
    (dict(alpha=1.0), "^alpha must be"),
    (dict(eps=[1.0, -0.5]), "^eps must be"),
    (dict(eps=[]), "^eps must hold at least one value$"),
    (dict(confidence=1.0), "^confidence must be"),
    (dict(n_fit=1), "^n_fit must be"),
    (dict(alpha=1e-3, n_eval=50), "^n_fit = 500 and n_eval = 50 are too small to show a measure of alpha"),
])
def test_bad_settings_are_refused_in_one_line(kwargs, message):
    settings = dict(alpha=0.1, eps=1.0, n_fit=500, n_eval=1000, refine_steps=0) | kwargs
    alpha, eps = settings.pop("alpha"), settings.pop("eps")
    with pytest.raises(InputError, match=message) as info:
        halfspace_robustness(_gaussian, alpha, eps, **settings)
    assert "\n" not in str(info.value)


def test_a_sampler_that_returns_the_wrong_number_is_refused():
    def short(n, g):
        return torch.zeros(n - 1, 3), torch.zeros(n - 1, dtype=torch.long)

    with pytest.raises(InputError, match="^the sampler returned 499 images and 499 labels for n = 500$"):
        halfspace_robustness(short, 0.1, 1.0, n_fit=500, n_eval=1000)


def test_the_command_prints_the_bracket_and_writes_its_table(tmp_path, monkeypatch, quick_acgan_cache):
    import json
    import subprocess
    import sys

    import pandas as pd

    from intrinsic_rob.estimators.in_dist import generator_bounds
    from intrinsic_rob.pipeline.results import write_table
    from intrinsic_rob.pipeline.run import Run

    monkeypatch.setenv("INTRINSIC_ROB_RESULTS", str(tmp_path / "results"))
    base = [sys.executable, "-m", "intrinsic_rob.cli", "concentration", "--dataset", "mnist", "--profile", "quick",
            "--n-fit", "900", "--n-eval", "3000", "--no-progress"]
    proc = subprocess.run(base + ["--alpha", "0.1", "--eps", "1", "2"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert ("upper: none: no lipschitz_by_radius_mnist table (chapter 3 writes it) nor lipschitz_mnist_sample"
            in proc.stdout)
    table = pd.read_csv(tmp_path / "results" / "quick" / "concentration_mnist.csv")
    assert list(table["eps"]) == [1.0, 2.0] and (table["robustness_lower"] <= table["robustness"]).all()
    generator = table["generator"].iloc[0]
    run = Run.from_environment(tmp_path, "quick")
    # constants recorded for another generator give no upper bound for this one
    constants = pd.DataFrame({"method": ["sample", "gradient"] * 2, "class": [0, 0, 1, 1], "radius": 0.5,
                              "value": [3.0, 6.0, 4.0, 7.0], "num_samples": 1000, "delta": 0.001,
                              "generator": "another generator"})
    write_table(constants, "lipschitz_by_radius_mnist", run)
    proc = subprocess.run(base + ["--alpha", "0.1", "--eps", "1"], capture_output=True, text=True)
    assert "holds the constants of another generator" in proc.stdout
    # this generator's constants: Theorem 4.4's bound beside the estimate, per class, as JSON
    write_table(constants.assign(generator=generator), "lipschitz_by_radius_mnist", run)
    proc = subprocess.run(base + ["--alpha", "0.1", "--eps", "1", "--per-class", "--json"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    row, = out["rows"]
    assert out["per_class"] and out["upper_bound"]["sample"]["lmax"] == 4.0
    expected = generator_bounds(constants, 0.5, np.full(10, 0.1), per_class_risk=True)
    assert row["upper_sample"] == pytest.approx(expected["sample"].curve(0.1, 1.0))
    assert (tmp_path / "results" / "quick" / "concentration_mnist_per_class.csv").is_file()
    for flags, message in ((["--alpha", "1.5", "--eps", "1"], "alpha must be"),
                           (["--alpha", "0.1", "--eps", "-1"], "eps must be"),
                           (["--alpha", "0.1", "--confidence", "0.2"], "confidence must be")):
        bad = subprocess.run(base + flags, capture_output=True, text=True)
        assert bad.returncode == 2 and bad.stderr.strip().startswith(f"intrinsic-rob: error: {message}"), bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1


def test_the_command_takes_the_recorded_constants_of_its_generator_at_several_alphas(tmp_path, monkeypatch,
                                                                                     quick_acgan_cache):
    """Without chapter 3's table, ``intrinsic-rob lipschitz``'s per-estimate tables give the upper bound, each row
    at its own alpha; constants whose provenance names other weights (sha256) give none."""
    import subprocess
    import sys

    import pandas as pd

    from intrinsic_rob.estimators.in_dist import generator_bounds
    from intrinsic_rob.pipeline.results import module_digest, write_table
    from intrinsic_rob.pipeline.run import Run

    monkeypatch.setenv("INTRINSIC_ROB_RESULTS", str(tmp_path / "results"))
    base = [sys.executable, "-m", "intrinsic_rob.cli", "concentration", "--dataset", "mnist", "--profile", "quick",
            "--n-fit", "900", "--n-eval", "3000", "--no-progress", "--alpha", "0.1", "0.2", "--eps", "1", "2"]
    run = Run.from_environment(tmp_path, "quick")
    described = subprocess.run(base, capture_output=True, text=True)
    assert described.returncode == 0, described.stderr
    generator = pd.read_csv(tmp_path / "results" / "quick" / "concentration_mnist.csv")["generator"].iloc[0]
    tables = {m: pd.DataFrame({"method": m, "class": [0, 1, 0, 1], "trial": [0, 0, 1, 1], "radius": 0.5,
                               "value": v, "num_samples": 300, "delta": 0.001, "generator": generator})
              for m, v in (("sample", [3.0, 3.5, 3.2, 3.1]), ("gradient", [8.0, 9.0, 8.5, 7.0]))}
    for m, t in tables.items():
        write_table(t, f"lipschitz_mnist_{m}", run, extra={"generator_sha256": "0" * 64})
    proc = subprocess.run(base, capture_output=True, text=True)
    assert "lipschitz_mnist_sample holds the constants of another generator" in proc.stdout
    for m, t in tables.items():
        write_table(t, f"lipschitz_mnist_{m}", run, extra={"generator_sha256": module_digest(quick_acgan_cache)})
    proc = subprocess.run(base, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(tmp_path / "results" / "quick" / "concentration_mnist.csv")
    assert list(zip(table["alpha"], table["eps"])) == [(0.1, 1.0), (0.1, 2.0), (0.2, 1.0), (0.2, 2.0)]
    expected = generator_bounds(pd.concat(tables.values()), 0.5, np.full(10, 0.1))
    assert expected["sample"].lmax == 3.5 and expected["gradient"].lmax == 9.0
    for row in table.itertuples():
        for m in ("sample", "gradient"):
            assert getattr(row, f"upper_{m}") == pytest.approx(expected[m].curve(row.alpha, row.eps))


def test_per_class_membership_needs_every_class_lower_bound():
    """With a rare class, its lower bound, not the smallest share, decides membership in F~_alpha."""
    from intrinsic_rob.estimators.in_dist import clopper_pearson

    def unequal(n, g):
        y = (torch.rand(n, generator=g) < 0.02).long()  # class 1 is rare
        x = torch.randn(n, len(SIGMA), generator=g) * SIGMA
        x[:, 0] += 3.0 * y
        return x, y

    est, = halfspace_robustness(unequal, 0.05, 1.0, n_fit=30_000, n_eval=40_000, per_class=True, refine_steps=0,
                                batch=40_000)
    x, y = unequal(40_000, torch.Generator().manual_seed(int(np.random.SeedSequence(0).generate_state(2)[1])))
    inside = est.contains(x)
    # the two class bounds and the expansion's hold together at 95%: each class's at 1 - 0.05 / 2, two-sided
    lows = [clopper_pearson(int(inside[y == c].sum()), int((y == c).sum()), 0.975)[0] for c in (0, 1)]
    assert est.measure_lower == pytest.approx(min(lows))  # the evaluation sample is its stream's one draw
    assert est.in_class == (min(lows) >= 0.05)


def test_per_class_counts_are_the_unions_on_the_fresh_sample():
    """F~_alpha's region is the union of its half-spaces: every class's share and the expansion are counted on the
    union (a class's own half-space alone, or its own eps, would count less), at each region's own eps."""
    from intrinsic_rob.estimators.concentration import class_confidence
    from intrinsic_rob.estimators.in_dist import clopper_pearson

    n = 20_000
    estimates = halfspace_robustness(_two_classes, [0.05, 0.2], [0.5, 2.0], n_fit=3000, n_eval=n, seed=0,
                                     per_class=True, refine_steps=0, batch=n)
    x, y = _two_classes(n, torch.Generator().manual_seed(int(np.random.SeedSequence(0).generate_state(2)[1])))
    for est in estimates:
        assert len(est.halfspaces) == 2
        assert round(est.expansion * n) == int(est.contains(x, est.eps).sum())
        inside = est.contains(x)
        assert est.measure_lower == pytest.approx(min(
            clopper_pearson(int(inside[y == c].sum()), int((y == c).sum()), class_confidence(0.95, 2))[0]
            for c in (0, 1)))
    own = estimates[0].halfspaces[0].projections(x) >= estimates[0].halfspaces[0].offset
    assert int(own[y == 1].sum()) < int(estimates[0].contains(x)[y == 1].sum())  # the union holds more


def test_a_class_too_rare_in_the_fit_sample_is_refused():
    def rare(n, g):
        x, y = _two_classes(n, g)
        y[:] = 0
        y[0] = 1  # one example of class 1, in the directions' part of the fit sample
        return x, y

    with pytest.raises(InputError, match=r"^n_fit = 600 leaves class\(es\) \[1\] too few examples to fit a "
                                         r"half-space on: raise n_fit$"):
        halfspace_robustness(rare, 0.1, 1.0, n_fit=600, n_eval=2000, per_class=True, refine_steps=0)


def test_a_class_missing_from_the_evaluation_sample_is_refused():
    def vanishing(n, g):
        x, y = _two_classes(n, g)
        return x, (y if n > 1000 else torch.zeros_like(y))  # the evaluation's small batches: class 0 only

    with pytest.raises(InputError, match=r"^n_eval = 2000 drew no example of class\(es\) \[1\]: raise n_eval$"):
        halfspace_robustness(vanishing, 0.1, 1.0, n_fit=3000, n_eval=2000, per_class=True, batch=500,
                             refine_steps=0)


def test_the_bounds_are_clopper_pearson_ends_at_the_stated_confidence():
    from intrinsic_rob.estimators.in_dist import clopper_pearson

    est, = halfspace_robustness(_gaussian, 0.1, 0.5, n_fit=2000, n_eval=5000, seed=4, refine_steps=0)
    expanded, inside = round(est.expansion * 5000), round(est.measure * 5000)
    assert est.robustness_lower == pytest.approx(1 - clopper_pearson(expanded, 5000, 0.95)[1])
    assert est.measure_lower == pytest.approx(clopper_pearson(inside, 5000, 0.95)[0])
    assert est.as_row()["alpha_shown"] == est.measure_lower


def test_several_alphas_share_the_images_and_match_one_alpha_at_a_time():
    """Each alpha's half-spaces are fitted and counted as if it were asked for alone (same fit sample, same
    fresh sample): further alphas cost fitting, not images, and rows never swap alphas or eps."""
    both = halfspace_robustness(_gaussian, [0.05, 0.2], [0.5, 1.0], n_fit=1500, n_eval=6000, seed=2,
                                refine_steps=10)
    assert [(e.alpha, e.eps) for e in both] == [(0.05, 0.5), (0.05, 1.0), (0.2, 0.5), (0.2, 1.0)]
    for alpha in (0.05, 0.2):
        alone = halfspace_robustness(_gaussian, alpha, [0.5, 1.0], n_fit=1500, n_eval=6000, seed=2,
                                     refine_steps=10)
        assert [e.as_row() for e in alone] == [e.as_row() for e in both if e.alpha == alpha]
    low, high = both[1], both[3]
    assert high.measure > low.measure and high.robustness < low.robustness  # a larger error region expands more


def _toy_sampler(model):
    def sample(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.multinomial(torch.as_tensor(model.class_probs), n, replacement=True, generator=g)
        z = torch.randn(n, model.z_dim, generator=g, dtype=torch.float64).numpy()
        x = np.zeros((n, model.centers.shape[1]))
        for label in range(model.num_classes):
            rows = (y == label).numpy()
            x[rows] = model.generate(z[rows], label)
        return torch.from_numpy(x), y

    return sample


@pytest.mark.parametrize("per_class", [False, True])
def test_on_the_toy_conditional_model_the_estimate_stays_below_the_exact_bound(per_class):
    """Chapter 1's model: affine Gaussian class manifolds far apart, each g_i globally L_i-Lipschitz (delta = 0),
    so Theorem 4.4 holds exactly there; per class (F~_alpha) it is attained by half-spaces along each class's
    top singular direction, the union the per-class estimate fits. The lower estimate's lower bound never
    exceeds it, and at the share its region holds the estimate is within two points of it, in both forms."""
    from intrinsic_rob.theory.toy import make_linear_model

    model = make_linear_model(3, 4, rng=np.random.default_rng(0), separation=20.0)
    alpha, eps = 0.1, [0.25, 0.5]
    lipschitz = model.lipschitz()
    for est in halfspace_robustness(_toy_sampler(model), alpha, eps, n_fit=6000, n_eval=60_000, seed=5,
                                    per_class=per_class, refine_steps=60):
        def exact(a: float) -> float:
            return float(robustness_bound(a, est.eps, lipschitz, radius=None, class_probs=model.class_probs,
                                          per_class_risk=per_class, per_class_lipschitz=True).value)

        assert est.in_class
        assert est.robustness_lower <= exact(alpha)
        # the region holds a little more than alpha (the fit's margin): at its own (smallest) share, near exact
        assert exact(est.measure) - 0.02 < est.robustness < exact(est.measure) + 0.01
        assert len(est.halfspaces) == (model.num_classes if per_class else 1)
