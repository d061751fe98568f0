"""The reproduction's findings, computed from the recorded results and the paper's printed values.

One computation serves the "Conclusions" chapter, which glues every number below into
its prose, and ``tests/test_readme_findings.py``, which checks the README quotes the
same numbers. Each function reads the tables the chapters wrote (``results/<profile>/``,
the committed paper-profile run under ``results/paper/``) and returns plain numbers;
formatting is the reader's business. A function whose tables are missing raises
:class:`InputError` naming the chapter that writes them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from intrinsic_rob import paper
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.models.methods import PAPER_METHODS
from intrinsic_rob.pipeline.floors import METHOD_NAMES, check_floors
from intrinsic_rob.theory import bounds

MNIST = paper.TABLE3_SETTINGS[0]
RECORDED_REMARK46 = "remark46_test_recorded_mnist"  # chapter 5's test of the recorded profile's Figure 2
IMAGENET10 = paper.TABLE3_SETTINGS[1]


def _table(root: Path, profile: str, name: str, chapter: str) -> pd.DataFrame:
    path = Path(root) / "results" / profile / f"{name}.csv"
    if not path.is_file():
        raise InputError(f"results/{profile}/{name}.csv is missing: run chapter {chapter} with --profile {profile}")
    return pd.read_csv(path)


def _provenance(root: Path, profile: str, name: str, chapter: str) -> dict[str, Any]:
    path = Path(root) / "results" / profile / f"{name}.json"
    if not path.is_file():
        raise InputError(f"results/{profile}/{name}.json is missing: run chapter {chapter} with --profile {profile}")
    return json.loads(path.read_text())


def _mnist_bound(lipschitz: Any, radius: float | None, eps: float = 3.0) -> float:
    """Table 3's MNIST bound (per-class risk, its alpha and delta) as a fraction."""
    return float(bounds.robustness_bound(MNIST.alpha, eps, lipschitz, radius=radius, delta=MNIST.delta,
                                         per_class_risk=True))


def theory() -> dict[str, float]:
    """Chapter 1: the bound row of Table 3, the hypothesis floor, Remark 4.5, Fawzi et al.

    Example:
        >>> round(100 * theory()["remark45"], 2)
        74.05
    """
    remark = paper.REMARK_4_5
    return {
        # no constant, however small, gives a valid MNIST bound below this at r = 0.5, eps = 3
        "floor": _mnist_bound(1e-9, paper.LIPSCHITZ_RADIUS),
        "imagenet_eps3": float(bounds.robustness_bound(IMAGENET10.alpha, 3.0, IMAGENET10.lipschitz_means,
                                                       radius=paper.LIPSCHITZ_RADIUS, delta=IMAGENET10.delta,
                                                       per_class_risk=True)),
        "imagenet_eps3_printed": paper.TABLE3_BOUND_PERCENT["ImageNet10"][-1] / 100,
        "remark45": float(bounds.robustness_bound(remark["alpha"], remark["eps_over_l"], 1.0, radius=None,
                                                  per_class_risk=True)),
        "remark45_stated": remark["stated_percent"] / 100,
        "fawzi_vacuous": bounds.fawzi_vacuous_radius(paper.UNCONDITIONAL_MNIST_LIPSCHITZ),
        "fawzi_vacuous_01": bounds.fawzi_vacuous_radius(paper.UNCONDITIONAL_MNIST_LIPSCHITZ / 2),
    }


def bound_row(root: Path, profile: str = "quick") -> dict[str, float]:
    """Chapter 1: how many of Table 3's bound entries our computation reproduces when rounded as printed."""
    row = _table(root, profile, "table3_bound_row", "01_theory")
    same = (row["ours, rounded (%)"] - row["paper (%)"]).abs() < 1e-9
    return {"entries": float(len(row)), "reproduced": float(same.sum())}


