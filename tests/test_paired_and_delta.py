"""Section 5.4's paired comparison, the delta a sample supports, and per-digit PGD outcomes."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
from scipy.stats import beta, binomtest

from intrinsic_rob.attacks import robust_accuracy, robust_outcomes
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.estimators.in_dist import paired_test
from intrinsic_rob.estimators.lipschitz import (
    gradient_exceeds_sampled,
    percentile_estimate,
    percentile_exceeding,
    percentile_supported_delta,
    samples_at_radius,
    samples_for_delta,
    supported_delta,
    supported_delta_at_radius,
)


def _outcomes(b: int, c: int, both: int, neither: int, eps: float = 1.0) -> pd.DataFrame:
    """b digits robust only in distribution, c only to PGD, and the concordant rest."""
    ind = [True] * b + [False] * c + [True] * both + [False] * neither
    pgd = [False] * b + [True] * c + [True] * both + [False] * neither
    return pd.DataFrame({"eps": eps, "unconstrained": pgd, "in_distribution": ind})


def test_paired_test_counts_only_discordant_digits_and_maps_the_exact_interval():
    row = paired_test(_outcomes(b=14, c=4, both=60, neither=22), bonferroni=False).iloc[0]
    assert (row.n, row.only_in_distribution, row.only_unconstrained) == (100, 14, 4)
    assert row.in_distribution == pytest.approx(0.74) and row.unconstrained == pytest.approx(0.64)
    assert row.difference == pytest.approx(0.10)
    p_low = beta.ppf(0.025, 14, 5)
    p_high = beta.ppf(0.975, 15, 4)
    assert row.low == pytest.approx(18 * (2 * p_low - 1) / 100)
    assert row.high == pytest.approx(18 * (2 * p_high - 1) / 100)
    assert row.p_value == pytest.approx(binomtest(14, 18, 0.5).pvalue)
    assert row.verdict == "in-distribution higher"


def test_paired_test_direction_and_ties():
    assert paired_test(_outcomes(b=2, c=20, both=50, neither=28)).iloc[0].verdict == "unconstrained higher"
    # Equal marginals, many discordant digits: no difference, whatever the marginal counts say.
    row = paired_test(_outcomes(b=20, c=20, both=40, neither=20)).iloc[0]
    assert row.verdict == "no difference" and row.difference == 0 and row.low < 0 < row.high
    # No discordant digit: the attacks agree everywhere.
    row = paired_test(_outcomes(b=0, c=0, both=70, neither=30)).iloc[0]
    assert (row.low, row.high, row.p_value, row.verdict) == (0.0, 0.0, 1.0, "no difference")


def test_paired_test_bonferroni_over_groups():
    # 9 of 9 discordant one way: significant alone at 95% (p = 0.0039), not at 1 - 0.05/20.
    one = _outcomes(b=9, c=0, both=50, neither=41)
    assert paired_test(one).iloc[0].verdict == "in-distribution higher"
    many = pd.concat([one.assign(eps=float(e)) for e in range(20)], ignore_index=True)
    tested = paired_test(many)
    assert len(tested) == 20 and tested["level"].eq(1 - 0.05 / 20).all()
    assert tested["verdict"].eq("no difference").all()
    assert paired_test(many, bonferroni=False)["verdict"].eq("in-distribution higher").all()


def test_paired_test_groups_by_model_and_rejects_bad_input():
    frame = pd.concat([_outcomes(9, 0, 50, 41).assign(model="a"), _outcomes(0, 9, 50, 41).assign(model="b")])
    tested = paired_test(frame, by=("model", "eps"), bonferroni=False).set_index("model")
    assert tested.loc["a", "difference"] == pytest.approx(0.09) and tested.loc["b", "difference"] == pytest.approx(-0.09)
    with pytest.raises(InputError, match="column 'model'"):
        paired_test(_outcomes(1, 1, 1, 1), by=("model",))
    with pytest.raises(InputError, match="confidence"):
        paired_test(_outcomes(1, 1, 1, 1), confidence=1.0)


@pytest.mark.parametrize("samples, delta", [(40, 0.001), (1000, 0.001), (40, 0.0), (200, 0.05), (200, 0.1)])
def test_the_latents_counted_above_a_percentile_are_those_numpy_puts_above_it(samples, delta):
    values = np.random.default_rng(samples).random(samples)
    assert int((values > percentile_estimate(values, delta)).sum()) == percentile_exceeding(samples, delta)


@pytest.mark.parametrize("samples, delta", [(91, 0.3), (2001, 0.001), (3, 0.5), (11, 0.1)])
def test_at_a_position_whole_up_to_rounding_the_count_is_never_below_numpys(samples, delta):
    # numpy reads these percentiles at, or a rounding error below, a sorted value, which may then lie above it
    counted = percentile_exceeding(samples, delta)
    rng = np.random.default_rng(samples)
    above = {int((v > percentile_estimate(v, delta)).sum()) for v in rng.random((200, samples))}
    assert max(above) <= counted <= min(above) + 1


@pytest.mark.parametrize("samples, delta, above", [(40, 0.001, 1), (2001, 0.001, 3), (40, 0.0, 0)])
def test_a_percentile_supports_the_delta_of_the_latents_above_it(samples, delta, above):
    assert percentile_supported_delta(samples, delta) == pytest.approx(supported_delta(samples, exceeding=above))
    assert percentile_supported_delta(samples, delta, confidence=0.99) > percentile_supported_delta(samples, delta)


def test_a_sampled_constant_counts_as_exceeded_only_where_the_larger_one_changes_the_bound():
    lever = pd.DataFrame({"r": [1.0] * 6 + [2.0] * 2, "eps": [1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 1.0, 1.0],
                          "method": ["sample", "gradient"] * 4,
                          "L_max(r)": [2.0, 3.0, 2.0, 3.0, 2.0, 3.0, 4.0, 4.0],
                          "bound (%)": [90.0, 93.0, 94.0, 96.0, 97.0, 97.0, 92.0, 92.0]})
    got = gradient_exceeds_sampled(lever)
    assert got.to_dict() == {(1.0, 1.0): True, (1.0, 2.0): True, (1.0, 3.0): False, (2.0, 1.0): False}
    # a larger bound from the same constant (a different radius's cap) is no exceedance either
    assert not gradient_exceeds_sampled(lever.assign(**{"L_max(r)": 2.0})).any()


def test_supported_delta_at_radius_counts_every_trial_and_holds_for_the_weakest_class():
    rows = [{"method": "sample", "class": 0, "radius": 0.5, "num_samples": 40, "delta": 0.001}] * 2 + [
        {"method": "sample", "class": 1, "radius": 0.5, "num_samples": 40, "delta": 0.001},
        {"method": "sample", "class": 1, "radius": 2.0, "num_samples": 4000, "delta": 0.001}]  # another ball
    got = supported_delta_at_radius(pd.DataFrame(rows), 0.5)["sample"]
    with pytest.raises(InputError, match=r"lacks \['delta'\]"):  # a percentile's delta decides who is above it
        supported_delta_at_radius(pd.DataFrame(rows).drop(columns="delta"), 0.5)
    assert got == pytest.approx(supported_delta(40, exceeding=1))
    assert got > supported_delta(80, exceeding=2)  # class 1, with fewer latents, sets it


def test_supported_delta_is_the_one_sided_binomial_limit():
    for s in (40, 120, 1000, 3000):
        assert supported_delta(s) == pytest.approx(1 - 0.05 ** (1 / s))
    assert supported_delta(1000) > 0.001 > supported_delta(3000)  # the paper's S = 1000 does not support 0.001
    assert supported_delta(100, exceeding=5) == pytest.approx(beta.ppf(0.95, 6, 95))
    assert supported_delta(100, exceeding=5) > supported_delta(100, exceeding=0)
    assert supported_delta(10, exceeding=10) == 1.0
    assert supported_delta(120, confidence=0.99) > supported_delta(120)
    with pytest.raises(InputError, match="samples"):
        supported_delta(0)
    with pytest.raises(InputError, match="exceeding"):
        supported_delta(10, exceeding=11)


def test_samples_at_radius_counts_latents_at_that_radius_only():
    table = pd.DataFrame({"method": "sample", "class": [0, 0, 0, 1, 1, 0],
                          "radius": [0.5, 0.5, 0.5, 0.5, 0.5, 0.25], "num_samples": 40})
    # class 1 has 2 trials at r = 0.5, class 0 has 3 (its estimate at 0.25 is not evidence at 0.5)
    assert samples_at_radius(table, 0.5) == {"sample": 80}
    with pytest.raises(ValueError, match="radius 1"):
        samples_at_radius(table, 1.0)


def test_robust_outcomes_are_per_digit_and_average_to_robust_accuracy():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x, y = torch.rand(40, 1, 4, 4), torch.randint(0, 3, (40,))
    kwargs = dict(eps=0.3, step_size=0.1, steps=8, batch_size=16, seed=3)
    outcomes = robust_outcomes(model, x, y, **kwargs)
    assert outcomes.dtype == torch.bool and outcomes.shape == (40,)
    assert float(outcomes.float().mean()) == pytest.approx(robust_accuracy(model, x, y, **kwargs))
    # a digit already misclassified is never robust
    wrong = model(x).argmax(1) != y
    assert wrong.any() and not bool(outcomes[wrong].any())
    # the per-digit outcome is the same whatever batch the digit ran in, for the same seed of its batch
    first = robust_outcomes(model, x[:16], y[:16], **kwargs)
    assert torch.equal(first, outcomes[:16])
    assert not math.isnan(float(np.mean(outcomes.numpy())))


def test_supported_delta_refuses_a_confidence_outside_the_open_unit_interval():
    for confidence in (0.0, 1.0, -0.5):
        with pytest.raises(InputError, match="confidence"):
            supported_delta(100, confidence=confidence)


def test_supported_delta_at_radius_holds_at_the_confidence_asked():
    t = pd.DataFrame({"method": "sample", "class": [0, 1], "radius": 0.5, "num_samples": 40, "delta": 0.001})
    got = supported_delta_at_radius(t, 0.5, confidence=0.99)["sample"]
    assert got == pytest.approx(supported_delta(40, exceeding=1, confidence=0.99))
    assert got > supported_delta_at_radius(t, 0.5)["sample"]


def test_samples_for_delta_inverts_supported_delta():
    assert [n for n in range(1, 400) if samples_for_delta(supported_delta(n)) != n] == []
