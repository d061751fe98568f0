"""intrinsic_rob.pipeline.findings: what it reads, what it counts, and a clear error when a table is missing."""

from __future__ import annotations

import pandas as pd
import pytest

from intrinsic_rob import paper
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.estimators.in_dist import AT_CHANCE, NOT_ABOVE, VERDICTS
from intrinsic_rob.estimators.lipschitz import supported_delta
from intrinsic_rob.pipeline import findings
from intrinsic_rob.theory import bounds


def _write(root, name, rows):
    folder = root / "results" / "quick"
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(folder / f"{name}.csv", index=False)


def test_remark46_points_are_counted_per_kind_and_curve(tmp_path):
    def row(label, eps, kind, curve, margin, verdict, testable=True):
        return {"label": label, "eps": eps, "kind": kind, "curve": curve, "margin": margin, "verdict": verdict,
                "testable": testable}

    capped, free = "sampled L, capped at r", "sampled L, no cap"
    _write(tmp_path, "remark46_test_mnist", [
        row("A", 1.0, "measured", capped, -0.2, NOT_ABOVE),
        row("A", 1.0, "measured", free, 0.3, VERDICTS["measured"]),  # above only the uncapped curve
        row("A", 2.0, "measured", capped, 0.25, VERDICTS["measured"]),
        row("A", 2.0, "measured", free, 0.25, VERDICTS["measured"]),
        row("B", 1.0, "certified", capped, -0.4, NOT_ABOVE, testable=False),  # a curve at 100%: tests nothing
        row("B", 1.0, "certified", free, -0.1, NOT_ABOVE),
        row("C", 1.0, "measured", capped, 0.5, AT_CHANCE),  # a classifier at chance: never counted
    ])
    (tmp_path / "results" / "quick" / "remark46_test_mnist.json").write_text('{"confidence": 0.95}')
    _write(tmp_path, "in_dist_starts_mnist", [{"start": "fitted", "mean distance (found)": 2.5},
                                              {"start": "recorded", "mean distance (found)": 2.75}])
    _write(tmp_path, "in_dist_original_mnist", [
        {"attack": "original schedule", "success rate": 0.5, "mean distance (found)": 3.0, "evaluations": 100},
        {"attack": "per-example search", "success rate": 1.0, "mean distance (found)": 2.5, "evaluations": 240},
        {"attack": "augmented Lagrangian", "success rate": 1.0, "mean distance (found)": 2.1, "evaluations": 240}])
    (tmp_path / "results" / "quick" / "in_dist_original_mnist.json").write_text('{"digits": 8, "model": "TRADES"}')
    _write(tmp_path, "in_dist_vs_pgd_mnist", [
        {"method": "adv", "epoch": 3, "eps": 3.0, "n": 60, "verdict": "in-distribution higher", "level": 0.99},
        {"method": "adv", "epoch": 3, "eps": 1.0, "n": 60, "verdict": "no difference", "level": 0.99},
        {"method": "lp", "epoch": 2, "eps": 2.0, "n": 60, "verdict": "unconstrained higher", "level": 0.99}])
    _write(tmp_path, "lipschitz_by_radius_mnist", [  # the delta is that of the estimate with the fewest latents
        {"method": m, "class": k, "radius": r, "num_samples": n, "delta": 0.001, "value": 1.0}
        for m, n in (("sample", 40), ("gradient", 200)) for k in range(10) for r in (0.25, 0.5)])
    (tmp_path / "results" / "quick" / "figure2_in_distribution_mnist.json").write_text(
        '{"in_distribution_settings": {"method": "alm", "budget": 500}}')
    _write(tmp_path, "in_dist_budgets_mnist", [
        {"attack": "augmented Lagrangian", "budget": b, "median": m} for b, m in ((100, 4.0), (500, 2.2), (1000, 2.0))])
    out = findings.in_distribution(tmp_path)
    assert (out["figure2_budget"], out["largest_budget"]) == (500, 1000)
    assert out["figure2_budget_excess"] == pytest.approx(0.1)  # 2.2 against 2.0
    # one of each class's 40 latents lies above its (1 - 0.001)-percentile
    assert out["delta_samples"] == 40 and out["delta"] == pytest.approx(supported_delta(40, exceeding=1))
    assert out["paper_samples_delta"] == pytest.approx(supported_delta(1000, exceeding=1))  # Section 5.2's S
    assert (out["paired_pairs"], out["paired_higher"], out["paired_same"], out["paired_lower"]) == (3, 1, 1, 1)
    assert out["paired_higher_eps"] == [3.0] and out["paired_lower_eps"] == [2.0] and out["paired_level"] == 0.99
    assert out["measured_points"] == 2 and out["measured_above_capped"] == 1 and out["measured_above_uncapped"] == 2
    assert out["measured_at_chance"] == 1 and out["confidence"] == 0.95
    assert out["measured_margin"] == 0.25
    assert out["certified_points"] == 1 and out["certified_above_capped"] == 0 and out["certified_margin"] == -0.4
    assert (out["measured_testable_capped"], out["certified_testable_capped"]) == (2, 0)
    assert (out["original_digits"], out["original_model"]) == (8, "TRADES")
    assert (out["fitted_mean"], out["recorded_mean"]) == (2.5, 2.75)
    assert (out["original_success"], out["ours_success"], out["ours_mean"]) == (0.5, 1.0, 2.5)
    assert (out["alm_success"], out["alm_mean"], out["alm_evaluations"]) == (1.0, 2.1, 240)
    assert not any(key.startswith("rec46_") for key in out)  # no recorded profile's Figure 2 tested
    # the recorded profile's test, where chapter 5 wrote one, is counted the same way
    _write(tmp_path, findings.RECORDED_REMARK46, [row("D", 3.0, "measured", capped, 0.1, VERDICTS["measured"]),
                                                  row("D", 3.0, "certified", capped, -0.3, NOT_ABOVE)])
    (tmp_path / "results" / "quick" / f"{findings.RECORDED_REMARK46}.json").write_text(
        '{"recorded_profile": "cpu", "weights_sha256": ["a1", "b2"]}')
    (tmp_path / "results" / "cpu").mkdir()
    provenance = tmp_path / "results" / "cpu" / "figure2_provenance_mnist.csv"
    pd.DataFrame({"method": ["lp", "adv", "trades"], "weights_sha256": ["b2", "a1", "c3"]}).to_csv(provenance)
    with pytest.raises(InputError, match="tests another record of the cpu profile's Figure 2"):
        findings.in_distribution(tmp_path)  # a model was added to the record after chapter 5 tested it
    pd.DataFrame({"method": ["lp", "adv"], "weights_sha256": ["b2", "a1"]}).to_csv(provenance)
    out = findings.in_distribution(tmp_path)
    assert (out["rec46_measured_points"], out["rec46_measured_above_capped"]) == (1, 1)
    assert out["rec46_measured_margin"] == 0.1
    assert (out["rec46_certified_points"], out["rec46_certified_above_capped"]) == (1, 0)
    assert out["measured_points"] == 2  # the book profile's own counts are untouched