def radius_lever(root: Path) -> dict[str, float]:
    """Chapter 3 (quick profile): the strongest bound within Theorem 4.3's hypothesis at eps = 3 over the radii, per
    estimator, at Table 3's delta (``lever_<method>``), and at the delta the latents behind that radius's constant
    support (``lever_<method>_supported``, with ``lever_<method>_delta`` and ``lever_<method>_samples`` per class).
    ``lever_<method>_exceeded`` is 1.0 where gradient ascent's constant at that radius exceeds the one the bound
    used and gives a higher bound there (:func:`~intrinsic_rob.estimators.lipschitz.gradient_exceeds_sampled`)."""
    from intrinsic_rob.estimators.lipschitz import (
        gradient_exceeds_sampled,
        samples_at_radius,
        supported_delta_at_radius,
    )

    lever = _table(root, "quick", "bound_by_radius_mnist", "03_lipschitz")
    lever = lever[lever["eps"] == 3.0]
    best = lever.loc[lever.groupby("method")["bound (%)"].idxmin()].set_index("method")
    exceeded = gradient_exceeds_sampled(lever)
    constants = _table(root, "quick", "lipschitz_by_radius_mnist", "03_lipschitz")
    radii = {float(r) for r in best["r"]}
    samples = {r: samples_at_radius(constants, r) for r in radii}
    deltas = {r: supported_delta_at_radius(constants, r) for r in radii}
    out = {"radius_low": float(lever["r"].min()), "radius_high": float(lever["r"].max())}
    for method in ("gradient", "sample"):
        r, lip = float(best.loc[method, "r"]), float(best.loc[method, "L_max(r)"])
        out[f"lever_{method}"] = float(best.loc[method, "bound (%)"]) / 100
        # the flag compares gradient ascent's constant with the sampled one: a gradient row is never flagged
        out[f"lever_{method}_exceeded"] = float(method == "sample" and bool(exceeded.loc[(r, 3.0)]))
        out[f"lever_{method}_r"] = r
        out[f"lever_{method}_samples"] = float(samples[r][method])
        out[f"lever_{method}_delta"] = deltas[r][method]
        out[f"lever_{method}_supported"] = float(bounds.robustness_bound(
            MNIST.alpha, 3.0, lip, radius=r, delta=out[f"lever_{method}_delta"], per_class_risk=True))
    return out


def recorded_lipschitz(root: Path) -> dict[str, float]:
    """Chapter 3 (the recorded paper-profile run): constants against the paper's, and their bounds."""
    means = {m: _table(root, "paper", f"lipschitz_mnist_{m}", "03_lipschitz").groupby("class")["value"].mean()
             for m in ("sample", "gradient")}
    halved = np.array([paper.TABLE1_MNIST_LIPSCHITZ[f"digit {k}"][0] / 2 for k in range(10)])
    above = means["sample"].to_numpy() / halved - 1
    ratio = means["gradient"] / means["sample"]
    unconditional = {m: _table(root, "paper", f"lipschitz_mnist_unconditional_{m}", "03_lipschitz")["value"].mean()
                     for m in ("sample", "gradient")}
    lmax = {m: float(means[m].max()) for m in means}
    return {
        "above_min": float(above.min()), "above_max": float(above.max()), "above_mean": float(above.mean()),
        "correlation": float(np.corrcoef(means["sample"], halved)[0, 1]),
        "gradient_ratio_min": float(ratio.min()), "gradient_ratio_max": float(ratio.max()),
        "bound_sample": _mnist_bound(lmax["sample"], paper.LIPSCHITZ_RADIUS),
        "rl_sample": paper.LIPSCHITZ_RADIUS * lmax["sample"],
        "bound_gradient": _mnist_bound(lmax["gradient"], paper.LIPSCHITZ_RADIUS),
        "unconditional_sample": float(unconditional["sample"]) / lmax["sample"],
        "unconditional_gradient": float(unconditional["gradient"]) / lmax["gradient"],
        "unconditional_paper": paper.UNCONDITIONAL_MNIST_LIPSCHITZ / 11.0,
    }


def recognisability(root: Path) -> dict[str, Any]:
    """Chapter 2: the share of generated digits a real-digit CNN recognises as their labels."""
    out: dict[str, Any] = {"paper_steps": paper.ACGAN_EPOCHS * math.ceil(paper.REAL_MNIST_TRAIN_SIZE
                                                                         / paper.ACGAN_BATCH_SIZE)}
    for profile in ("quick", "paper"):
        path = Path(root) / "results" / profile / "mnist_generated_recognisability.json"
        if not path.is_file():
            raise InputError(f"results/{profile}/mnist_generated_recognisability.json is missing: run chapter "
                             f"02_generators with --profile {profile}")
        cnn = next(j for j in json.loads(path.read_text())["judges"] if j["judge"] == "CNN")
        out[f"{profile}_overall"] = float(cnn["generated, overall"])
        out[f"{profile}_worst"] = float(cnn["generated, worst class"])
        out[f"{profile}_worst_class"] = str(cnn["worst class"])
    return out


