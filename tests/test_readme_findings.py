"""The README's findings quote numbers the book computed: recompute each from the recorded
results (and the paper's printed values) and check the README says it."""

from __future__ import annotations

from pathlib import Path

import pytest

from intrinsic_rob.core.errors import InputError
from intrinsic_rob.pipeline import findings
from intrinsic_rob.pipeline.floors import METHOD_NAMES, BelowFloor

ROOT = Path(__file__).resolve().parents[1]


def readme_section(heading: str) -> str:
    """The README from ``heading`` to the next second-level heading."""
    text = (ROOT / "README.md").read_text()
    start = text.index(heading)
    return text[start:text.index("\n## ", start + 1)]


def readme_findings() -> str:
    """The README's findings, their whitespace collapsed (lines wrap anywhere)."""
    return " ".join(readme_section("## Findings so far").split())


def expected() -> dict[str, str]:
    """The README's wording of each finding, from :mod:`intrinsic_rob.pipeline.findings` (as the Conclusions chapter)."""
    t, lever = findings.theory(), findings.radius_lever(ROOT)
    rec, recog = findings.recorded_lipschitz(ROOT), findings.recognisability(ROOT)
    out = {"floor": f"{100 * t['floor']:.2f}%"}
    for method in ("gradient", "sample"):
        out[f"lever_{method}"] = (f"{100 * lever[f'lever_{method}']:.1f}% with "
                                  f"{'gradient-ascent' if method == 'gradient' else 'sampled'}")
        out[f"lever_{method}_r"] = f"(at r = {lever[f'lever_{method}_r']:g})"
    out["lever_supported"] = (f"at the δ = {lever['lever_sample_delta']:.3f} that {lever['lever_sample_samples']:.0f} "
                              f"latents per class support, {100 * lever['lever_gradient_supported']:.1f}% and "
                              f"{100 * lever['lever_sample_supported']:.1f}%")
    out["above"] = f"{100 * rec['above_min']:.0f}–{100 * rec['above_max']:.0f}%"
    out["above_mean"] = f"mean +{100 * rec['above_mean']:.0f}%"
    out["corr"] = f"correlation {rec['correlation']:.2f}"
    out["ratio"] = f"{rec['gradient_ratio_min']:.1f}–{rec['gradient_ratio_max']:.1f}×"
    out["rec_sample"] = f"{100 * rec['bound_sample']:.2f}% with the sampled"
    out["rec_rl"] = f"r·L = {rec['rl_sample']:.2f} < 3"
    out["rec_gradient"] = f"{100 * rec['bound_gradient']:.2f}%"
    for profile in ("quick", "paper"):
        out[f"recog_{profile}"] = f"{100 * recog[f'{profile}_overall']:.1f}%"
        out[f"recog_{profile}_worst"] = f"{recog[f'{profile}_worst_class']}, {100 * recog[f'{profile}_worst']:.1f}%"
    out["steps"] = f"{recog['paper_steps']:,}"
    out["u_sample"] = f"{rec['unconditional_sample']:.2f} with sampling"
    out["u_gradient"] = f"{rec['unconditional_gradient']:.2f} with gradient"
    out["u_paper"] = f"{rec['unconditional_paper']:.2f}"
    out["t3"] = f"{100 * t['imagenet_eps3']:.2f}%"
    out["remark"] = f"{100 * t['remark45']:.2f}%"
    out["fawzi"] = f"ε ≤ {t['fawzi_vacuous']:.2f}"
    out["fawzi01"] = f"ε ≤ {t['fawzi_vacuous_01']:.2f}"
    robust = findings.robust_classifiers(ROOT)  # refuses a model below its floor
    out["learned"] = (f"LP-Certify {100 * robust['lp_natural']:.1f}%, Adv-Train {100 * robust['adv_natural']:.1f}% "
                      f"and TRADES {100 * robust['trades_natural']:.1f}%")
    in_dist = findings.in_distribution(ROOT)
    out["paired"] = (f"{in_dist['paired_higher']:.0f} of {in_dist['paired_pairs']:.0f} model–ε pairs, "
                     f"in-distribution robustness is above PGD's")
    out["paired_same"] = f"indistinguishable for {in_dist['paired_same']:.0f}"
    out["paired_n"] = f"{in_dist['paired_n']:.0f} digits per model"
    quick_testable = in_dist["measured_testable_capped"] + in_dist["certified_testable_capped"]
    out["quick_remark46_testable"] = ("on the quick profile none does" if quick_testable == 0 else
                                      f"on the quick profile {quick_testable:.0f} do")
    out["figure2_budget"] = (f"{in_dist['figure2_budget']:,.0f} propagations per digit, whose median distance on the "
                             f"quick TRADES model is {100 * in_dist['figure2_budget_excess']:.1f}% above its median at "
                             f"{in_dist['largest_budget']:,.0f}")
    out["delta"] = f"{in_dist['delta_samples']:.0f} latents per class support δ = {in_dist['delta']:.3f}"
    out["paper_delta"] = f"1,000 support {in_dist['paper_samples_delta']:.3f}"
    try:  # the recorded CPU-scale run speaks wherever it is recorded
        cpu = findings.recorded_robust(ROOT, "cpu")
    except BelowFloor:
        raise
    except InputError:
        cpu = None
    if cpu is not None:
        for method, name in (("lp", "LP-Certify"), ("adv", "Adv-Train"), ("trades", "TRADES")):
            if f"{method}_trials" in cpu:
                trials = int(cpu[f"{method}_trials"])
                out[f"cpu_{method}"] = (f"{name} ({trials} trial{'s' if trials > 1 else ''}) "
                                        f"{100 * cpu[f'{method}_natural']:.1f}% natural "
                                        f"({cpu[f'{method}_natural_diff']:+.1f} points)")
                out[f"cpu_{method}_pgd"] = (f"{100 * cpu[f'{method}_pgd_eps1']:.1f}%, "
                                            f"{100 * cpu[f'{method}_pgd_eps2']:.1f}% and "
                                            f"{100 * cpu[f'{method}_pgd_eps3']:.1f}% PGD robust accuracy")
        missed = [f"{name} ({cpu[f'{m}_natural_diff']:+.1f})" for m, name in METHOD_NAMES.items()
                  if f"{m}_trials" in cpu and abs(cpu[f"{m}_natural_diff"]) > 2]
        out["cpu_goal"] = (" and ".join(missed) + " miss" + ("es" if len(missed) == 1 else "")
                           + " the natural-accuracy goal of 2 points") if missed else "meet the natural-accuracy goal"
    b = findings.recorded_bound(ROOT, "cpu")
    if b is not None:
        out["cpu_bound"] = (f"At the δ = {b['delta']:.3f} that its constants' {b['samples']} latents per class "
                            f"support, Table 3's bound is {100 * b['bound']:.1f}% at ε = 3, "
                            f"{100 * (b['bound'] - b['best_pgd']):.1f} points above the most robust recorded model "
                            f"({b['best_method']}, {100 * b['best_pgd']:.1f}%)")
    out.update(bracket_findings())
    rec_in = findings.recorded_in_distribution(ROOT, "cpu")
    if rec_in is not None:
        so_far = "" if rec_in["complete"] else " so far"
        out["cpu_paired"] = (f"{rec_in['models']} kept models ({', '.join(rec_in['methods'])}{so_far}, "
                             f"{rec_in['digits']} digits each), in-distribution robustness is above PGD's beyond the "
                             f"sampling error for {rec_in['higher']} of {rec_in['pairs']} pairs")
        out["cpu_paired_methods"] = ", ".join(f"{name} {rec_in[f'higher_{m}']} of {rec_in[f'pairs_{m}']}"
                                              for m, name in METHOD_NAMES.items() if f"pairs_{m}" in rec_in)
        every = ([f"for every model at ε = {', '.join(f'{e:g}' for e in rec_in['every_model_eps'])}"]
                 if rec_in["every_model_eps"] else [])
        every += [f"for {name} at every ε" for name in rec_in["every_eps_methods"] if len(rec_in["methods"]) > 1]
        out["cpu_paired_every"] = " and ".join(every) if every else "for no ε at every model"
        rec46 = findings.in_distribution(ROOT)
        above = sum(rec46[f"rec46_{kind}_above_{curve}"] for kind in ("measured", "certified")
                    for curve in ("capped", "uncapped"))
        out["cpu_remark46"] = ("Remark 4.6's test finds none of these models' points above a bound curve beyond the "
                               "sampling error" if above == 0 else
                               "Remark 4.6's test finds points of these models above a bound curve")
        out["cpu_remark46_testable"] = (f"{rec46['rec46_measured_testable_capped']:.0f} of the "
                                        f"{rec46['rec46_measured_points']:.0f} measured and "
                                        f"{rec46['rec46_certified_testable_capped']:.0f} of the "
                                        f"{rec46['rec46_certified_points']:.0f} certified points meet a capped curve "
                                        "below 100%")
        out["cpu_paired_difference"] = (", ".join(f"{100 * rec_in[f'difference_eps{e}']:.1f}" for e in (1, 2))
                                        + f" and {100 * rec_in['difference_eps3']:.1f} points on average")
    return out


