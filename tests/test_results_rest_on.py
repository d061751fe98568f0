"""Checks that a plausible bug in a function a chapter's result rests on would fail.

Each test pins one behaviour whose breakage left the older tests green: PGD's random
start and best iterate for examples never fooled, TRADES' beta, the side of the risk
interval Remark 4.6's test reads the bound at, the strict inequality of in-distribution
robustness; and the floors, warm-ups and initialisation that make the short runs learn.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from intrinsic_rob.attacks import InDistributionResult, in_distribution_robustness, pgd_l2
from intrinsic_rob.estimators.in_dist import (
    AT_CHANCE,
    NOT_ABOVE,
    VERDICTS,
    clopper_pearson,
    remark46_test,
    summarise_remark46,
)
from intrinsic_rob.models.classifiers import SevenLayerCNN, trades_init
from intrinsic_rob.models.robust import make_robust_model, scaled_milestones, table4_config
from intrinsic_rob.models.robust_losses import AdvTrainLoss, LPCertifyLoss, TradesLoss, ramped_eps, trades_attack
from intrinsic_rob.pipeline import findings
from intrinsic_rob.pipeline.floors import BelowFloor, check_floors, floor_failures


class _Valley(nn.Module):
    """Two classes on (B, 1, 2, 2) images; the true class's logit is 10 + (x[0] - 0.2)^2.

    Class 0 is never beaten (its logit stays above 10, the other's is 0), and the
    cross-entropy of class 0 is highest where x[0] is closest to 0.2. Normalised steps of
    0.5 from x[0] = 0.5 overshoot: the iterates alternate between x[0] = 0.5 and 0.0, and
    the one at 0.0 has the higher loss.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.flatten(1)[:, 0]
        return torch.stack([10 + (t - 0.2) ** 2, torch.zeros_like(t)], dim=1)


def test_pgd_keeps_the_best_iterate_of_an_example_never_fooled():
    x, y = torch.full((1, 1, 2, 2), 0.5), torch.tensor([0])
    # two steps: 0.5 -> 0.0 -> 0.5; the last iterate is the clean image, the best the middle one
    x_adv = pgd_l2(_Valley(), x, y, eps=1.0, step_size=0.5, steps=2, random_start=False)
    assert x_adv.flatten()[0].item() == pytest.approx(0.0, abs=1e-6)
    last = pgd_l2(_Valley(), x, y, eps=1.0, step_size=0.5, steps=2, random_start=False, best_iterate=False)
    assert last.flatten()[0].item() == pytest.approx(0.5, abs=1e-6)


def test_pgd_random_start_depends_on_its_seed_and_off_does_not():
    x, y = torch.full((3, 1, 2, 2), 0.5), torch.zeros(3, dtype=torch.long)
    runs = [pgd_l2(_Valley(), x, y, eps=0.4, step_size=0.1, steps=3, seed=s) for s in (0, 1)]
    assert not torch.equal(runs[0], runs[1])
    assert torch.equal(runs[0], pgd_l2(_Valley(), x, y, eps=0.4, step_size=0.1, steps=3, seed=0))
    fixed = [pgd_l2(_Valley(), x, y, eps=0.4, step_size=0.1, steps=3, seed=s, random_start=False) for s in (0, 1)]
    assert torch.equal(fixed[0], fixed[1])


def test_trades_loss_grows_by_beta_times_the_kl_divergence():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    x, y = torch.rand(6, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1, 2])
    settings = dict(eps=0.5, step_size=0.2, steps=3)
    x_adv = trades_attack(model, x, rng=torch.Generator().manual_seed(7), **settings)
    kl = F.kl_div(F.log_softmax(model(x_adv), dim=1), F.softmax(model(x), dim=1), reduction="sum") / x.shape[0]
    assert kl.item() > 1e-4  # the check has something to see

    def loss(beta: float) -> float:
        return TradesLoss(beta=beta, **settings)(model, x, y, torch.Generator().manual_seed(7)).item()

    assert loss(6.0) - loss(1.0) == pytest.approx(5.0 * kl.item(), rel=1e-4)
    assert loss(1.0) - F.cross_entropy(model(x), y).item() == pytest.approx(kl.item(), rel=1e-4)