def robust_classifiers(root: Path, profile: str = "quick") -> dict[str, float]:
    """Chapter 4: Table 3's robust accuracy at eps = 3 per method, the original evaluation's overstatement.

    Refuses (:class:`~intrinsic_rob.pipeline.floors.BelowFloor`) when any of the table's models is
    below its floor (:mod:`intrinsic_rob.pipeline.floors`): no finding rests on a model that has not
    learned.
    """
    table = _table(root, profile, "table3_robust_mnist", "04_robust")
    check_floors(table)
    mean = table.groupby(["method", "metric", "eps"])["value"].mean()
    out = {}
    for method in PAPER_METHODS:
        out[f"{method}_natural"] = float(mean[method, "natural", 0.0])
        out[f"{method}_pgd_eps3"] = float(mean[method, "pgd", 3.0])
    out["lp_certified_eps3"] = float(mean["lp", "certified", 3.0])
    evaluations = _table(root, profile, "pgd_evaluations_mnist", "04_robust")
    gap = evaluations["original (no start, last iterate)"] - evaluations["pgd_l2"]  # its omissions alone
    out["overstated_max"] = float(gap.max())
    worst = evaluations.loc[gap.idxmax()]
    out["overstated_eps"] = float(worst["eps"])
    out["overstated_method"] = str(worst["method"])
    out["overstated_digits"] = float(_provenance(root, profile, "pgd_evaluations_mnist", "04_robust")["digits"])
    return out


def _paired_verdicts(paired: pd.DataFrame) -> dict[str, tuple[int, list[float]]]:
    """Section 5.4's paired test by verdict: for ``higher``, ``same`` and ``lower`` (in-distribution
    robustness above, level with, below PGD's), how many (model, eps) pairs and at which eps."""
    out = {}
    for verdict, key in (("in-distribution higher", "higher"), ("no difference", "same"),
                         ("unconstrained higher", "lower")):
        rows = paired[paired["verdict"] == verdict]
        out[key] = (len(rows), sorted({float(e) for e in rows["eps"]}))
    return out


def _remark46_counts(test: pd.DataFrame) -> dict[str, float]:
    """Remark 4.6's test rows (:func:`~intrinsic_rob.estimators.in_dist.remark46_test`) counted per kind of point:
    ``<kind>_points``, ``<kind>_at_chance``, ``<kind>_above_capped``, ``<kind>_above_uncapped``, ``<kind>_margin``."""
    from intrinsic_rob.estimators.in_dist import AT_CHANCE, VERDICTS

    out = {}
    for kind in ("measured", "certified"):
        rows = test[test["kind"] == kind]
        out[f"{kind}_at_chance"] = float(len(rows[rows["verdict"] == AT_CHANCE][["label", "eps"]].drop_duplicates()))
        rows = rows[rows["verdict"] != AT_CHANCE]  # a classifier at chance supports nothing
        capped = rows["curve"].str.endswith("capped at r")
        above = rows["verdict"].isin(list(VERDICTS.values()))
        out[f"{kind}_points"] = float(len(rows[["label", "eps"]].drop_duplicates()))
        # the points that met a capped curve below 100%, where they could lie above it
        out[f"{kind}_testable_capped"] = float(len(rows[capped & rows["testable"].astype(bool)][["label", "eps"]]
                                                   .drop_duplicates()))
        out[f"{kind}_above_capped"] = float(len(rows[above & capped][["label", "eps"]].drop_duplicates()))
        out[f"{kind}_above_uncapped"] = float(len(rows[above & ~capped][["label", "eps"]].drop_duplicates()))
        out[f"{kind}_margin"] = float(rows[capped]["margin"].max()) if len(rows) else float("nan")
    return out


