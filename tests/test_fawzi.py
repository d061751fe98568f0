"""The value of the Fawzi et al. (2018) per-class bound, not only its end points.

``fawzi_robustness_bound_general(eps, L, p)`` = sum_i [1 - Phi(Phi^-1(1 - p_i) + eps / L)]
bounds the fraction of generated points x = G(z), z ~ N(0, I), whose prediction is
unchanged on the l2 ball of radius eps, for an L-Lipschitz generator G and a classifier
with class probabilities p_i. It is checked here against

* scipy.stats.norm and math.erfc (an independent evaluation of the formula),
* Monte Carlo over a linear generator G(z) = L U z (U with orthonormal columns, so G is
  exactly L-Lipschitz) and a classifier whose classes are intervals of <w, x>: with two
  classes (two half-spaces) the bound is attained, with three it is strict,
* the simplified bound sqrt(pi / 2) exp(-(eps / L)^2 / 2), which it never exceeds when
  no class has probability above 1/2.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from intrinsic_rob.theory import bounds

UNIFORM = np.full(10, 0.1)
SKEWED = np.array([0.4, 0.25, 0.15, 0.1, 0.06, 0.04])
DOMINANT = np.array([0.9, 0.1])  # one class above 1/2: outside Fawzi et al.'s proviso
ETAS = np.array([0.05, 0.3, 0.672, 1.0, 1.7, 2.5, 4.0])  # interior values of eps / L


def reference(eps: float, lipschitz: float, probs: np.ndarray) -> float:
    """sum_i P(g > Phi^-1(1 - p_i) + eps / L) for g ~ N(0, 1), from scipy.stats.norm."""
    return float(sum(norm.sf(norm.isf(p) + eps / lipschitz) for p in probs))


# --- the value ----------------------------------------------------------------------


@pytest.mark.parametrize("probs", [UNIFORM, SKEWED, DOMINANT], ids=["uniform", "skewed", "dominant"])
@pytest.mark.parametrize("lipschitz", [1.0, 5.94, 27.01])
def test_value_matches_scipy_at_interior_eps(probs, lipschitz):
    eps = ETAS * lipschitz
    values = bounds.fawzi_robustness_bound_general(eps, lipschitz, probs)
    assert values.shape == eps.shape
    expected = [reference(e, lipschitz, probs) for e in eps]
    np.testing.assert_allclose(values, expected, rtol=1e-12, atol=0)
    # a scalar eps gives the same number as the vectorised call
    assert float(bounds.fawzi_robustness_bound_general(eps[3], lipschitz, probs)) == pytest.approx(values[3], rel=1e-15)


def test_docstring_example_value():
    # the chapter's setting: the unconditional generator's L = 27.01 at eps = 3, ten classes
    value = float(bounds.fawzi_robustness_bound_general(3.0, 27.01, UNIFORM))
    assert value == pytest.approx(10 * norm.sf(norm.isf(0.1) + 3.0 / 27.01), rel=1e-12)
    assert round(value, 4) == 0.8187


@pytest.mark.parametrize("eta", [0.1, 0.5, 1.0, 2.0, 3.5])
def test_two_equal_classes_give_erfc(eta):
    # p = (1/2, 1/2): Phi^-1(1/2) = 0, so the bound is 2 (1 - Phi(eta)) = erfc(eta / sqrt 2)
    value = float(bounds.fawzi_robustness_bound_general(eta * 3.0, 3.0, [0.5, 0.5]))
    assert value == pytest.approx(math.erfc(eta / math.sqrt(2.0)), rel=1e-12)


def test_one_class_is_always_robust():
    # a constant classifier: every point keeps its label at every radius
    values = bounds.fawzi_robustness_bound_general(np.array([0.0, 1.0, 10.0, 1e3]), 2.0, [1.0])
    np.testing.assert_array_equal(values, 1.0)


def test_depends_on_eps_and_lipschitz_only_through_their_ratio():
    eps = np.array([0.3, 1.1, 2.9])
    a = bounds.fawzi_robustness_bound_general(eps, 1.5, SKEWED)
    b = bounds.fawzi_robustness_bound_general(4.0 * eps, 6.0, SKEWED)
    np.testing.assert_allclose(a, b, rtol=1e-13)


def test_class_order_does_not_matter():
    eps = np.array([0.5, 2.0])
    forward = bounds.fawzi_robustness_bound_general(eps, 1.0, SKEWED)
    backward = bounds.fawzi_robustness_bound_general(eps, 1.0, SKEWED[::-1])
    np.testing.assert_allclose(forward, backward, rtol=1e-14)


# --- Monte Carlo over a linear generator ----------------------------------------------


def _linear_generator(lipschitz: float, z_dim: int, image_dim: int, rng: np.random.Generator):
    """G(z) = L U z with U (image_dim, z_dim) orthonormal columns, and a unit w in G's range."""
    u, _ = np.linalg.qr(rng.standard_normal((image_dim, z_dim)))
    v = rng.standard_normal(z_dim)
    w = u @ (v / np.linalg.norm(v))
    return (lambda z: lipschitz * z @ u.T), w


