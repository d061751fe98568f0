from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import ndtr, ndtri
from scipy.stats import norm

from intrinsic_rob import paper
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.theory import bounds

LIP_MNIST = paper.TABLE3_SETTINGS[0].lipschitz_means
LIP_IMAGENET = paper.TABLE3_SETTINGS[1].lipschitz_means


# --- the paper's numbers --------------------------------------------------------------


@pytest.mark.parametrize("setting", paper.TABLE3_SETTINGS, ids=lambda s: s.dataset)
def test_table3_bound_row_within_rounding(setting):
    res = bounds.robustness_bound(
        setting.alpha, list(paper.TABLE3_EPSILONS), setting.lipschitz_means,
        radius=setting.radius, delta=setting.delta, per_class_risk=True,
    )
    assert not res.capped.any()  # r * L_max >= 3 for both of the paper's generators
    ours = 100 * res.value
    printed = np.array(paper.TABLE3_BOUND_PERCENT[setting.dataset])
    assert np.all(np.abs(ours - printed) < 0.1)


def test_table3_mnist_row_exact_after_rounding():
    ours = 100 * bounds.robustness_bound(0.015, [1, 2, 3], LIP_MNIST, radius=0.5, delta=0.001, per_class_risk=True).value
    assert list(np.round(ours, 1)) == [98.2, 97.8, 97.2]


def test_table3_imagenet_row():
    ours = 100 * bounds.robustness_bound(0.15, [1, 2, 3], LIP_IMAGENET, radius=0.5, delta=0.001, per_class_risk=True).value
    # 79.92 at eps = 3, printed as 80.0 in the paper (see the theory chapter).
    assert list(np.round(ours, 1)) == [83.5, 81.8, 79.9]


def test_remark_4_5():
    assert float(bounds.robustness_bound(0.05, 1.0, 1.0, radius=None, per_class_risk=True)) == pytest.approx(0.740489, abs=1e-6)


def test_fawzi_bound_is_vacuous_below_eps_3_for_l_27():
    values = bounds.fawzi_robustness_bound(np.linspace(0, 3, 31), 27.01)
    assert np.all(values > 1.0)
    assert bounds.fawzi_vacuous_radius(27.01) == pytest.approx(27.01 * math.sqrt(math.log(math.pi / 2)))
    assert bounds.fawzi_robustness_bound(bounds.fawzi_vacuous_radius(27.01), 27.01) == pytest.approx(1.0)


def test_fawzi_general_form_equals_one_at_zero_and_decreases():
    probs = np.full(10, 0.1)
    values = bounds.fawzi_robustness_bound_general(np.linspace(0, 5, 11), 27.01, probs)
    assert values[0] == pytest.approx(1.0)
    assert np.all(np.diff(values) < 0)


# --- formulas and numerical care ------------------------------------------------------


def test_gaussian_expansion_half_space_identity():
    assert bounds.gaussian_expansion(0.5, 1.0) == pytest.approx(ndtr(1.0))
    assert bounds.gaussian_expansion(0.3, 0.0) == pytest.approx(0.3)


def test_gaussian_expansion_extremes():
    assert bounds.gaussian_expansion(0.0, 1.0) == 0.0
    assert bounds.gaussian_expansion(1.0, 1.0) == 1.0
    assert bounds.gaussian_expansion(1e-300, 1.0) > 0
    assert bounds.gaussian_expansion(0.2, 1e6) == 1.0
    # the complement keeps relative precision far in the tail
    got = float(bounds.gaussian_expansion_complement(0.5, 30.0))
    assert math.log(got) == pytest.approx(norm.logsf(30.0), rel=1e-9)


def test_bound_for_huge_eps_over_l_equals_delta():
    assert float(bounds.robustness_bound(0.1, 1e6, 1.0, radius=None, delta=0.01, per_class_risk=True)) == pytest.approx(0.01)
    assert float(bounds.robustness_bound(0.1, 1e6, [1.0, 2.0], radius=None, delta=0.0, per_class_risk=True)) == 0.0


