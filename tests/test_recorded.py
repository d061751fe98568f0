"""A recorded profile's Table 3 read back from its committed sweep, and set beside the paper."""

import json

import numpy as np
import pandas as pd
import pytest

from intrinsic_rob import paper
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.pipeline.recorded import compare_with_paper, finished_trials, record_table3, recorded_table3
from intrinsic_rob.pipeline.run import Run


def _point(root, method, trial, natural, pgd, done=True, profile="cpu"):
    folder = root / "results" / profile / "sweeps" / "table3_mnist" / "points" / f"method={method},trial={trial}-x"
    table = folder / "results" / profile
    table.mkdir(parents=True)
    rows = [{"eps": 0.0, "metric": "natural", "value": natural}] + [
        {"eps": e, "metric": "pgd", "value": v} for e, v in zip((1.0, 2.0, 3.0), pgd)]
    pd.DataFrame(rows).assign(training_seed=trial).to_csv(table / "table3_trial.csv", index=False)
    (table / "table3_trial.json").write_text(json.dumps({
        "commit": "abc", "device": "CPU", "torch": "2.13.0+cpu", "generator": "g", "generator_sha256": "g" * 64,
        "weights_sha256": f"{method}{trial}", "evaluated": 10000, "certified_on": 1000, "pgd_steps": 100}))
    if done:
        (folder / "done.json").write_text(json.dumps({"point": {"method": method, "trial": trial},
                                                      "tables": [f"results/{profile}/table3_trial.csv"],
                                                      "seconds": 600.0, "host": "vm"}))


def _record(root, profile="cpu"):
    record_table3(Run.from_environment(root, profile, {}))
    return recorded_table3(profile, root)


def test_recorded_table3_reads_finished_trials_with_provenance(tmp_path):
    assert recorded_table3("cpu", tmp_path) is None and finished_trials("cpu", tmp_path) is None
    with pytest.raises(InputError, match="no finished point"):
        record_table3(Run.from_environment(tmp_path, "cpu", {}))
    _point(tmp_path, "adv", 0, 0.96, (0.90, 0.80, 0.50))
    _point(tmp_path, "adv", 1, 0.98, (0.92, 0.82, 0.54))
    _point(tmp_path, "lp", 0, 0.88, (0.70, 0.50, 0.20))
    _point(tmp_path, "trades", 0, 0.5, (0.1, 0.1, 0.1), done=False)  # interrupted: not a trial
    rec = _record(tmp_path)
    # the record is what the point folders held, and stands without them
    import shutil
    shutil.rmtree(tmp_path / "results" / "cpu" / "sweeps")
    again = recorded_table3("cpu", tmp_path)
    pd.testing.assert_frame_equal(rec.trials, again.trials)
    assert (tmp_path / "results" / "cpu" / "table3_provenance_mnist.json").is_file()
    assert list(rec.provenance["method"]) == ["lp", "adv", "adv"]  # Table 3's order, then trial
    assert rec.provenance["weights_sha256"].tolist() == ["lp0", "adv0", "adv1"]
    assert rec.provenance["seconds"].sum() == 1800.0
    summary = rec.summary().set_index(["method", "metric", "eps"])
    assert summary.loc[("adv", "natural", 0.0), "mean"] == pytest.approx(0.97)
    assert summary.loc[("adv", "natural", 0.0), "std"] == pytest.approx(pd.Series([0.96, 0.98]).std())
    assert summary.loc[("adv", "natural", 0.0), "count"] == 2
    assert summary.loc[("lp", "pgd", 3.0), "std"] == 0.0  # one trial: no spread, not NaN
    assert "trades" not in rec.trials["method"].tolist()


def test_recorded_table3_refuses_a_done_point_without_its_table(tmp_path):
    _point(tmp_path, "adv", 0, 0.96, (0.90, 0.80, 0.50))
    folder = next((tmp_path / "results" / "cpu" / "sweeps" / "table3_mnist" / "points").iterdir())
    (folder / "results" / "cpu" / "table3_trial.csv").unlink()
    with pytest.raises(InputError, match="no table3_trial.csv"):
        record_table3(Run.from_environment(tmp_path, "cpu", {}))


def test_compare_with_paper_differences_in_points(tmp_path):
    _point(tmp_path, "trades", 0, 0.97, (0.90, 0.80, 0.50))
    compared = compare_with_paper(_record(tmp_path).summary()).set_index("quantity")
    printed = paper.TABLE3_ROBUST_PERCENT[("mnist", "trades")]
    assert compared.loc["natural", "difference"] == pytest.approx(97.0 - printed["natural"][0])
    assert compared.loc["PGD, eps = 3", "difference"] == pytest.approx(50.0 - printed[3.0][0])
    assert compared.loc["PGD, eps = 3", "paper_std"] == printed[3.0][1]