def _robust_fraction_mc(probs, eps, lipschitz, n, seed):
    """Fraction of x = G(z) whose prediction is constant on the eps-ball, by sampling.

    The classifier labels x by the interval of <w, x> it falls in, with cut points chosen
    so that class i has probability p_i under G. Each class is convex and the ball's
    projection on w is [<w, x> - eps, <w, x> + eps], so x is robust exactly when the
    classifier gives x - eps w and x + eps w the label of x.
    """
    rng = np.random.default_rng(seed)
    generate, w = _linear_generator(lipschitz, z_dim=5, image_dim=12, rng=rng)
    # <w, G(z)> ~ N(0, L^2): cut points L Phi^-1(p_1 + ... + p_j)
    cuts = lipschitz * norm.ppf(np.cumsum(probs)[:-1])

    def classify(x):
        return np.searchsorted(cuts, x @ w)

    x = generate(rng.standard_normal((n, 5)))
    label = classify(x)
    robust = (classify(x + eps * w) == label) & (classify(x - eps * w) == label)
    assert np.bincount(label, minlength=len(probs)) / n == pytest.approx(probs, abs=5 * np.sqrt(0.25 / n))
    return float(robust.mean())


@pytest.mark.parametrize("probs", [np.array([0.5, 0.5]), np.array([0.3, 0.7]), np.array([0.08, 0.92])])
@pytest.mark.parametrize("eta", [0.2, 0.8, 1.6])
def test_two_half_spaces_attain_the_bound(probs, eta):
    lipschitz, n = 2.5, 100_000
    bound = float(bounds.fawzi_robustness_bound_general(eta * lipschitz, lipschitz, probs))
    mc = _robust_fraction_mc(probs, eta * lipschitz, lipschitz, n, seed=int(100 * eta) + int(100 * probs[0]))
    se = math.sqrt(bound * (1 - bound) / n)
    assert abs(mc - bound) < 5 * se


@pytest.mark.parametrize("eta", [0.2, 0.8, 1.6])
def test_three_slabs_stay_below_the_bound(eta):
    probs, lipschitz, n = np.array([0.3, 0.45, 0.25]), 0.7, 100_000
    bound = float(bounds.fawzi_robustness_bound_general(eta * lipschitz, lipschitz, probs))
    # exact robust fraction: g below a - eta, between a + eta and b - eta, or above b + eta
    a, b = norm.ppf(0.3), norm.ppf(0.75)
    exact = norm.cdf(a - eta) + max(norm.cdf(b - eta) - norm.cdf(a + eta), 0.0) + norm.sf(b + eta)
    assert exact < bound - 1e-3  # the middle class is not a half-space: strict
    mc = _robust_fraction_mc(probs, eta * lipschitz, lipschitz, n, seed=int(100 * eta))
    se = math.sqrt(exact * (1 - exact) / n)
    assert abs(mc - exact) < 5 * se
    assert mc < bound + 5 * se


# --- monotonicity and limits ----------------------------------------------------------