def test_alpha_near_zero_and_one():
    tiny = float(bounds.robustness_bound(1e-300, 1.0, 1.0, radius=None, per_class_risk=True))
    assert 0.999999 < tiny <= 1.0
    big = float(bounds.robustness_bound(1 - 1e-15, 0.0, 1.0, radius=None, per_class_risk=True))
    assert 0.0 <= big < 1e-12


def test_eps_zero_gives_one_minus_alpha_plus_delta():
    assert float(bounds.robustness_bound(0.2, 0.0, [3.0, 5.0], radius=None, delta=0.01, per_class_risk=True)) == pytest.approx(0.81)


def test_per_class_lipschitz_is_never_looser():
    a = bounds.robustness_bound(0.015, [1, 2, 3], LIP_MNIST, radius=0.5, per_class_risk=True).value
    b = bounds.robustness_bound(0.015, [1, 2, 3], LIP_MNIST, radius=0.5, per_class_risk=True,
                                per_class_lipschitz=True).value
    assert np.all(b <= a + 1e-15) and b[-1] < a[-1] - 1e-3


def test_theorem_4_3_single_class_matches_closed_form():
    got = bounds.adversarial_risk_lower_bound(0.05, [0.0, 1.0], 1.0, radius=None).value
    assert got == pytest.approx([0.05, ndtr(norm.ppf(0.05) + 1.0)])


def test_falpha_form_agrees_with_a4_within_proviso():
    a = bounds.robustness_bound(0.015, [0.5, 1, 2, 3], LIP_MNIST, radius=0.5, delta=0.001).value
    b = bounds.robustness_bound_a4(0.015, [0.5, 1, 2, 3], LIP_MNIST, radius=0.5, delta=0.001).value
    assert a == pytest.approx(b, abs=1e-12)


def test_a4_beyond_proviso_fills_whole_classes():
    sol = bounds.solve_a4(0.15, 0.1, np.full(10, 0.1))
    assert sorted(sol.class_risks[sol.class_risks > 0]) == pytest.approx([0.5, 1.0])
    assert sol.value == pytest.approx(0.1 + 0.1 * ndtr(0.0 + 0.1))




# --- input validation -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(alpha=0.0), "alpha"),
        (dict(alpha=1.0), "alpha"),
        (dict(alpha=float("nan")), "alpha"),
        (dict(eps=-0.1), "eps"),
        (dict(eps=float("inf")), "eps"),
        (dict(lipschitz=0.0), "lipschitz"),
        (dict(lipschitz=[1.0, -2.0]), "lipschitz"),
        (dict(delta=1.0), "delta"),
        (dict(delta=-0.1), "delta"),
        (dict(class_probs=[0.5, 0.6], lipschitz=[1.0, 1.0]), "class_probs"),
        (dict(class_probs=[0.5, 0.5], lipschitz=[1.0, 1.0, 1.0]), "lipschitz"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, name):
    args = dict(alpha=0.1, eps=1.0, lipschitz=2.0, radius=0.5, per_class_risk=True)
    args.update(kwargs)
    with pytest.raises(InputError, match=name):
        bounds.robustness_bound(**args)


def test_falpha_form_refuses_alpha_above_class_probability():
    with pytest.raises(InputError, match="alpha / class_probs"):
        bounds.robustness_bound(0.15, 1.0, LIP_IMAGENET, radius=0.5)


# --- properties -----------------------------------------------------------------------

lipschitz_lists = st.lists(st.floats(0.1, 50.0), min_size=1, max_size=10)