@pytest.mark.parametrize("gradient_at_2, gradient_bound_at_2, exceeded", [
    (5.0, 97.0, 1.0),  # a larger constant that raises the bound
    (3.0, 90.0, 0.0),  # the same constant
    (5.0, 90.0, 0.0),  # a larger constant, but both bounds capped at r: the constant does not matter there
])
def test_the_radius_lever_flags_a_constant_that_gradient_ascent_exceeds(tmp_path, gradient_at_2, gradient_bound_at_2,
                                                                        exceeded):
    # the sampled constant's best radius is 2; what gradient ascent finds there decides the flag
    constants = {("sample", 0.5): 2.0, ("gradient", 0.5): 2.0, ("sample", 2.0): 3.0, ("gradient", 2.0): gradient_at_2}
    bound = {("sample", 0.5): 95.3, ("gradient", 0.5): 95.3, ("sample", 2.0): 90.0,
             ("gradient", 2.0): gradient_bound_at_2}
    _write(tmp_path, "bound_by_radius_mnist", [{"r": r, "method": m, "L_max(r)": lip, "eps": 3.0,
                                                "bound (%)": bound[m, r], "capped": False}
                                               for (m, r), lip in constants.items()])
    _write(tmp_path, "lipschitz_by_radius_mnist", [{"method": m, "class": k, "radius": r, "num_samples": 40,
                                                    "delta": 0.001, "value": lip} for (m, r), lip in constants.items()
                                                   for k in range(10)])
    out = findings.radius_lever(tmp_path)
    assert (out["lever_sample"], out["lever_sample_r"], out["lever_sample_exceeded"]) == (0.9, 2.0, exceeded)
    assert out["lever_gradient_exceeded"] == 0.0
    assert out["lever_sample_delta"] == pytest.approx(supported_delta(40, 1))  # one latent above each percentile
    at_supported = bounds.robustness_bound(paper.TABLE3_SETTINGS[0].alpha, 3.0, 3.0, radius=2.0,
                                           delta=supported_delta(40, 1),
                                           per_class_risk=True)
    assert out["lever_sample_supported"] == pytest.approx(float(at_supported))  # the bound at that delta


def test_a_missing_table_names_the_chapter_that_writes_it(tmp_path):
    with pytest.raises(InputError, match=r"results/quick/table3_robust_mnist.csv is missing: run chapter 04_robust"):
        findings.robust_classifiers(tmp_path)
    with pytest.raises(InputError, match="run chapter 01_theory"):
        findings.bound_row(tmp_path)