@pytest.mark.parametrize("probs", [UNIFORM, SKEWED, DOMINANT], ids=["uniform", "skewed", "dominant"])
def test_strictly_decreasing_from_one_towards_zero(probs):
    lipschitz = 4.0
    eps = np.linspace(0.0, 8.0 * lipschitz, 161)
    values = bounds.fawzi_robustness_bound_general(eps, lipschitz, probs)
    assert values[0] == pytest.approx(1.0, abs=1e-12)  # sum_i p_i at eps = 0
    assert np.all(np.diff(values) < 0)
    assert np.all(values[1:] < 1.0)  # never vacuous for eps > 0
    assert values[-1] < 1e-3


@pytest.mark.parametrize("probs", [UNIFORM, SKEWED, DOMINANT], ids=["uniform", "skewed", "dominant"])
def test_slope_in_eps(probs):
    # d/d eps sum_i [1 - Phi(a_i + eps / L)] = -sum_i phi(a_i + eps / L) / L, a_i = Phi^-1(1 - p_i)
    lipschitz, h = 4.0, 1e-3
    eps = ETAS * lipschitz
    up = bounds.fawzi_robustness_bound_general(eps + h, lipschitz, probs)
    down = bounds.fawzi_robustness_bound_general(eps - h, lipschitz, probs)
    slope = -norm.pdf(norm.isf(probs)[None, :] + eps[:, None] / lipschitz).sum(axis=1) / lipschitz
    np.testing.assert_allclose((up - down) / (2 * h), slope, rtol=1e-5)


# --- relation to the simplified bound -------------------------------------------------


@pytest.mark.parametrize(
    "probs",
    [UNIFORM, SKEWED, np.array([0.5, 0.5]), np.array([0.5, 0.25, 0.25]), np.full(100, 0.01)],
    ids=["uniform", "skewed", "halves", "half-quarter-quarter", "hundred"],
)
def test_never_above_the_simplified_bound_when_no_class_exceeds_one_half(probs):
    # For a_i = Phi^-1(1 - p_i) >= 0: 1 - Phi(a + eta) = int_a^inf phi(s) exp(-s eta - eta^2 / 2) ds
    # <= exp(-eta^2 / 2) p_i, so the sum is <= exp(-eta^2 / 2) < sqrt(pi / 2) exp(-eta^2 / 2).
    lipschitz = 27.01
    eps = np.linspace(0.0, 6.0 * lipschitz, 121)
    general = bounds.fawzi_robustness_bound_general(eps, lipschitz, probs)
    simplified = bounds.fawzi_robustness_bound(eps, lipschitz)
    gaussian = np.exp(-0.5 * (eps / lipschitz) ** 2)
    np.testing.assert_allclose(simplified, math.sqrt(math.pi / 2) * gaussian, rtol=1e-14)
    assert np.all(general <= gaussian * (1 + 1e-12))
    assert np.all(general < simplified)
    # with two classes of 1/2 the first inequality is equality only at eps = 0
    if len(probs) == 2:
        assert general[0] == pytest.approx(gaussian[0])
        assert np.all(general[1:] < gaussian[1:])


def test_simplified_bound_is_vacuous_where_the_general_one_is_not():
    lipschitz = 27.01
    radius = bounds.fawzi_vacuous_radius(lipschitz)
    eps = np.linspace(0.05, 0.999, 20) * radius
    assert np.all(bounds.fawzi_robustness_bound(eps, lipschitz) > 1.0)
    assert np.all(bounds.fawzi_robustness_bound_general(eps, lipschitz, UNIFORM) < 1.0)


def test_simplified_bound_needs_the_one_half_proviso():
    # With a class of probability 0.9 the general bound exceeds sqrt(pi/2) exp(-eta^2/2)
    # for large enough eta: the simplified form is not a bound there.
    lipschitz = 1.0
    eps = np.array([2.0, 3.0])
    general = bounds.fawzi_robustness_bound_general(eps, lipschitz, DOMINANT)
    simplified = bounds.fawzi_robustness_bound(eps, lipschitz)
    assert np.all(general > simplified)
    assert general[0] == pytest.approx(norm.sf(norm.isf(0.9) + 2.0) + norm.sf(norm.isf(0.1) + 2.0), rel=1e-12)