@given(
    alpha=st.floats(1e-6, 0.999),
    lip=lipschitz_lists,
    delta=st.floats(0.0, 0.5),
    e1=st.floats(0.0, 100.0),
    e2=st.floats(0.0, 100.0),
    per_class_risk=st.booleans(),
    radius=st.one_of(st.none(), st.floats(0.05, 5.0)),
)
def test_bound_is_monotone_in_eps(alpha, lip, delta, e1, e2, per_class_risk, radius):
    lo, hi = sorted((e1, e2))
    if not per_class_risk:
        alpha = alpha / len(lip)
    b = bounds.robustness_bound(alpha, [lo, hi], lip, radius=radius, delta=delta, per_class_risk=per_class_risk).value
    assert b[0] >= b[1] - 1e-12


@given(
    alpha=st.floats(1e-6, 0.999),
    lip=lipschitz_lists,
    scale=st.floats(1.0, 20.0),
    eps=st.floats(0.0, 50.0),
    per_class_risk=st.booleans(),
    radius=st.one_of(st.none(), st.floats(0.05, 5.0)),
)
def test_bound_is_monotone_in_lipschitz(alpha, lip, scale, eps, per_class_risk, radius):
    if not per_class_risk:
        alpha = alpha / len(lip)
    small = float(bounds.robustness_bound(alpha, eps, lip, radius=radius, per_class_risk=per_class_risk))
    large = float(bounds.robustness_bound(alpha, eps, [scale * v for v in lip], radius=radius,
                                          per_class_risk=per_class_risk))
    assert large >= small - 1e-12


@st.composite
def a4_instances(draw, within_proviso: bool):
    k = draw(st.integers(2, 6))
    raw = np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=k, max_size=k)))
    probs = raw / raw.sum()
    frac = draw(st.floats(0.01, 1.0))
    alpha = frac * probs.min() if within_proviso else probs.min() + frac * (0.95 - probs.min())
    eta = draw(st.floats(0.0, 3.0))
    return float(alpha), eta, probs


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=a4_instances(within_proviso=True), seed=st.integers(0, 2**16))
def test_a4_closed_form_equals_numerical_optimum(inst, seed):
    alpha, eta, probs = inst
    exact = bounds.solve_a4(alpha, eta, probs)
    numeric = bounds.minimise_a4_numerically(alpha, eta, probs, restarts=10, rng=np.random.default_rng(seed))
    assert numeric.value >= exact.value - 1e-8
    # all risk on one class, exactly alpha / p_i there
    (j,) = np.flatnonzero(exact.class_risks)
    assert exact.class_risks[j] == pytest.approx(alpha / probs[j])
    # and no random feasible point does better
    rng = np.random.default_rng(seed)
    for _ in range(200):
        w = rng.dirichlet(np.ones(probs.size))
        point = np.minimum(w * alpha / probs, 1.0)
        if point @ probs < alpha - 1e-12:
            continue
        value = float(probs @ ndtr(ndtri(point) + eta))
        assert value >= exact.value - 1e-12


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=a4_instances(within_proviso=False), seed=st.integers(0, 2**16))
def test_a4_beyond_proviso_is_never_beaten(inst, seed):
    alpha, eta, probs = inst
    exact = bounds.solve_a4(alpha, eta, probs)
    assert exact.class_risks @ probs >= alpha - 1e-9
    assert np.all((exact.class_risks >= 0) & (exact.class_risks <= 1))
    numeric = bounds.minimise_a4_numerically(alpha, eta, probs, restarts=10, rng=np.random.default_rng(seed))
    assert numeric.value >= exact.value - 1e-8


@given(k=st.integers(2, 9), frac=st.floats(0.01, 0.99), eta=st.floats(0.0, 3.0))
def test_a4_uniform_closed_form_matches_enumeration(k, frac, eta):
    probs = np.full(k, 1.0 / k)
    alpha = frac
    uniform = bounds.solve_a4(alpha, eta, probs)
    enumerated = bounds._enumerated_candidates(alpha, probs)
    brute = bounds._a4_objective(enumerated, probs, np.full(k, eta)).min()
    assert uniform.value == pytest.approx(brute, abs=1e-12)