def test_bound_row_counts_entries_reproduced_as_printed(tmp_path):
    _write(tmp_path, "table3_bound_row", [{"paper (%)": 98.2, "ours, rounded (%)": 98.2},
                                          {"paper (%)": 80.0, "ours, rounded (%)": 79.9}])
    assert findings.bound_row(tmp_path) == {"entries": 2.0, "reproduced": 1.0}


def test_attack_benchmark_reads_the_recorded_table_and_verdict(tmp_path):
    import json

    from intrinsic_rob.bench.in_dist import BASELINE, LAGRANGIAN, ORIGINAL, targets
    from intrinsic_rob.core.errors import InputError

    with pytest.raises(InputError, match="no in-distribution attack benchmark is recorded"):
        findings.attack_benchmark(tmp_path)
    rows = [{"attack": BASELINE, "budget": 50_000, "median": 2.0, "mean": 2.2, "success_eps2": 0.5},
            {"attack": ORIGINAL, "budget": 400, "median": 2.5, "mean": 2.6, "success_eps2": 0.4},
            {"attack": LAGRANGIAN, "budget": 1_000, "median": 2.1, "mean": 2.3, "success_eps2": 0.4},
            {"attack": LAGRANGIAN, "budget": 10_000, "median": 1.9, "mean": 2.1, "success_eps2": 0.5}]
    _write(tmp_path, "bench_in_dist_budgets", rows)
    meta = {"about": {"examples": 64, "cross_check": {LAGRANGIAN: {"violations": 2, "examples": 64}}},
            "verdict": targets(pd.DataFrame(rows))}
    (tmp_path / "results" / "quick" / "bench_in_dist_budgets.json").write_text(json.dumps(meta))
    out = findings.attack_benchmark(tmp_path)
    assert out["target_met"] is True and out["stretch_met"] is False
    assert out["target_median_ratio"] == pytest.approx(0.95) and out["alm_10000_mean"] == 2.1
    assert (out["stretch_success2"], out["stretch_baseline_success2"]) == (0.4, 0.5)
    assert (out["baseline_50000_median"], out["original_400_success2"], out["violations"]) == (2.0, 0.4, 2.0)
    assert (out["target_checks_success"], out["stretch_checks_success"], out["stretch_slack"]) == (True, False, 0.02)


@pytest.mark.parametrize("ratios, success, want", [
    ((0.95, 0.97), 0.5, "met"),
    ((0.998, 0.999), 0.375, "met on distance (median -0.2%, mean -0.1%) and missed on success within ε = 2 "
                            "(37.5% against 40.6%)"),
    ((1.05, 1.01), 0.5, "missed by +5.0% on the median and +1.0% on the mean"),
    ((1.05, 1.01), 0.375, "missed by +5.0% on the median and +1.0% on the mean, and on success within ε = 2 "
                          "(37.5% against 40.6%)"),
])
def test_target_text_names_what_fell_short(ratios, success, want):
    bench = {"target_met": want == "met", "target_median_ratio": ratios[0], "target_mean_ratio": ratios[1],
             "target_success2": success, "target_baseline_success2": 0.40625 if success < 0.4 else 0.5,
             **_asks("target")}
    assert findings.target_text(bench, "target") == want


def _asks(name: str) -> dict:
    """What the benchmark's target ``name`` asks, as attack_benchmark passes it on."""
    from intrinsic_rob.bench.in_dist import TARGET_EPS, TARGETS

    goal = TARGETS[name]
    return {f"{name}_slack": goal.slack, f"{name}_eps": TARGET_EPS, f"{name}_checks_success": goal.success}


def test_target_text_without_success_figures_says_the_distances():
    bench = {"target_met": False, "target_median_ratio": 1.0, "target_mean_ratio": 1.0, **_asks("target")}
    assert findings.target_text(bench, "target") == "missed by +0.0% on the median and +0.0% on the mean"


def test_target_text_of_the_stretch_allows_its_slack_and_ignores_success():
    bench = {"stretch_met": False, "stretch_median_ratio": 1.032, "stretch_mean_ratio": 1.049,
             "stretch_success2": 0.1, "stretch_baseline_success2": 0.4, **_asks("stretch")}
    assert findings.target_text(bench, "stretch") == ("missed by +3.2% on the median and +4.9% on the mean "
                                                     "against the 2% allowed")
    # the words follow the targets' own criteria: a stretch that checked success would say so
    checked = {**bench, "stretch_checks_success": True}
    assert findings.target_text(checked, "stretch").endswith(", and on success within ε = 2 (10.0% against 40.0%)")