def test_remark46_reads_a_falling_curve_at_the_lower_end_of_the_risk():
    # A falling curve: the bound is larger at a smaller risk, so the safe reading is at the
    # lower end of the risk's interval; read at the upper end, this point would be "above".
    falling = {"falling": lambda alpha, eps: 1.0 - alpha}
    point = pd.DataFrame([{"label": "f", "eps": 1.0, "kind": "measured", "risk": 0.5, "risk_n": 100,
                           "value": 0.55, "value_n": 10_000}])
    row = remark46_test(point, falling).iloc[0]
    risk_low, risk_high = clopper_pearson(50, 100, 0.95)
    assert row["bound_conservative"] == pytest.approx(1.0 - risk_low)
    value_low = clopper_pearson(5500, 10_000, 0.95)[0]
    assert 1.0 - risk_high < value_low < 1.0 - risk_low  # the two readings disagree on this point
    assert row["verdict"] == NOT_ABOVE


def test_a_point_whose_lower_end_meets_the_curve_is_not_above_it():
    point = pd.DataFrame([{"label": "f", "eps": 1.0, "kind": "certified", "risk": 0.1, "risk_n": 1000,
                           "value": 0.0, "value_n": 1000}])  # 0 of 1000: the lower end is exactly 0
    row = remark46_test(point, {"zero": lambda alpha, eps: 0.0}).iloc[0]
    assert row["margin_conservative"] == 0.0 and row["verdict"] == NOT_ABOVE


def test_generator_bounds_pass_their_confidence_risk_form_and_cap_to_the_curve():
    from intrinsic_rob.estimators.in_dist import bound_curve, generator_bounds
    from intrinsic_rob.estimators.lipschitz import supported_delta

    table = pd.DataFrame({"method": "sample", "class": [0, 1], "radius": 0.5, "value": [3.0, 4.0],
                          "num_samples": 1000, "delta": 0.001})
    probs = np.full(2, 0.5)
    delta = supported_delta(1000, exceeding=1, confidence=0.99)
    for per_class in (False, True):
        got = generator_bounds(table, 0.5, probs, confidence=0.99, per_class_risk=per_class)["sample"]
        assert got.delta == pytest.approx(delta)
        # eps = 3 > r * L_max = 2: the curve must carry the cap at r and the form asked for
        same = bound_curve(4.0, radius=0.5, delta=delta, class_probs=probs, per_class_risk=per_class)
        other = bound_curve(4.0, radius=0.5, delta=delta, class_probs=probs, per_class_risk=not per_class)
        uncapped = bound_curve(4.0, radius=None, delta=delta, class_probs=probs, per_class_risk=per_class)
        assert got.curve(0.1, 3.0) == pytest.approx(same(0.1, 3.0))
        assert got.curve(0.1, 3.0) != pytest.approx(other(0.1, 3.0))
        assert got.curve(0.1, 3.0) != pytest.approx(uncapped(0.1, 3.0))


def test_in_distribution_robustness_counts_a_perturbation_at_exactly_eps_as_an_attack():
    result = InDistributionResult(torch.tensor([0.0, 1.0, 2.0, float("inf")]), torch.zeros(4, 1),
                                  torch.zeros(4, 1, 1, 1), 0, torch.ones(4))
    assert in_distribution_robustness(result, 1.0) == 0.5  # 1.0 is within eps = 1
    assert in_distribution_robustness(result, 0.0) == 0.75  # the misclassified example is not robust at 0


def _rows(method: str, natural: float, certified: float | None = None, seed: int = 0) -> list[dict]:
    rows = [{"dataset": "mnist", "method": method, "seed": seed, "eps": 0.0, "metric": "natural", "value": natural}]
    for eps in (1.0, 2.0, 3.0):
        rows.append({"dataset": "mnist", "method": method, "seed": seed, "eps": eps, "metric": "pgd",
                     "value": natural * 0.5})
        if certified is not None:
            rows.append({"dataset": "mnist", "method": method, "seed": seed, "eps": eps, "metric": "certified",
                         "value": certified if eps == 1.0 else 0.0})
    return rows


