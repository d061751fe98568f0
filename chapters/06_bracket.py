# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Bracketing intrinsic robustness

# %% [markdown]
# :::{admonition} Findings
# :class: tip
#
# {glue:text}`finding_lower` {glue:text}`finding_upper` {glue:text}`finding_models`
# :::

# %% [markdown]
# Theorem 4.4 bounds the intrinsic robustness of the generated distribution from above;
# Chapters 4 and 5 measured how robust the classifiers we can train are. Between the two
# lies a gap, and Section 5.4 of {cite:t}`zhang2020` leaves open whose it is: robust
# training's, or a loose bound's. A generator can be sampled without limit, so its
# intrinsic robustness can also be estimated *from below*.
#
# By Definition 3.1 a classifier's adversarial risk is the measure of the
# $\epsilon$-expansion of its error region, $\mu(E_\epsilon)$. Any set $E$ of measure at
# least $\alpha$ is the error region of some classifier of risk at least $\alpha$ (one
# that errs exactly on $E$ and is right elsewhere: the generated label is a function of
# the image where the classes do not overlap), so
#
# $$1-\mu(E_\epsilon)\;\le\;\mathrm{Rob}_\epsilon(\mathcal F_\alpha)
# \qquad\text{for every } E \text{ with } \mu(E)\ge\alpha .$$
#
# A well-chosen $E$ makes this a good lower estimate. This chapter uses half-spaces
# $H=\{x:\langle w,x\rangle\ge b\}$, as {cite:t}`prescott2021` do to measure the
# concentration of image distributions (and {cite:t}`mahloujifar2019b` with unions of
# balls): the $\ell_2$ expansion of a half-space is again a half-space, so both
# measures are read off the projections $\langle w,x\rangle$; for a Gaussian distribution
# they are the optimal sets (Lemma 4.2), for a generated one a good guess, not the optimum.
# The direction comes from the principal directions of a fit
# sample, refined by optimising a smooth surrogate of the expansion's measure; the offset
# is set on a held-out part of that sample; both measures are then counted on fresh
# images, with one-sided Clopper–Pearson bounds (`intrinsic_rob.estimators.concentration`).
# The estimate is honest: nothing it reports was fitted on the images it is counted on.

# %% tags=["parameters"]
profile = "quick"
# None: the profile's value (lib/intrinsic_rob/pipeline/profiles.py); the book's runs inject them all.
seed = None
acgan_epochs = None
acgan_steps = None
acgan_lr = None
acgan_ema_decay = None
bracket_fit = None
bracket_eval = None
bracket_alphas = None
device = None

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display
from myst_nb import glue

from intrinsic_rob import paper
from intrinsic_rob.core.devices import resolve_device
from intrinsic_rob.data.datasets import make_generator
from intrinsic_rob.estimators.concentration import generator_sampler, halfspace_robustness
from intrinsic_rob.estimators.in_dist import clopper_pearson, generator_bounds
from intrinsic_rob.pipeline.book import setup_chapter
from intrinsic_rob.pipeline.floors import METHOD_NAMES
from intrinsic_rob.pipeline.plotting import COLUMN_IN, ESTIMATE_STYLES, METHOD_STYLES, shared_legend
from intrinsic_rob.pipeline.profiles import acgan_recipe, resolve_parameters
from intrinsic_rob.pipeline.recorded import recorded_table3
from intrinsic_rob.pipeline.results import module_digest, read_recorded_table, read_table, write_table

globals().update(resolve_parameters("06_bracket", profile, globals()))
RUN = setup_chapter(profile)
ROOT = RUN.root
DEVICE = resolve_device(device)
EPSILONS = list(paper.TABLE3_EPSILONS)
ALPHA_PAPER = paper.TABLE3_SETTINGS[0].alpha
RECORDED = "cpu"  # the recorded CPU-scale profile
glue("profile_name", profile, display=False)


def pct(fraction: float) -> str:
    """A fraction as a percentage with one decimal."""
    return f"{100 * fraction:.1f}%"


