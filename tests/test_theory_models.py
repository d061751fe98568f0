from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intrinsic_rob.core.errors import InputError
from intrinsic_rob.theory import bounds
from intrinsic_rob.theory.isoperimetry import monte_carlo_expansion, wilson_interval, with_measure
from intrinsic_rob.theory.toy import make_linear_model

KINDS = ("half-space", "ball", "outside of a ball", "union of half-spaces")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d", [1, 3, 50])
def test_sets_have_requested_measure_and_obey_lemma_4_2(kind, d):
    gset = with_measure(kind, 0.3, d, k=min(2, d))
    assert gset.measure(d) == pytest.approx(0.3, abs=1e-10)
    for r in (0.0, 0.1, 0.5, 2.0):
        exact = gset.expansion_measure(d, r)
        bound = float(bounds.gaussian_expansion(0.3, r))
        assert exact >= bound - 1e-10
        if kind == "half-space":
            assert exact == pytest.approx(bound, abs=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_monte_carlo_expansion_brackets_exact_value(kind):
    d, r = 5, 0.4
    gset = with_measure(kind, 0.3, d, k=2)
    est = monte_carlo_expansion(gset, d, r, 100_000, np.random.default_rng(1), chunk=30_000)
    exact = gset.expansion_measure(d, r)
    se = np.sqrt(exact * (1 - exact) / est.n)
    assert abs(est.estimate - exact) < 4.5 * se
    # the interval is the Wilson interval of this count: its ends p solve the score equation
    # (estimate - p)^2 = z^2 p (1 - p) / n, one on each side of the estimate
    z = 1.959963984540054
    for end in (est.low, est.high):
        assert (est.estimate - end) ** 2 == pytest.approx(z**2 * end * (1 - end) / est.n, rel=1e-9)
    assert est.low < est.estimate < est.high


@pytest.mark.parametrize("successes, n", [(0, 10), (3, 17), (50, 100), (10, 10), (912, 1000)])
def test_wilson_interval_matches_scipy(successes, n):
    from scipy.stats import binomtest

    ci = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    est = wilson_interval(successes, n)
    assert est.estimate == successes / n and est.n == n
    assert est.low == pytest.approx(ci.low, abs=1e-12) and est.high == pytest.approx(ci.high, abs=1e-12)


def test_wilson_interval_rejects_empty_sample():
    with pytest.raises(InputError, match="n must be"):
        wilson_interval(0, 0)


def test_unknown_set_kind():
    with pytest.raises(InputError, match="kind"):
        with_measure("cube", 0.3, 2)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(2, 4),
    d=st.integers(1, 6),
    tilt=st.floats(0.0, 1.2),
    two_sided=st.booleans(),
    eps=st.floats(0.0, 3.0),
    risk=st.floats(0.02, 0.4),
)
def test_theorem_4_3_holds_and_agrees_with_monte_carlo(seed, k, d, tilt, two_sided, eps, risk):
    model = make_linear_model(k, d, rng=np.random.default_rng(seed), tilt=tilt, two_sided=two_sided, risk=risk)
    # the toy generators are globally L_i-Lipschitz: radius=None
    lower = float(bounds.adversarial_risk_lower_bound(model.class_risks(), eps, model.lipschitz(),
                                                      class_probs=model.class_probs, radius=None))
    in_adv, adv = model.in_adv_risk(eps), model.adv_risk(eps)
    assert lower <= in_adv + 1e-12 <= adv + 2e-12
    n = 20_000
    mc = model.monte_carlo(eps, n, np.random.default_rng(seed + 1))
    for key, exact in (("risk", model.risk()), ("adv_risk", adv), ("in_adv_risk", in_adv)):
        se = np.sqrt(max(exact * (1 - exact), 1e-6) / n)
        assert abs(mc[key] - exact) < 5 * se, key


def test_theorem_4_3_is_tight_for_aligned_half_spaces():
    model = make_linear_model(3, 4, rng=np.random.default_rng(0), align_with_top_singular=True)
    for eps in np.linspace(0, 3, 7):
        lower = bounds.adversarial_risk_lower_bound(model.class_risks(), eps, model.lipschitz(), radius=None)
        assert float(lower) == pytest.approx(model.in_adv_risk(eps), abs=1e-12)


def test_toy_model_rejects_eps_beyond_its_cells():
    model = make_linear_model(2, 2, rng=np.random.default_rng(0), separation=4.0)
    with pytest.raises(InputError, match="eps"):
        model.adv_risk(10.0)