def bracket_findings() -> dict[str, str]:
    """Chapter 6's bracket as the README words it: the quick profile's, and the recorded one where it is."""
    b = findings.bracket(ROOT, "quick")
    out = {"bracket_lower": (f"counted on {b['n_eval']:,} fresh digits, shows that classifiers of at least that risk "
                             f"can keep {100 * b['lower_eps1']:.1f}%, {100 * b['lower_eps2']:.1f}% and "
                             f"{100 * b['lower_eps3']:.1f}% of the digits robust"),
           "bracket_pairs": ", ".join(f"{b[f'below_eps{e}']} of {b[f'pairs_eps{e}']} at ε = {e}" for e in (1, 2, 3))
           + " keep less than the lower bound at their risk"}
    rec = findings.recorded_bracket(ROOT, "cpu")
    if rec is not None:
        out["bracket_recorded_n"] = f"Recorded on {rec['n_eval']:,} fresh digits"
        for form, name in (("total", "F_α"), ("per_class", "F̃_α")):
            if f"{form}_lower_eps3" in rec:
                out[f"bracket_recorded_{form}"] = (
                    f"{100 * rec[f'{form}_lower_eps3']:.1f}% to "
                    f"{100 * min(rec[f'{form}_upper_gradient_eps3'], 1.0):.1f}% for {name}")
    return out