# %% [markdown]
# ## The generator and the classifiers
#
# The distribution is the {glue:text}`profile_name` profile's ACGAN, the generator of
# Chapters 2 to 5. The classifiers set beside it are Chapter 4's (their natural and PGD-L2
# robust accuracy on its generated test digits), Chapter 5's intermediate models (PGD-L2
# and in-distribution robustness), and, where it was recorded for this very generator
# (the weights' digest is checked), the recorded CPU-scale profile's Table 3 models
# ({glue:text}`recorded_text`). Each classifier's risk is where it sits among the
# classes $\mathcal F_\alpha$: it belongs to every class with $\alpha$ at most its risk,
# so the half-spaces are fitted at each classifier's risk (the upper end of its interval,
# below), at Table 3's
# $\alpha={}${glue:text}`alpha_paper` and at the further values of the figure below.

# %% tags=["hide-input"]
source = make_generator("mnist", seed=seed, acgan=acgan_recipe(globals()), group=profile, artifacts=RUN.artifacts,
                        mnist_dir=RUN.mnist_dir, device=DEVICE, progress=False)
generator = source.generator.to(DEVICE).eval()
DIGEST = module_digest(generator)
chance_risk = 1.0 - 1.0 / generator.num_classes  # a classifier that answers one class
classifiers = []  # one row per (classifier, eps): its risk and robustness
found = read_table("table3_robust_mnist", RUN)
assert found is not None, "Chapter 4 writes table3_robust_mnist: run it first in this profile"
quick_table, quick_meta = found
for method, rows in quick_table[quick_table["seed"] == quick_table["seed"].min()].groupby("method"):
    risk = 1.0 - float(rows.loc[rows["metric"] == "natural", "value"].iloc[0])
    for r in rows[rows["metric"] == "pgd"].itertuples():
        classifiers.append({"classifier": f"{METHOD_NAMES[method]} ({profile})", "method": method,
                            "profile": profile, "risk": risk, "eps": r.eps, "robustness": r.value,
                            "digits": int(quick_meta["evaluated"])})
found = read_table("figure2_in_distribution_mnist", RUN)
assert found is not None, "Chapter 5 writes figure2_in_distribution_mnist: run it first in this profile"
figure2 = found[0]
figure2 = figure2[figure2["risk"] < chance_risk]  # at chance: on every curve by construction, shown nowhere

# %% tags=["hide-input"]
recorded = recorded_table3(RECORDED, ROOT)
recorded_here = (recorded is not None and recorded.provenance["generator_sha256"].eq(DIGEST).all()
                 and profile != RECORDED)
if recorded_here:  # the recorded models were trained and evaluated on this generator's digits
    summary = recorded.summary()
    for method in METHOD_NAMES:
        rows = summary[summary["method"] == method]
        if rows.empty:
            continue
        risk = 1.0 - float(rows.loc[rows["metric"] == "natural", "mean"].iloc[0])
        for r in rows[rows["metric"] == "pgd"].itertuples():
            classifiers.append({"classifier": f"{METHOD_NAMES[method]} ({RECORDED}, {int(r.count)} trial"
                                              + ("s" if r.count > 1 else "") + ")", "method": method,
                                "profile": RECORDED, "risk": risk, "eps": r.eps, "robustness": r.mean,
                                "digits": int(recorded.provenance["evaluated"].min())})
    glue("recorded_text", "methods " + ", ".join(METHOD_NAMES[m] for m in dict.fromkeys(
        recorded.trials["method"])) + f", {recorded.trials['trial'].nunique()} trial(s) so far", display=False)
else:
    glue("recorded_text", "none is recorded for this generator", display=False)
classifiers = pd.DataFrame(classifiers)
# A classifier is set against the bracket at the upper end of its risk's interval (its true risk may be that
# high) and by the upper end of its robustness's: what the digits it was measured on leave possible.
LEVEL = 0.95  # two-sided: each end one-sided at 97.5%
classifiers["risk_upper"] = [round(clopper_pearson(round(r * n), n, LEVEL)[1], 4)
                             for r, n in zip(classifiers["risk"], classifiers["digits"])]