def test_recorded_findings_refuse_models_below_their_floor(tmp_path):
    from intrinsic_rob.pipeline import findings
    from intrinsic_rob.pipeline.floors import BelowFloor

    with pytest.raises(InputError, match="no Table 3 trial of the cpu profile"):
        findings.recorded_robust(tmp_path, "cpu")
    _point(tmp_path, "adv", 0, 0.96, (0.90, 0.80, 0.50))
    _point(tmp_path, "adv", 1, 0.98, (0.92, 0.82, 0.54))
    record_table3(Run.from_environment(tmp_path, "cpu", {}))
    found = findings.recorded_robust(tmp_path, "cpu")
    assert found["adv_trials"] == 2 and found["adv_natural"] == pytest.approx(0.97)
    assert found["adv_pgd_eps3_diff"] == pytest.approx(52.0 - paper.TABLE3_ROBUST_PERCENT[("mnist", "adv")][3.0][0])
    _point(tmp_path, "trades", 0, 0.10, (0.1, 0.1, 0.1))  # a model at chance: nothing may rest on it
    record_table3(Run.from_environment(tmp_path, "cpu", {}))
    with pytest.raises(BelowFloor, match="TRADES"):
        findings.recorded_robust(tmp_path, "cpu")


def _constants(root, method, values, digest="g" * 64, radius=0.5, profile="cpu"):
    folder = root / "results" / profile
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"class": k, "trial": t, "value": v, "method": method, "num_samples": 200, "radius": radius,
             "delta": 0.001}
            for t, per_class in enumerate(values) for k, v in enumerate(per_class)]
    pd.DataFrame(rows).to_csv(folder / f"lipschitz_mnist_{method}.csv", index=False)
    (folder / f"lipschitz_mnist_{method}.json").write_text(json.dumps({"generator_sha256": digest}))


def test_record_writes_bound_rows_from_the_same_generators_constants(tmp_path):
    from intrinsic_rob.estimators.lipschitz import supported_delta
    from intrinsic_rob.theory import bounds

    _point(tmp_path, "trades", 0, 0.97, (0.90, 0.80, 0.50))
    _point(tmp_path, "adv", 0, 0.90, (0.85, 0.70, 0.40))  # alpha is the best classifier's risk, TRADES's
    assert len(record_table3(Run.from_environment(tmp_path, "cpu", {}))) == 2  # no constants recorded: no bound rows
    # measured at r = 1, not the paper's 0.5: the rows are at the constants' own radius
    _constants(tmp_path, "sample", [[0.5] * 9 + [1.25], [0.6] * 10], radius=1.0)
    _constants(tmp_path, "gradient", [[1.5] * 10, [3.75] + [0.5] * 9], radius=1.0)
    paths = record_table3(Run.from_environment(tmp_path, "cpu", {}))
    assert paths[-1].name == "table3_bound_rows_mnist.csv"
    rows = pd.read_csv(paths[-1])
    meta = json.loads(paths[-1].with_suffix(".json").read_text())
    assert meta["lmax"] == {"sample": 1.25, "gradient": 3.75} and meta["samples_per_class"] == {"sample": 400,
                                                                                                 "gradient": 400}
    assert meta["radius"] == 1.0
    supported = supported_delta(400, exceeding=2)  # 400 latents per class, one per trial above its percentile
    assert meta["supported_delta"] == {"sample": supported, "gradient": supported}
    expected = bounds.theorem44_rows({"sample": 1.25, "gradient": 3.75}, radius=1.0, eps=[1.0, 2.0, 3.0],
                                     alphas={"paper": paper.TABLE3_SETTINGS[0].alpha, "best classifier": 1 - 0.97},
                                     deltas={"paper": paper.TABLE3_SETTINGS[0].delta, "supported": supported},
                                     class_probs=np.full(10, 0.1))
    assert np.allclose(rows["bound"], expected["bound"]) and rows["capped"].tolist() == expected["capped"].tolist()
    # delta adds to the bound: the supported rows lie above the paper's by the difference of the deltas
    by_delta = rows.set_index(["estimate", "form", "alpha_from", "eps", "delta_from"])["bound"].unstack()
    assert np.allclose(by_delta["supported"] - by_delta["paper"], supported - paper.TABLE3_SETTINGS[0].delta)
    # constants of another generator than the trials': refused, not silently used
    _constants(tmp_path, "gradient", [[3.0] * 10], digest="h" * 64, radius=1.0)
    with pytest.raises(InputError, match="generator"):
        record_table3(Run.from_environment(tmp_path, "cpu", {}))