@pytest.mark.parametrize("key", sorted(expected()))
def test_readme_finding_is_the_computed_value(key):
    assert expected()[key] in readme_findings(), f"README findings should say {expected()[key]!r} ({key})"


def in_dist_headline() -> dict[str, str]:
    """The README's headline figures of ``bench in-dist``, from the recorded benchmark."""
    b = findings.attack_benchmark(ROOT)
    top, target, stretch = int(b["baseline_budget"]), int(b["target_budget"]), int(b["stretch_budget"])
    alm, base = 100 * b[f"alm_{target}_success2"], 100 * b[f"baseline_{top}_success2"]
    out = {
        "examples": f"on {b['examples']:.0f} generated test digits",
        "alm": (f"at {target:,} propagations the augmented Lagrangian reaches a median of "
                f"{b[f'alm_{target}_median']:.3f} and a mean of {b[f'alm_{target}_mean']:.3f}"),
        "baseline": (f"against {b[f'baseline_{top}_median']:.3f} and {b[f'baseline_{top}_mean']:.3f} for (5.2) with "
                     f"Appendix B.2's schedule at {top:,} ({b[f'baseline_{target}_median']:.3f} and "
                     f"{b[f'baseline_{target}_mean']:.3f} at {target:,})"),
        "success": (f"both fool {alm:.1f}% of the digits" if alm == base
                    else f"fool {alm:.1f}% and {base:.1f}% of the digits"),
        "cross": f"all but {b['violations']:.0f} of the {b['cross_checked']:.0f} digits",
    }
    for name, budget in (("target", target), ("stretch", stretch)):
        out[name] = f"{name} met at {budget:,}" if b[f"{name}_met"] else f"is {findings.target_text(b, name)}"
    return out


@pytest.mark.parametrize("key", sorted(in_dist_headline()))
def test_readme_in_dist_headline_is_the_recorded_benchmark(key):
    want = in_dist_headline()[key]
    assert want in readme_findings(), f"README's findings should say {want!r} ({key})"