classifiers["robustness_upper"] = [clopper_pearson(round(r * n), n, LEVEL)[1]
                                   for r, n in zip(classifiers["robustness"], classifiers["digits"])]
model_risks = sorted(set(classifiers["risk_upper"]))
alphas = sorted(set([ALPHA_PAPER, *model_risks, *bracket_alphas]))
glue("alpha_paper", f"{ALPHA_PAPER:g}", display=False)
classifiers.drop_duplicates(["classifier", "risk"])[["classifier", "risk"]].assign(
    risk=lambda t: t["risk"].map(pct)).set_index("classifier")

# %% [markdown]
# ## The half-spaces
#
# One half-space per $\alpha$ and $\epsilon$, fitted on {glue:text}`fit_count` generated
# digits and measured on {glue:text}`eval_count` fresh ones, all from the generator itself
# (each of its images has its label, drawn uniformly).

# %%
estimates = halfspace_robustness(generator_sampler(generator, DEVICE), alphas, EPSILONS, n_fit=bracket_fit,
                                 n_eval=bracket_eval, seed=seed)
lower = pd.DataFrame([e.as_row() for e in estimates])

# %% tags=["hide-input"]
glue("fit_count", f"{bracket_fit:,}", display=False)
glue("eval_count", f"{bracket_eval:,}", display=False)
shown = lower[lower["in_class"]]  # only a half-space that holds alpha at the stated confidence bounds Rob(F_alpha)
dropped = sorted(set(lower.loc[~lower["in_class"], "alpha"]))
glue("dropped_text", "Every half-space holds its α at the stated confidence." if not dropped else
     "The half-spaces at α = " + ", ".join(f"{a:g}" for a in dropped) + " do not hold it beyond the sampling "
     "error and are left out.", display=False)
glue("confidence", f"{estimates[0].confidence:.0%}", display=False)
at_paper = shown[np.isclose(shown["alpha"], ALPHA_PAPER)]
glue("measure_paper", f"{pct(at_paper['measure'].min())} to {pct(at_paper['measure'].max())}" if len(at_paper) else
     "none shown", display=False)
(shown.pivot_table(index="alpha", columns="eps", values="robustness_lower").map(pct)
 .rename(index=pct, columns=lambda e: f"ε = {e:g}"))

# %% [markdown]
# The table gives, for each $\alpha$ (rows) and $\epsilon$ (columns), the
# {glue:text}`confidence` lower bound on $1-\mu(E_\epsilon)$, which holds together with the
# half-space's measure being at least $\alpha$. {glue:text}`dropped_text` A fitted
# half-space holds more than $\alpha$ of fresh images (at Table 3's $\alpha$:
# {glue:text}`measure_paper` over the $\epsilon$), the margin that lets its measure clear
# $\alpha$ beyond the sampling error; a tighter fit would only raise the estimate. The
# directions are fitted, not optimal: where a larger $\alpha$ or $\epsilon$ shows a higher
# bound than a smaller one, the smaller one's half-space is the worse fit, and both remain
# valid bounds.
#
# ## The upper side
#
# Theorem 4.4's bound on $\mathrm{Rob}_\epsilon(\mathcal F_\alpha)$ (total risk, solved
# exactly through (A.4) for any $\alpha$, `intrinsic_rob.estimators.in_dist.bound_curve`)
# needs this generator's local Lipschitz constants at $r={}${glue:text}`radius` and the
# $\delta$ that the number of latents behind them supports at
# {glue:text}`delta_confidence` confidence. Two sets are recorded
# for it: {glue:text}`constants_text`. The figure uses the set with the most latents
# behind it, and within Theorem 4.3's hypothesis $\epsilon/L$ never exceeds $r$.