def _recorded_remark46(root: Path, profile: str) -> dict[str, float]:
    """Chapter 5's Remark 4.6 test of a recorded profile's Figure 2, counted; refused when the record it tested
    (its models' weights) is no longer the one committed, so that no stale count is quoted."""
    from intrinsic_rob.pipeline.recorded import FIGURE2_PROVENANCE

    meta = _provenance(root, profile, RECORDED_REMARK46, "05_in_distribution")
    recorded = meta.get("recorded_profile", "")
    record = Path(root) / "results" / recorded / f"{FIGURE2_PROVENANCE}.csv"
    now = sorted(pd.read_csv(record)["weights_sha256"]) if recorded and record.is_file() else None
    if now != meta.get("weights_sha256"):
        raise InputError(f"results/{profile}/{RECORDED_REMARK46}.csv tests another record of the {recorded or '?'} "
                         f"profile's Figure 2 than results/{recorded or '?'}/: run chapter 05_in_distribution again")
    return _remark46_counts(_table(root, profile, RECORDED_REMARK46, "05_in_distribution"))


def in_distribution(root: Path, profile: str = "quick") -> dict[str, float]:
    """Chapter 5: Remark 4.6's test of the bound, by kind of point (measured, certified) and of curve.

    ``<kind>_points``: the (model, eps) points counted, those of classifiers at chance
    left out (``<kind>_at_chance`` of them); ``<kind>_above_capped`` and
    ``<kind>_above_uncapped``: how many lie above a curve with, or without, the radius cap
    beyond the sampling error; ``<kind>_margin``: the largest margin (point minus bound)
    over the capped curves; ``rec46_<key>``: the same for the recorded profile's Figure 2, where
    chapter 5 tested one (``RECORDED_REMARK46``). ``figure2_budget``: the attack's budget in Figure 2
    (propagations per digit; NaN for (5.2), which runs rounds); ``figure2_budget_excess``:
    how much farther the augmented Lagrangian's median distance is at that budget than at
    ``largest_budget``, the largest of the chapter's budget comparison (NaN where that
    comparison did not run it).
    """
    test = _table(root, profile, "remark46_test_mnist", "05_in_distribution")
    meta = _provenance(root, profile, "remark46_test_mnist", "05_in_distribution")
    out = {"confidence": float(meta["confidence"]), **_remark46_counts(test)}
    if (Path(root) / "results" / profile / f"{RECORDED_REMARK46}.csv").is_file():
        out.update({f"rec46_{key}": value for key, value in _recorded_remark46(root, profile).items()})
    starts = _table(root, profile, "in_dist_starts_mnist", "05_in_distribution").set_index("start")
    out["fitted_mean"] = float(starts["mean distance (found)"].iloc[0])
    out["recorded_mean"] = float(starts["mean distance (found)"].iloc[1])
    original = _table(root, profile, "in_dist_original_mnist", "05_in_distribution").set_index("attack")
    about = _provenance(root, profile, "in_dist_original_mnist", "05_in_distribution")
    out["original_digits"], out["original_model"] = float(about["digits"]), str(about["model"])
    for name, key in (("original schedule", "original"), ("per-example search", "ours"),
                      ("augmented Lagrangian", "alm")):
        out[f"{key}_success"] = float(original.loc[name, "success rate"])
        out[f"{key}_mean"] = float(original.loc[name, "mean distance (found)"])
        out[f"{key}_evaluations"] = float(original.loc[name, "evaluations"])
    paired = _table(root, profile, "in_dist_vs_pgd_mnist", "05_in_distribution")
    out["paired_pairs"] = float(len(paired))
    for key, (count, eps) in _paired_verdicts(paired).items():
        out[f"paired_{key}"] = float(count)
        out[f"paired_{key}_eps"] = eps
    out["paired_level"] = float(paired["level"].iloc[0])
    out["paired_n"] = float(paired["n"].min())
    # Figure 2's attack budget, and how far short of the chapter's largest budget its median distance falls
    from intrinsic_rob.bench.in_dist import LAGRANGIAN, budget_excess

    figure2_meta = _provenance(root, profile, "figure2_in_distribution_mnist", "05_in_distribution")
    budget = figure2_meta.get("in_distribution_settings", {}).get("budget")  # (5.2) has rounds, not a budget
    budgets = _table(root, profile, "in_dist_budgets_mnist", "05_in_distribution")
    out["figure2_budget"] = float("nan") if budget is None else float(budget)
    out["largest_budget"] = float(budgets.loc[budgets["attack"] == LAGRANGIAN, "budget"].max())
    out["figure2_budget_excess"] = budget_excess(budgets, budget)
    # the delta Algorithm 1's sample supports (Chapter 5's curves), recomputed from Chapter 3's constants
    from intrinsic_rob.estimators.lipschitz import (
        percentile_supported_delta,
        samples_at_radius,
        supported_delta_at_radius,
    )

    lipschitz = _table(root, profile, "lipschitz_by_radius_mnist", "03_lipschitz")
    out["delta_samples"] = float(min(samples_at_radius(lipschitz, paper.LIPSCHITZ_RADIUS).values()))
    out["delta"] = max(supported_delta_at_radius(lipschitz, paper.LIPSCHITZ_RADIUS).values())
    out["paper_samples_delta"] = percentile_supported_delta(paper.LIPSCHITZ_SAMPLES, paper.LIPSCHITZ_DELTA)
    return out