def _figure2_point(root, method, epoch, risk, done=True, profile="cpu", digits=4, only_in_distribution=0,
                   attacked=None, folder_method=None):
    folder = (root / "results" / profile / "sweeps" / f"figure2_mnist_{folder_method or method}" / "points"
              / f"epoch={epoch},method={method}-{attacked or digits}")
    table = folder / "results" / profile
    table.mkdir(parents=True)
    pd.DataFrame([{"eps": e, "risk": risk, "unconstrained": 0.9 - 0.2 * e, "in_distribution": 0.95 - 0.2 * e,
                   "certified": 0.5 if method == "lp" else np.nan} for e in (1.0, 2.0, 3.0)]).to_csv(
        table / "figure2_point.csv", index=False)
    # by default every other digit is fooled by PGD only; with only_in_distribution, that many digits are
    # robust in distribution and fooled by PGD, the rest robust to both
    pd.DataFrame([{"digit": d, "eps": e,
                   "unconstrained": d >= only_in_distribution if only_in_distribution else d % 2 == 0,
                   "in_distribution": True}
                  for e in (1.0, 2.0, 3.0) for d in range(digits)]).to_csv(table / "figure2_outcomes.csv", index=False)
    meta = {"commit": "abc", "generator": "g", "generator_sha256": "g" * 64, "weights_sha256": f"{method}{epoch}",
            "attacked": attacked or digits, "certified_on": min(100, digits), "pgd_steps": 100,
            "in_distribution_settings": {"budget": 1000}}
    for name in ("figure2_point", "figure2_outcomes"):
        (table / f"{name}.json").write_text(json.dumps(meta))
    if done:
        (folder / "done.json").write_text(json.dumps({
            "point": {"method": method, "epoch": epoch}, "seconds": 300.0, "host": "vm",
            "tables": [f"results/{profile}/figure2_point.csv", f"results/{profile}/figure2_outcomes.csv"]}))


def test_recorded_figure2_reads_each_methods_finished_models_with_provenance(tmp_path):
    from intrinsic_rob.pipeline.recorded import finished_figure2, record_figure2, recorded_figure2

    assert recorded_figure2("cpu", tmp_path) is None and finished_figure2("cpu", tmp_path) is None
    with pytest.raises(InputError, match="^no finished point in results/cpu/sweeps/figure2_mnist_"):
        record_figure2(Run.from_environment(tmp_path, "cpu", {}))
    _figure2_point(tmp_path, "trades", 10, 0.02)
    _figure2_point(tmp_path, "trades", 5, 0.04)
    _figure2_point(tmp_path, "lp", 5, 0.10)
    _figure2_point(tmp_path, "adv", 5, 0.5, done=False)  # unfinished: left out
    record_figure2(Run.from_environment(tmp_path, "cpu", {}))
    rec = recorded_figure2("cpu", tmp_path)
    # Table 3's method order, then epoch; every model's three eps; the digits behind them
    assert rec.points[["method", "epoch"]].drop_duplicates().values.tolist() == [["lp", 5], ["trades", 5],
                                                                                 ["trades", 10]]
    assert len(rec.points) == 9 and len(rec.outcomes) == 3 * 12
    assert rec.points.loc[rec.points["method"] == "trades", "certified"].isna().all()
    assert rec.provenance["weights_sha256"].tolist() == ["lp5", "trades5", "trades10"]
    assert (rec.attacked, rec.certified_on) == (4, 4)
    (tmp_path / "results" / "cpu" / "figure2_outcomes_mnist.csv").unlink()
    with pytest.raises(InputError, match="has no figure2_outcomes_mnist.csv beside it"):
        recorded_figure2("cpu", tmp_path)


def test_record_figure2_writes_the_record_it_is_handed(tmp_path):
    from dataclasses import replace

    from intrinsic_rob.pipeline.recorded import finished_figure2, record_figure2, recorded_figure2

    _figure2_point(tmp_path, "trades", 5, 0.04)
    _figure2_point(tmp_path, "lp", 5, 0.10)
    found = finished_figure2("cpu", tmp_path)
    keep = {name: frame[frame["method"] == "lp"] for name, frame in
            (("points", found.points), ("outcomes", found.outcomes), ("provenance", found.provenance))}
    record_figure2(Run.from_environment(tmp_path, "cpu", {}), replace(found, **keep))  # not read again
    assert recorded_figure2("cpu", tmp_path).provenance["weights_sha256"].tolist() == ["lp5"]