# %% tags=["hide-input"]
RADIUS = paper.LIPSCHITZ_RADIUS
probs = np.full(generator.num_classes, 1.0 / generator.num_classes)
constant_sets = {}  # name -> (bounds per estimate, latents per class behind them)
found = read_table("lipschitz_by_radius_mnist", RUN)
if found is not None and found[1].get("generator_sha256") == DIGEST:
    constant_sets[f"{profile} profile, Chapter 3"] = found[0]
if profile != RECORDED:
    parts = [read_recorded_table(f"lipschitz_mnist_{m}", RECORDED, ROOT) for m in ("sample", "gradient")]
    parts = [t for t, meta in filter(None, parts) if meta.get("generator_sha256") == DIGEST]
    if parts:
        constant_sets[f"{RECORDED} profile, recorded"] = pd.concat(parts, ignore_index=True)
assert constant_sets, "no Lipschitz constants are recorded for this generator: run Chapter 3 first"
DELTA_CONFIDENCE = 0.95
uppers = {name: generator_bounds(t, RADIUS, probs, confidence=DELTA_CONFIDENCE) for name, t in constant_sets.items()}
glue("delta_confidence", f"{DELTA_CONFIDENCE:.0%}", display=False)
about = pd.DataFrame([{"constants": name, "estimate": ESTIMATE_STYLES[e].label, "L_max": b.lmax,
                       "delta": b.delta} for name, bs in uppers.items() for e, b in bs.items()])
glue("radius", f"{RADIUS:g}", display=False)
glue("constants_text", "; ".join(f"{r.constants}, {r.estimate} L_max = {r.L_max:.2f} (δ = {r.delta:.3f})"
                                 for r in about.itertuples()), display=False)
UPPER_NAME = min(uppers, key=lambda n: min(b.delta for b in uppers[n].values()))
UPPER = uppers[UPPER_NAME]
glue("upper_name", UPPER_NAME, display=False)
for estimate, bound in UPPER.items():
    lower[f"upper_{estimate}"] = [bound.curve(a, e) for a, e in zip(lower["alpha"], lower["eps"])]
write_table(lower, "bracket_mnist", RUN, extra={"generator": source.description, "generator_sha256": DIGEST,
                                                "upper_constants": UPPER_NAME, "radius": RADIUS,
                                                "lmax": {e: b.lmax for e, b in UPPER.items()},
                                                "delta": {e: b.delta for e, b in UPPER.items()}})
about.set_index(["constants", "estimate"])

# %% [markdown]
# No lower estimate may exceed an upper bound computed from constants that are right; a
# lower bound above an upper one would show the estimate of $L$ too small (Algorithm 1's
# sampled constants underestimate it, Chapter 3). {glue:text}`crossing_text`

# %% tags=["hide-input"]
checked = lower[lower["in_class"]]
crossings = {e: checked[checked["robustness_lower"] > checked[f"upper_{e}"]] for e in UPPER}
glue("crossing_text", " ".join(
    f"With the {ESTIMATE_STYLES[e].label}, none of the {len(checked)} lower bounds does." if c.empty else
    f"With the {ESTIMATE_STYLES[e].label}, {len(c)} of the {len(checked)} lower bounds do (at α, ε = "
    + ", ".join(f"{a:g}, {x:g}" for a, x in zip(c["alpha"], c["eps"])) + "): that L is too small."
    for e, c in crossings.items()), display=False)