def recorded_robust(root: Path, profile: str = "cpu") -> dict[str, Any]:
    """Chapter 4's recorded run (:func:`intrinsic_rob.pipeline.recorded.recorded_table3`) beside Table 3.

    Per method: ``<method>_trials`` recorded, ``<method>_natural`` and
    ``<method>_pgd_eps<e>`` (means over the trials) and ``<method>_natural_diff`` /
    ``<method>_pgd_eps<e>_diff`` (ours - paper, in points). Refuses
    (:class:`~intrinsic_rob.pipeline.floors.BelowFloor`) when a recorded model is below its floor,
    and raises :class:`InputError` when nothing of ``profile`` is recorded.
    """
    from intrinsic_rob.pipeline.recorded import compare_with_paper, recorded_table3

    rec = recorded_table3(profile, Path(root))
    if rec is None:
        raise InputError(f"no Table 3 trial of the {profile} profile is recorded under results/{profile}/sweeps/")
    check_floors(rec.trials.rename(columns={"trial": "seed"}))
    out: dict[str, Any] = {"profile": profile, "hours": float(rec.provenance["seconds"].sum()) / 3600}
    for method, count in rec.provenance.groupby("method")["trial"].nunique().items():
        out[f"{method}_trials"] = float(count)
    for r in compare_with_paper(rec.summary()).itertuples(index=False):
        key = f"{r.method}_natural" if r.quantity == "natural" else f"{r.method}_pgd_eps{r.quantity.split()[-1]}"
        out[key] = r.ours / 100
        out[f"{key}_diff"] = r.difference
    return out


def recorded_bound(root: Path, profile: str = "cpu", eps: float = 3.0) -> dict[str, Any] | None:
    """Chapter 4's recorded bound rows against the recorded classifiers: Table 3's form at the paper's alpha and
    the delta the recorded constants support, the smaller of the two estimates at ``eps`` (``bound``, with
    ``delta`` and ``samples`` per class), and the most robust recorded model there (``best_method``,
    ``best_pgd``). None where the bound rows or the trials are not recorded.
    """
    from intrinsic_rob.pipeline.recorded import recorded_table3
    from intrinsic_rob.pipeline.results import read_recorded_table

    found, rec = read_recorded_table("table3_bound_rows_mnist", profile, Path(root)), recorded_table3(profile, root)
    if found is None or rec is None:
        return None
    rows, meta = found
    rows = rows[(rows["form"] == "per-class") & (rows["alpha_from"] == "paper") & (rows["delta_from"] == "supported")
                & np.isclose(rows["eps"], eps)]
    pgd = rec.summary()
    pgd = pgd[(pgd["metric"] == "pgd") & np.isclose(pgd["eps"], eps)].set_index("method")["mean"]
    return {"bound": float(rows["bound"].min()), "delta": float(rows["delta"].max()),
            "samples": int(min(meta["samples_per_class"].values())), "best_method": METHOD_NAMES[pgd.idxmax()],
            "best_pgd": float(pgd.max())}