def test_floors_name_every_model_below_them():
    rows = pd.DataFrame(_rows("adv", 0.09) + _rows("trades", 0.95) + _rows("lp", 0.75, certified=0.0)
                        + _rows("trades", 0.89, seed=1))
    failures = floor_failures(rows)
    assert failures == [
        "Adv-Train (seed 0): natural accuracy 9.0% is below its floor of 90%",
        "LP-Certify (seed 0): certified accuracy at eps = 1 is 0.0%, and its floor needs some certified digits",
        "TRADES (seed 1): natural accuracy 89.0% is below its floor of 90%",
    ]
    check_floors(pd.DataFrame(_rows("adv", 0.95) + _rows("lp", 0.75, certified=0.2)))
    with pytest.raises(BelowFloor, match="LP-Certify .*floor of 70%"):
        check_floors(pd.DataFrame(_rows("lp", 0.40, certified=0.2)))


def test_findings_refuse_a_model_at_chance(tmp_path):
    folder = tmp_path / "results" / "quick"
    folder.mkdir(parents=True)
    table = _rows("lp", 0.80, certified=0.3) + _rows("adv", 0.09) + _rows("trades", 0.97)
    pd.DataFrame(table).to_csv(folder / "table3_robust_mnist.csv", index=False)
    evaluations = {"method": "TRADES", "eps": 1.0, "original (no start, last iterate)": 0.9, "pgd_l2": 0.85,
                   "strongest": 0.8}
    pd.DataFrame([evaluations]).to_csv(folder / "pgd_evaluations_mnist.csv", index=False)
    (folder / "pgd_evaluations_mnist.json").write_text(json.dumps({"digits": 200}))
    with pytest.raises(BelowFloor, match=r"Adv-Train \(seed 0\): natural accuracy 9.0%"):
        findings.robust_classifiers(tmp_path)
    table = [r if r["method"] != "adv" else {**r, "value": 0.95 if r["metric"] == "natural" else r["value"]}
             for r in table]
    pd.DataFrame(table).to_csv(folder / "table3_robust_mnist.csv", index=False)
    assert findings.robust_classifiers(tmp_path)["adv_natural"] == 0.95


def test_epsilon_warm_up_is_linear_per_step_and_resumes_exactly():
    loss = AdvTrainLoss(3.0, 0.5, 1, ramp_epochs=2, steps_per_epoch=4)  # 8 steps from 0 to 3
    seen = []
    for epoch in range(3):
        loss.begin_epoch(epoch)
        seen += [loss._next_eps() for _ in range(4)]
    assert seen == pytest.approx([3.0 * k / 7 for k in range(8)] + [3.0] * 4)
    resumed = AdvTrainLoss(3.0, 0.5, 1, ramp_epochs=2, steps_per_epoch=4)
    resumed.begin_epoch(1)
    assert [resumed._next_eps() for _ in range(4)] == pytest.approx(seen[4:8])
    assert ramped_eps(2.0, 0.05, 0, 0) == 2.0
    lp = LPCertifyLoss(2.0, 0.05, 1, None, steps_per_epoch=3)
    lp.begin_epoch(0)
    assert [lp._next_eps() for _ in range(4)] == pytest.approx([0.05, 1.025, 2.0, 2.0])


def test_a_step_at_epsilon_zero_is_a_natural_step():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    x, y = torch.rand(5, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1])
    natural = F.cross_entropy(model(x), y)
    for loss in (AdvTrainLoss(3.0, 0.5, 2, ramp_epochs=1, steps_per_epoch=5),
                 TradesLoss(3.0, 0.5, 2, 6.0, ramp_epochs=1, steps_per_epoch=5)):
        loss.begin_epoch(0)
        assert torch.equal(loss(model, x, y, torch.Generator()), natural)  # step 0 of the warm-up
        assert not torch.equal(loss(model, x, y, torch.Generator()), natural)  # step 1: eps = 0.75