# %% [markdown]
# ## The bracket
#
# Per $\epsilon$, the intrinsic robustness of the classifiers of risk at least $\alpha$
# lies in the shaded band: above the half-space's lower bound (at its confidence), and
# below Theorem 4.4's bound ({glue:text}`upper_name` constants) if those constants are not
# below the generator's true ones, which an estimate cannot promise (Chapter 3). The bound
# is drawn at most at full robustness, above which it says nothing. The marks are
# classifiers at their risk: PGD-L2 robustness open (an upper estimate of a classifier's
# robustness, an attack being no proof), in-distribution robustness filled
# (Chapter 5's intermediate models), the recorded CPU-scale models large.

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, len(EPSILONS), figsize=(COLUMN_IN, 5.4), sharey=True)
xs = np.geomspace(min(alphas), max(alphas), 80)
LOWER_COLOR = "#CC79A7"  # not a method's colour, not a bound's grey
for ax, eps in zip(axes, EPSILONS):
    low = shown[shown["eps"] == eps].sort_values("alpha")
    top = {e: np.array([min(b.curve(a, eps), 1.0) for a in low["alpha"]]) for e, b in UPPER.items()}
    ax.fill_between(100 * low["alpha"], 100 * low["robustness_lower"], 100 * np.max(list(top.values()), axis=0),
                    color="#cccccc", alpha=0.6, lw=0, label="bracket")
    ax.plot(100 * low["alpha"], 100 * low["robustness_lower"], color=LOWER_COLOR, lw=2.5, marker=".",
            label="half-space lower bound")
    for e, b in UPPER.items():
        ax.plot(100 * xs, [100 * min(b.curve(a, eps), 1.0) for a in xs], color=ESTIMATE_STYLES[e].color,
                ls=ESTIMATE_STYLES[e].linestyle, label=f"Theorem 4.4, {ESTIMATE_STYLES[e].label}")
    for method in METHOD_NAMES:
        style = METHOD_STYLES[method]
        pts = figure2[(figure2["method"] == method) & (figure2["eps"] == eps)]
        ax.plot(100 * pts["risk"], 100 * pts["in_distribution"], color=style.color, marker=style.marker, ls="none",
                label=f"{style.label}, in distribution")
        ax.plot(100 * pts["risk"], 100 * pts["unconstrained"], color=style.color, marker=style.marker, mfc="none",
                ls="none", label=f"{style.label}, PGD")
        big = classifiers[(classifiers["method"] == method) & (classifiers["eps"] == eps)
                          & (classifiers["profile"] == RECORDED)]
        if not big.empty:
            ax.plot(100 * big["risk"], 100 * big["robustness"], color=style.color, marker=style.marker, mfc="none",
                    ms=13, mew=2.5, ls="none", label=f"{style.label}, PGD, {RECORDED} profile")
    ax.set(xscale="log", title=f"ε = {eps:g}", xlabel="risk α (%)", ylim=(0, 102))
    ax.set_xticks([1, 5, 20], labels=["1", "5", "20"])
    ax.minorticks_off()
axes[0].set_ylabel("robustness (%)")
fig.tight_layout()
shared_legend(fig, axes, ncol=2)
glue("headline_bracket", fig, display=False)  # the landing page shows it
plt.show()

# %% [markdown]
# ## What the bracket says
#
# Each of Chapter 4's classifiers (and the recorded ones) against the bracket: its PGD-L2
# robustness with the upper end of its interval, the lower bound on the intrinsic
# robustness of the classifiers of risk at least the upper end of its risk's interval, and
# Theorem 4.4's bound there with each estimate of $L$ ({glue:text}`upper_name` constants).
# A classifier keeps less than what is possible at its risk when the upper end of its
# robustness lies below that lower bound: the three bounds of one comparison hold together
# at {glue:text}`pair_level` at least (a union bound), with no correction for the number
# of comparisons.
#
# {glue:text}`models_text`

# %% tags=["hide-input"]
against = classifiers.merge(shown[["alpha", "eps", "robustness_lower"]].rename(columns={"alpha": "risk_upper"}),
                            on=["risk_upper", "eps"], how="left")
unmatched = against[against["robustness_lower"].isna()]  # its half-space did not hold alpha: no comparison
against = against.dropna(subset=["robustness_lower"]).reset_index(drop=True)
for estimate, bound in UPPER.items():
    against[f"upper, {ESTIMATE_STYLES[estimate].label}"] = [bound.curve(a, e)
                                                            for a, e in zip(against["risk_upper"], against["eps"])]