def recorded_bound_text(b: dict[str, Any] | None, eps: float = 3.0) -> str:
    """:func:`recorded_bound`'s numbers as the chapters word them; "" when nothing is recorded.

    Example:
        >>> recorded_bound_text({"bound": 0.958, "delta": 0.005, "samples": 600, "best_method": "Adv-Train",
        ...                      "best_pgd": 0.52})[:60]
        "At the δ = 0.005 that its constants' 600 latents per class s"
    """
    if b is None:
        return ""
    if b["bound"] >= 1:
        return "At the δ its constants support, Table 3's bound is above 100% and says nothing about its models."
    return (f"At the δ = {b['delta']:.3f} that its constants' {b['samples']:,} latents per class support, Table 3's "
            f"bound for its generator is {100 * b['bound']:.1f}% at ε = {eps:g} (the smaller of the two "
            f"estimates), {100 * (b['bound'] - b['best_pgd']):.1f} points above its most robust model, "
            f"{b['best_method']} ({100 * b['best_pgd']:.1f}%).")


def _at_alpha(table: pd.DataFrame, alpha: float) -> dict[str, float]:
    """A bracket table's half-spaces of measure at least ``alpha`` (those shown to hold it), per eps:
    ``lower_eps<e>`` and each ``upper_<estimate>_eps<e>`` column's value; empty if there are none."""
    at = table[np.isclose(table["alpha"], alpha) & table["in_class"]].set_index("eps")
    uppers = [f"upper_{e}" for e in _estimates(table)]
    out = {}
    for eps, row in at.iterrows():
        out[f"lower_eps{eps:g}"] = float(row["robustness_lower"])
        out.update({f"{column}_eps{eps:g}": float(row[column]) for column in uppers})
    return out


def _estimates(table: pd.DataFrame) -> list[str]:
    """The estimates of L whose upper bounds a bracket table holds (its ``upper_<estimate>`` columns)."""
    return [c.removeprefix("upper_") for c in table.columns if c.startswith("upper_")]


def bracket(root: Path, profile: str = "quick") -> dict[str, Any]:
    """Chapter 6: intrinsic robustness bracketed at Table 3's alpha, from ``results/<profile>/bracket_mnist``.

    Keys: ``alpha``, ``n_eval`` (fresh images counted), ``constants`` (whose Lipschitz
    constants the upper bounds use), per eps ``lower_eps<e>`` (the half-space's lower bound
    on Rob(F_alpha)) and ``upper_<estimate>_eps<e>`` (Theorem 4.4's bound with that
    estimate of L, for each of ``estimates``); of the classifiers set against the bracket at their own risk
    (``results/<profile>/bracket_classifiers_mnist``), ``pairs`` (classifier and eps),
    ``below`` (how many keep less than the lower bound) and ``margin_min`` (the smallest
    margin below it), and the same per eps (``pairs_eps<e>``, ``below_eps<e>``,
    ``margin_min_eps<e>``). Raises :class:`InputError` where the chapter has not run.
    """
    table = _table(root, profile, "bracket_mnist", "06_bracket")
    against = _table(root, profile, "bracket_classifiers_mnist", "06_bracket")
    meta = _provenance(root, profile, "bracket_mnist", "06_bracket")
    alpha = paper.TABLE3_SETTINGS[0].alpha
    at = _at_alpha(table, alpha)
    if not at:
        raise InputError(f"results/{profile}/bracket_mnist.csv holds no half-space of measure at least alpha = "
                         f"{alpha:g}")
    margin = against["below the lower bound by"]
    out: dict[str, Any] = {"alpha": alpha, "n_eval": int(table["n_eval"].iloc[0]), "estimates": _estimates(table),
                           "constants": meta["upper_constants"], "pairs": len(against),
                           "below": int((margin > 0).sum()), "margin_min": float(margin.min()), **at}
    for eps, m in against.groupby("eps")["below the lower bound by"]:
        out[f"pairs_eps{eps:g}"], out[f"below_eps{eps:g}"] = len(m), int((m > 0).sum())
        out[f"margin_min_eps{eps:g}"] = float(m.min())
    return out