def test_trades_initialisation_and_scaled_schedules():
    torch.manual_seed(0)
    model = trades_init(SevenLayerCNN())
    assert torch.equal(model(torch.rand(2, 1, 28, 28)), torch.zeros(2, 10))
    conv = model.features[0]
    assert float(conv.bias.detach().abs().max()) == 0.0
    assert float(conv.weight.detach().std()) == pytest.approx((2 / 9) ** 0.5, rel=0.2)  # Kaiming: sqrt(2 / fan_in)
    torch.manual_seed(0)
    assert float(make_robust_model("mnist", "adv").head[-1].weight.detach().abs().max()) == 0.0
    assert table4_config("mnist", "adv").milestones == (50, 70, 90)
    assert table4_config("mnist", "trades", epochs=20).milestones == (10, 14, 18)
    assert table4_config("mnist", "lp", epochs=20, lp_ramp_epochs=7).milestones == (10, 13, 16, 19)
    assert scaled_milestones((50, 70, 90), (0.1, 0.01, 0.001), 100, 1) == ((1,), (0.001,))


def test_recorded_bound_rows_belong_to_the_generator_of_their_data():
    """Chapter 4's bound rows, recomputed from the constants of the generator their provenance names."""
    from intrinsic_rob import paper
    from intrinsic_rob.estimators.lipschitz import lmax_at_radius
    from intrinsic_rob.pipeline.results import read_recorded_table
    from intrinsic_rob.theory.bounds import theorem44_rows

    from .paths import ROOT

    rows, meta = read_recorded_table("table3_bound_rows_mnist", "quick", ROOT)
    constants, constants_meta = read_recorded_table(meta["lipschitz_table"], "quick", ROOT)
    assert meta["generator_sha256"] == constants_meta["generator_sha256"]
    assert set(constants["generator"]) == {meta["generator"]}
    alphas = rows.drop_duplicates("alpha_from").set_index("alpha_from")["alpha"].to_dict()
    assert alphas["paper"] == paper.TABLE3_SETTINGS[0].alpha
    supported = _supported(constants[np.isclose(constants["radius"], meta["radius"])])
    again = theorem44_rows(lmax_at_radius(constants, meta["radius"]), radius=meta["radius"],
                           eps=sorted(set(rows["eps"])), alphas=alphas,
                           deltas={"paper": paper.TABLE3_SETTINGS[0].delta, "supported": supported},
                           class_probs=np.full(10, 0.1))
    _same_rows(again, rows)
    # per class risk >= alpha is the stronger requirement: its bound is never above the total-risk one
    per_class = rows[rows["form"] == "per-class"].set_index(["estimate", "alpha_from", "delta_from", "eps"])["bound"]
    total = rows[rows["form"] == "total"].set_index(["estimate", "alpha_from", "delta_from", "eps"])["bound"]
    assert (per_class <= total.loc[per_class.index] + 1e-12).all()



def _supported(constants: pd.DataFrame) -> dict[str, float]:
    """The delta each estimate's latents support, counted by hand: Algorithm 1's (1 - 0.001)-percentile of at most
    1,000 latents lies between the two largest, so each (class, trial) row has one latent above the constant."""
    from intrinsic_rob.estimators.lipschitz import supported_delta

    assert (constants["delta"] == 0.001).all() and (constants["num_samples"] <= 1000).all()
    return {str(e): max(supported_delta(int(g["num_samples"].sum()), len(g)) for _, g in t.groupby("class"))
            for e, t in constants.groupby("method")}


def _same_rows(again: pd.DataFrame, rows: pd.DataFrame) -> None:
    """Bound rows recomputed equal the committed ones, whatever their order."""
    keys = ["estimate", "form", "alpha_from", "delta_from", "eps"]
    pd.testing.assert_frame_equal(again.sort_values(keys).reset_index(drop=True),
                                  rows[again.columns].sort_values(keys).reset_index(drop=True))