against["below the lower bound by"] = against["robustness_lower"] - against["robustness_upper"]
write_table(against, "bracket_classifiers_mnist", RUN,
            extra={"generator_sha256": DIGEST, "upper_constants": UPPER_NAME, "interval_level": LEVEL,
                   "unmatched": unmatched["classifier"].tolist()})
glue("pair_level", f"{1 - (1 - estimates[0].confidence) - (1 - LEVEL):.0%}", display=False)
best = against.loc[against.groupby("eps")["robustness"].idxmax()].set_index("eps")
glue("models_text", " ".join(
    f"At ε = {e:g} the most robust, {r.classifier} (risk {pct(r.risk)}, at most {pct(r.risk_upper)}), keeps "
    f"{pct(r.robustness)} under PGD (at most {pct(r.robustness_upper)}); the half-space shows that "
    f"{pct(r.robustness_lower)} is possible at its risk"
    + ("." if r.robustness_upper < r.robustness_lower else ", which it may reach.") for e, r in best.iterrows())
     + ("" if unmatched.empty else " Not compared (its half-space did not hold its α): "
        + ", ".join(sorted(set(unmatched["classifier"]))) + "."), display=False)
columns = {"risk": "risk", "risk_upper": "risk, upper end", "robustness": "PGD robustness",
           "robustness_upper": "PGD, upper end", "robustness_lower": "lower bound",
           **{f"upper, {ESTIMATE_STYLES[e].label}": f"Theorem 4.4, {ESTIMATE_STYLES[e].label}" for e in UPPER},
           "below the lower bound by": "upper end below the lower bound by"}
against.set_index(["classifier", "eps"])[list(columns)].rename(columns=columns).map(pct)

# %% [markdown]
# ## The recorded bracket
#
# The CPU-scale profile records the bracket for its generator with the command
# `intrinsic-rob concentration --profile cpu`, for both classes of Theorem 4.4:
# $\mathcal F_\alpha$ (total risk) and $\tilde{\mathcal F}_\alpha$ (every class's risk,
# Table 3's form). {glue:text}`recorded_bracket_text`
# For $\tilde{\mathcal F}_\alpha$ the error region must hold $\alpha$ of every class. One
# half-space holding $\alpha$ of all ten classes at once must cut across all of them, so
# the region is a union of ten half-spaces instead, $E=\bigcup_c H_c$: $H_c$ holds $\alpha$
# of class $c$, its direction fitted on class $c$'s own principal directions to take in as
# little of the whole distribution within $\epsilon$ as it can, and $E_\epsilon$ is the
# union of their expansions. Each class's share of $E$ is counted on the fresh digits, and
# the ten class bounds hold together with the expansion's (Bonferroni).

# %% tags=["hide-input"]
rec_tables = {form: read_recorded_table(f"concentration_mnist{suffix}", RECORDED, ROOT)
              for form, suffix in (("F_alpha", ""), ("F~_alpha", "_per_class"))}
rec_tables = {f: t for f, t in rec_tables.items() if t is not None and t[1].get("generator_sha256") == DIGEST}
if rec_tables:
    rec = pd.concat([t.assign(form=f) for f, (t, _) in rec_tables.items()], ignore_index=True)
    text = (f"Measured on {int(rec['n_eval'].min()):,} fresh digits of this chapter's generator, the table gives the "
            "lower bound and, beside it, Theorem 4.4's bound with the recorded constants.")
    held = rec[rec["in_class"] & np.isclose(rec["alpha"], ALPHA_PAPER) & (rec["eps"] == max(EPSILONS))]
    if set(held["form"]) == {"F_alpha", "F~_alpha"}:  # what holding alpha of every class costs
        by_form = held.set_index("form")["robustness_lower"]
        text += (f" At α = {ALPHA_PAPER:g} and ε = {max(EPSILONS):g} the lower bound for "
                 f"F̃_α is {pct(by_form['F~_alpha'])}, "
                 f"{100 * (by_form['F_alpha'] - by_form['F~_alpha']):.1f} points below the one for "
                 f"F_α ({pct(by_form['F_alpha'])}). Some of the difference may be real, F̃_α being the "
                 "smaller class (its intrinsic robustness is no larger than F_α's), and some the fit's: a union "
                 "of half-spaces is a guess, as one half-space is.")
    glue("recorded_bracket_text", text, display=False)
    upper_cols = [c for c in rec.columns if c.startswith("upper_")]
    rec = rec[rec["in_class"]]  # a region that did not hold alpha bounds nothing
    display(rec[["form", "alpha", "eps", "robustness_lower", *upper_cols]]
            .assign(**{c: rec[c].map(pct) for c in ["robustness_lower", *upper_cols]})
            .set_index(["form", "alpha", "eps"]))