def recorded_bracket(root: Path, profile: str = "cpu") -> dict[str, Any] | None:
    """The recorded ``intrinsic-rob concentration --profile <profile>`` runs (both forms), or None.

    Keys per form (``total``: F_alpha, ``per_class``: F~_alpha) and eps at Table 3's alpha:
    ``<form>_lower_eps<e>`` and ``<form>_upper_<estimate>_eps<e>`` for each of ``<form>_estimates``;
    ``n_eval``.
    """
    from intrinsic_rob.pipeline.results import read_recorded_table

    alpha = paper.TABLE3_SETTINGS[0].alpha
    out: dict[str, Any] = {}
    for form, suffix in (("total", ""), ("per_class", "_per_class")):
        found = read_recorded_table(f"concentration_mnist{suffix}", profile, Path(root))
        if found is None:
            continue
        table = found[0]
        at = _at_alpha(table, alpha)
        if not at:
            continue
        out["n_eval"] = int(table["n_eval"].min())
        out[f"{form}_estimates"] = _estimates(table)
        out.update({f"{form}_{key}": value for key, value in at.items()})
    return out or None


def recorded_in_distribution(root: Path, profile: str = "cpu") -> dict[str, Any] | None:
    """Section 5.4's claim on a recorded profile's Figure 2 (:func:`~intrinsic_rob.pipeline.recorded.recorded_figure2`):
    McNemar's paired test of in-distribution against PGD robustness per model and eps (95%, Bonferroni); None
    where nothing is recorded.

    Keys: ``models``, ``methods`` (their names, in Table 3's order), ``complete`` (every method of
    Table 3 recorded), ``digits`` (per model), ``pairs``, ``higher``, ``same``, ``lower`` (pairs
    by verdict), ``higher_eps``; per method,
    ``higher_<method>`` of ``pairs_<method>``; ``every_model_eps``: the eps at which it is higher
    for every model; ``every_eps_methods``: the methods for whose every model it is higher at every
    eps; and per eps, ``difference_eps<e>``: in-distribution minus PGD robustness,
    averaged over the models.
    """
    from intrinsic_rob.estimators.in_dist import paired_test
    from intrinsic_rob.pipeline.floors import METHOD_NAMES
    from intrinsic_rob.pipeline.recorded import recorded_figure2

    rec = recorded_figure2(profile, Path(root))
    if rec is None:
        return None
    paired = paired_test(rec.outcomes, by=("method", "epoch", "eps"), confidence=0.95)
    out: dict[str, Any] = {"models": len(rec.provenance), "digits": rec.attacked, "pairs": len(paired),
                           "methods": [METHOD_NAMES[m] for m in dict.fromkeys(rec.points["method"])]}
    out["complete"] = len(out["methods"]) == len(METHOD_NAMES)
    verdicts = _paired_verdicts(paired)
    out.update({key: count for key, (count, _) in verdicts.items()})
    out["higher_eps"] = verdicts["higher"][1]
    higher = paired["verdict"] == "in-distribution higher"
    by_method = higher.groupby(paired["method"], sort=False).agg(["sum", "size", "all"])
    for method, row in by_method.iterrows():
        out[f"higher_{method}"], out[f"pairs_{method}"] = int(row["sum"]), int(row["size"])
    every = higher.groupby(paired["eps"]).all()
    out["every_model_eps"] = [float(e) for e in every.index[every]]
    out["every_eps_methods"] = [METHOD_NAMES[m] for m in by_method.index[by_method["all"].astype(bool)]]
    gap = (rec.points["in_distribution"] - rec.points["unconstrained"]).groupby(rec.points["eps"]).mean()
    out.update({f"difference_eps{e:g}": float(v) for e, v in gap.items()})
    return out