def test_recorded_cpu_bound_rows_belong_to_the_generator_of_the_recorded_trials():
    """The cpu record's bound rows, recomputed from its own recorded constants, whose generator must be the one
    every recorded trial was trained on."""
    from intrinsic_rob import paper
    from intrinsic_rob.pipeline.results import read_recorded_table
    from intrinsic_rob.theory.bounds import theorem44_rows

    from .paths import ROOT

    found = read_recorded_table("table3_bound_rows_mnist", "cpu", ROOT)
    if found is None:
        pytest.skip("no cpu record in this copy")
    rows, meta = found
    trials = pd.read_csv(ROOT / "results" / "cpu" / "table3_provenance_mnist.csv")
    constants = {e: read_recorded_table(f"lipschitz_mnist_{e}", "cpu", ROOT) for e in ("sample", "gradient")}
    assert {m["generator_sha256"] for _, m in constants.values()} == set(trials["generator_sha256"]) \
        == {meta["generator_sha256"]}
    again = theorem44_rows({e: float(t["value"].max()) for e, (t, _) in constants.items()}, radius=meta["radius"],
                           eps=sorted(set(rows["eps"])),
                           alphas=rows.drop_duplicates("alpha_from").set_index("alpha_from")["alpha"].to_dict(),
                           deltas={"paper": paper.TABLE3_SETTINGS[0].delta,
                                   "supported": _supported(pd.concat([t for t, _ in constants.values()]))},
                           class_probs=np.full(10, 0.1))
    _same_rows(again, rows)


def test_remark46_never_counts_a_point_at_chance_and_corrects_for_many_points():
    flat = {"flat 0.3": lambda alpha, eps: 0.3}

    def point(label: str, risk: float, value: float, n: int = 1000) -> dict:
        return {"label": label, "eps": 1.0, "kind": "measured", "risk": risk, "risk_n": n, "value": value,
                "value_n": n}

    # far above the curve, but from a classifier answering one class: reported, not counted
    chance = remark46_test(pd.DataFrame([point("constant", 0.9, 0.9)]), flat, chance_risk=0.9)
    assert chance["verdict"].tolist() == [AT_CHANCE] and chance["margin_conservative"].isna().all()
    # 0.335 of 1000 is above 0.3 at 95% for one comparison, not at the Bonferroni level of 20
    barely = point("barely", 0.1, 0.335)
    clear = point("clearly", 0.1, 0.40)
    below = [point(f"below {i}", 0.1, 0.2) for i in range(18)]
    alone = remark46_test(pd.DataFrame([barely]), flat)
    assert alone["verdict"].tolist() == [VERDICTS["measured"]]
    many = remark46_test(pd.DataFrame([barely, clear] + below), flat).set_index("label")
    assert many.loc["barely", "verdict"] == NOT_ABOVE and many.loc["clearly", "verdict"] == VERDICTS["measured"]
    assert many["level"].iloc[0] == pytest.approx(1 - 0.05 / 20)
    uncorrected = remark46_test(pd.DataFrame([barely, clear] + below), flat, bonferroni=False).set_index("label")
    assert uncorrected.loc["barely", "verdict"] == VERDICTS["measured"]
    # points at chance do not count towards the correction either
    with_chance = remark46_test(pd.DataFrame([barely, point("constant", 0.9, 0.9)]), flat, chance_risk=0.9)
    assert with_chance["level"].iloc[0] == pytest.approx(0.95)
    # several curves: the correction counts every (point, curve) comparison
    two = remark46_test(pd.DataFrame([barely, clear]), {**flat, "flat 0.2": lambda alpha, eps: 0.2})
    assert np.allclose(two["level"], 1 - 0.05 / 4)
    # a curve at 100% where it is read cannot be exceeded: reported as not testable, never as support
    ceiling = remark46_test(pd.DataFrame([clear]), {"ceiling": lambda alpha, eps: 1.0, **flat})
    assert ceiling.set_index("curve")["testable"].to_dict() == {"ceiling": False, "flat 0.3": True}
    summary = summarise_remark46(ceiling)
    assert (summary.comparisons, summary.testable) == (2, 1)
    assert summary.count("ceiling", "measured") == "0 of 1 (0 where the curve is below 100%)"