else:
    glue("recorded_bracket_text", "It is not recorded for this chapter's generator yet (a record is read only "
         "where its generator's weights digest is this one's).", display=False)

# %% tags=["hide-input"]
shown = lower[lower["in_class"]]  # now with the bounds beside the estimates
paper_row = shown[np.isclose(shown["alpha"], ALPHA_PAPER)].set_index("eps")
assert len(paper_row) == len(EPSILONS), "a half-space at Table 3's alpha did not hold it: raise bracket_eval"
glue("finding_lower", f"On the {profile} profile's ACGAN, a half-space of measure at least α = {ALPHA_PAPER:g}, "
     f"counted on {bracket_eval:,} fresh digits, shows that classifiers of risk at least α can keep at least "
     + ", ".join(pct(paper_row.loc[e, "robustness_lower"]) for e in EPSILONS)
     + " of the digits robust at ε = " + ", ".join(f"{e:g}" for e in EPSILONS)
     + f" ({estimates[0].confidence:.0%} lower bounds).", display=False)
vacuous = {e: [eps for eps in EPSILONS if paper_row.loc[eps, f"upper_{e}"] >= 1] for e in UPPER}
glue("finding_upper", f"Theorem 4.4 with the {UPPER_NAME} constants bounds it above by " + "; ".join(
    f"{ESTIMATE_STYLES[e].label} " + ", ".join(pct(paper_row.loc[eps, f"upper_{e}"]) for eps in EPSILONS)
    + (" (above 100%: no information)" if vacuous[e] else "") for e in UPPER)
     + " (δ = " + ", ".join(f"{b.delta:.3f}" for b in UPPER.values()) + ").", display=False)
seen = list(dict.fromkeys(against["profile"]))
profiles_seen = " and ".join(seen) + (" profiles" if len(seen) > 1 else " profile")
if against.empty:
    glue("finding_models", "No classifier could be set against the bracket.", display=False)
else:
    margins = against.groupby("eps")["below the lower bound by"]
    text = (f"Of the classifiers set against it ({profiles_seen}), "
            + ", ".join(f"{int((m > 0).sum())} of {len(m)} at ε = {e:g}" for e, m in margins)
            + " keep less than the lower bound at their risk, even at the upper ends of their intervals.")
    top = best.loc[max(EPSILONS)]  # the most robust classifier at the largest eps, against its bracket
    top_upper = min(max(top[f"upper, {ESTIMATE_STYLES[e].label}"] for e in UPPER), 1.0)
    if top.robustness_upper < top.robustness_lower:
        text += (f" At ε = {max(EPSILONS):g} the most robust, {top.classifier}, keeps at most "
                 f"{pct(top.robustness_upper)} against {pct(top.robustness_lower)} possible: "
                 f"{100 * (top.robustness_lower - top.robustness_upper):.1f} points or more of the gap are robust "
                 f"training's, not the bound's; at most {100 * (top_upper - top.robustness_lower):.1f} lie between "
                 "the lower bound and the bound" + (" (from 100%, the bound being above it)." if top_upper >= 1
                                                    else "."))
    glue("finding_models", text, display=False)