def target_text(bench: dict[str, Any], name: str) -> str:
    """How a target of :func:`attack_benchmark` (``name``: ``target`` or ``stretch``) fared, in words.

    "met", or what fell short: the distances (ratios to the baseline's, with the target's
    ``<name>_slack`` the share allowed above it) and, where the target checks it
    (``<name>_checks_success``), the success within ``<name>_eps``. All of these are
    :func:`attack_benchmark`'s keys, taken from the benchmark's own targets.

    Example:
        >>> target_text({"target_met": False, "target_median_ratio": 0.998, "target_mean_ratio": 0.999,
        ...              "target_slack": 0.0, "target_eps": 2.0, "target_checks_success": True,
        ...              "target_success2": 0.375, "target_baseline_success2": 0.40625}, "target")
        'met on distance (median -0.2%, mean -0.1%) and missed on success within ε = 2 (37.5% against 40.6%)'
    """
    if bench[f"{name}_met"]:
        return "met"
    slack, eps = bench[f"{name}_slack"], bench[f"{name}_eps"]
    median, mean = 100 * (bench[f"{name}_median_ratio"] - 1), 100 * (bench[f"{name}_mean_ratio"] - 1)
    allowed = f" against the {100 * slack:.0f}% allowed" if slack else ""
    success = bench.get(f"{name}_success2")
    short = (bench[f"{name}_checks_success"] and success is not None
             and success < bench[f"{name}_baseline_success2"])
    success_words = (f"success within ε = {eps:g} ({success:.1%} against {bench[f'{name}_baseline_success2']:.1%})"
                     if short else "")
    if max(median, mean) <= 100 * slack and short:
        return f"met on distance (median {median:+.1f}%, mean {mean:+.1f}%) and missed on {success_words}"
    distance = f"missed by {median:+.1f}% on the median and {mean:+.1f}% on the mean{allowed}"
    return distance + (f", and on {success_words}" if short else "")


def attack_benchmark(root: Path, recorded: tuple[pd.DataFrame, dict] | None = None) -> dict[str, Any]:
    """The recorded ``bench in-dist`` (results/quick/bench_in_dist_budgets, or ``recorded``: that table and its
    provenance, already read): each attack's median and mean distance and success at eps = 2 by budget, and the
    targets' verdict.

    Keys: ``<attack key>_<budget>_{median,mean,success2}`` with attack keys ``baseline``
    ((5.2), Appendix B.2), ``original`` and ``alm`` (the augmented Lagrangian);
    ``examples``; ``target_met``, ``target_mean_ratio``, ``target_median_ratio``,
    ``target_success2`` and ``target_baseline_success2``, and what the target asks
    (``target_slack``, ``target_eps``, ``target_checks_success``: :data:`~intrinsic_rob.bench.in_dist.TARGETS`)
    (and the same for ``stretch``);
    ``baseline_budget``; ``violations`` and ``cross_checked`` (the image-space cross-check of
    the augmented Lagrangian). Raises :class:`InputError` when nothing is recorded.
    """
    from intrinsic_rob.bench.in_dist import BASELINE, LAGRANGIAN, ORIGINAL, TARGET_EPS, TARGETS
    from intrinsic_rob.pipeline.results import read_recorded_table

    found = recorded if recorded is not None else read_recorded_table("bench_in_dist_budgets", "quick", Path(root))
    if found is None:
        raise InputError("no in-distribution attack benchmark is recorded under results/quick/")
    table, meta = found
    keys = {BASELINE: "baseline", ORIGINAL: "original", LAGRANGIAN: "alm"}
    out: dict[str, Any] = {"examples": float(meta["about"]["examples"]),
                           "baseline_budget": float(meta["verdict"]["baseline_budget"])}
    for row in table.itertuples(index=False):
        key = f"{keys[row.attack]}_{int(row.budget)}"
        out[f"{key}_median"], out[f"{key}_mean"], out[f"{key}_success2"] = (float(row.median), float(row.mean),
                                                                           float(row.success_eps2))
    success = f"success_eps{TARGET_EPS:g}"
    for name in ("target", "stretch"):
        verdict = meta["verdict"].get(name)
        if verdict is not None:
            out[f"{name}_met"] = bool(verdict["met"])
            goal = TARGETS[name]
            out[f"{name}_slack"], out[f"{name}_eps"], out[f"{name}_checks_success"] = (goal.slack, TARGET_EPS,
                                                                                        goal.success)
            out[f"{name}_budget"] = float(verdict["budget"])
            out[f"{name}_mean_ratio"] = float(verdict["mean_ratio"])
            out[f"{name}_median_ratio"] = float(verdict["median_ratio"])
            if success in verdict:
                out[f"{name}_success2"] = float(verdict[success])
                out[f"{name}_baseline_success2"] = float(verdict[f"baseline_{success}"])
    check = meta["about"].get("cross_check", {}).get(LAGRANGIAN)
    if check:
        out["violations"], out["cross_checked"] = float(check["violations"]), float(check["examples"])
    return out