def test_the_record_command_records_whichever_sweeps_have_finished(tmp_path):
    import subprocess
    import sys

    (tmp_path / "chapters").mkdir()
    (tmp_path / "book").mkdir()
    command = [sys.executable, "-m", "intrinsic_rob.cli", "record", "--profile", "cpu", "--root", str(tmp_path)]
    nothing = subprocess.run(command, capture_output=True, text=True)
    assert nothing.returncode == 2 and len(nothing.stderr.strip().splitlines()) == 1
    assert "no finished point" in nothing.stderr and not (tmp_path / "results" / "cpu").exists()
    _figure2_point(tmp_path, "trades", 5, 0.04)
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "recorded Figure 2: trades 1 model(s)" in done.stdout and "Table 3" not in done.stdout
    assert (tmp_path / "results" / "cpu" / "figure2_points_mnist.csv").is_file()
    assert not (tmp_path / "results" / "cpu" / "table3_trials_mnist.csv").exists()


def test_recorded_in_distribution_finding_tests_each_model_and_eps(tmp_path):
    from intrinsic_rob.pipeline import findings
    from intrinsic_rob.pipeline.recorded import record_figure2

    assert findings.recorded_in_distribution(tmp_path, "cpu") is None
    for method, epoch in (("lp", 5), ("trades", 5), ("trades", 10)):
        _figure2_point(tmp_path, method, epoch, 0.05)
    record_figure2(Run.from_environment(tmp_path, "cpu", {}))
    found = findings.recorded_in_distribution(tmp_path, "cpu")
    # 2 of 4 digits robust in distribution only: too few to tell apart at 95%, for each of 3 models x 3 eps
    assert (found["models"], found["pairs"], found["higher"], found["same"], found["lower"]) == (3, 9, 0, 9, 0)
    assert found["methods"] == ["LP-Certify", "TRADES"] and found["digits"] == 4 and not found["complete"]
    assert found["difference_eps1"] == pytest.approx(0.05) and found["higher_eps"] == []


def test_recorded_in_distribution_finds_in_distribution_robustness_higher(tmp_path):
    from intrinsic_rob.pipeline import findings
    from intrinsic_rob.pipeline.recorded import record_figure2

    for epoch in (5, 10):  # 60 of 400 digits robust in distribution only, none the other way round
        _figure2_point(tmp_path, "trades", epoch, 0.01, digits=400, only_in_distribution=60)
    record_figure2(Run.from_environment(tmp_path, "cpu", {}))
    found = findings.recorded_in_distribution(tmp_path, "cpu")
    assert (found["pairs"], found["higher"], found["same"], found["lower"]) == (6, 6, 0, 0)
    assert found["higher_eps"] == [1.0, 2.0, 3.0] and found["digits"] == 400
    assert found["every_model_eps"] == [1.0, 2.0, 3.0] and (found["higher_trades"], found["pairs_trades"]) == (6, 6)


def test_recorded_in_distribution_counts_each_method_and_the_eps_where_every_model_agrees(tmp_path):
    from intrinsic_rob.pipeline import findings
    from intrinsic_rob.pipeline.recorded import record_figure2

    _figure2_point(tmp_path, "trades", 5, 0.01, digits=400, only_in_distribution=60)
    _figure2_point(tmp_path, "adv", 5, 0.01, digits=400, only_in_distribution=1)  # one digit: no difference
    _figure2_point(tmp_path, "lp", 5, 0.01, digits=400, only_in_distribution=1)
    record_figure2(Run.from_environment(tmp_path, "cpu", {}))
    found = findings.recorded_in_distribution(tmp_path, "cpu")
    assert found["complete"] and (found["higher_lp"], found["pairs_lp"]) == (0, 3)
    assert (found["higher_trades"], found["pairs_trades"], found["higher_adv"], found["pairs_adv"]) == (3, 3, 0, 3)
    assert found["higher"] == 3 and found["higher_eps"] == [1.0, 2.0, 3.0] and found["every_model_eps"] == []


@pytest.mark.parametrize("second, message", [
    (dict(method="trades", epoch=5, folder_method="adv"), "a point of another method, or a model measured twice"),
    (dict(method="trades", epoch=5, attacked=8), "a point of another method, or a model measured twice"),
    (dict(method="trades", epoch=10, attacked=8), "the points differ in attacked"),
])
def test_recorded_figure2_refuses_points_that_do_not_belong_together(tmp_path, second, message):
    from intrinsic_rob.pipeline.recorded import finished_figure2

    _figure2_point(tmp_path, "trades", 5, 0.02)
    _figure2_point(tmp_path, risk=0.02, **second)
    with pytest.raises(InputError, match=message) as info:
        finished_figure2("cpu", tmp_path)
    assert "\n" not in str(info.value)
