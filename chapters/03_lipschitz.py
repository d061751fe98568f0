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
# # Local Lipschitz constants

# %% [markdown]
# :::{admonition} Findings
# :class: tip
#
# On this book's {glue:text}`profile_name`-profile generator, an
# {glue:text}`acgan_description`, Algorithm 1 gives $L_{\max}=$
# {glue:text}`find_l_max_sample` ({glue:text}`l_max_class`) on images in $[0,1]$. The
# paper's Table 1 constants, halved to that scale, lie between
# {glue:text}`find_paper_half_min` and {glue:text}`find_paper_half_max`, but belong to a
# different generator. Gradient ascent with the same budget of generator evaluations finds
# {glue:text}`find_grad_over_sample` times the sampled constant on that class (one trial's
# latents), and
# {glue:text}`find_rec_ratio_min` to {glue:text}`find_rec_ratio_max` times it on every class
# of a `paper`-profile generator recorded on a GPU ({glue:text}`rec_generator`:
# $L_{\max}$ {glue:text}`find_rec_lmax_sample` sampled, {glue:text}`find_rec_lmax_gradient`
# by gradient ascent), so sampling underestimates $L$ and makes Theorem 4.4's bound too
# optimistic. The radius at which $L$ is measured limits the bound too: within Theorem 4.3's
# hypothesis no constant measured at $r=$ {glue:text}`radius` gives a bound below
# {glue:text}`find_floor_pct`% ($\alpha=$ {glue:text}`alpha`), and the strongest bound within
# the hypothesis at $\epsilon=$ {glue:text}`eps_max` with the gradient constants is
# {glue:text}`find_best_bound_gradient`% (at $r=$ {glue:text}`find_best_r_gradient`), at the
# paper's $\delta$, which the latents behind these constants do not support.
# :::

# %% [markdown]
# Theorem 4.4 depends on the generator only through $\epsilon/L_{\max}$, so the bound
# is only as good as the Lipschitz constant fed into it. Section 5.2 of
# {cite:t}`zhang2020` estimates $L(r)$ with a sampling procedure, Algorithm 1, and
# reports the constants of Tables 1 and 2. This chapter reproduces that procedure. It
# then measures how much the number depends on how it is estimated, how much the
# bound moves with it, and how much the radius $r$ at which $L$ is measured limits it.
#
# Algorithm 1, for one class, runs as follows. Draw $S$ latents $z_i\sim\mathcal N(0,I)$
# and $N$ neighbours $\hat z_i^j$ in the ball $\mathcal B_r(z_i)$. Set
# $L_i=\max_j\lVert g(\hat z_i^j)-g(z_i)\rVert/\lVert\hat z_i^j-z_i\rVert$, and output the
# $(1-\delta)$-percentile of $\{L_i\}$. Each $L_i$ is a *lower* estimate of the true local
# constant at $z_i$, because a maximum over samples cannot exceed the supremum over the
# ball.
#
# A constant measured on balls of radius $r$ says nothing about perturbations that
# leave the ball, so Theorem 4.3 assumes $r\cdot L_i(r)\ge\epsilon$. A generator that is
# $L$-locally Lipschitz on such balls is also $L'$-locally Lipschitz for every $L'\ge L$,
# so every bound in this book uses $L'=\max(L,\epsilon/r)$: $\epsilon/L$ never exceeds $r$.
# The library applies this cap wherever a local constant meets an $\epsilon$, and reports
# where it applied.

# %% tags=["parameters"]
profile = "quick"
# None: the profile's value (lib/intrinsic_rob/pipeline/profiles.py); the book's runs inject them all.
seed = None
acgan_epochs = None
acgan_steps = None
acgan_lr = None
acgan_ema_decay = None
num_samples = None
num_neighbors = None
radius = None
delta = None
trials = None
convergence_neighbors = None
convergence_samples = None
bootstrap_resamples = None
radius_grid = None
imagenet_samples = None
imagenet_neighbors = None
pipeline_check_samples = None
pipeline_check_neighbors = None
biggan_random_width = None
biggan_dir = None
device = None

# %% tags=["hide-input"]
from dataclasses import asdict, replace

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from myst_nb import glue

from intrinsic_rob import paper
from intrinsic_rob.core.devices import resolve_device
from intrinsic_rob.data.datasets import class_names, make_generator
from intrinsic_rob.data.mnist import load_mnist
from intrinsic_rob.estimators.lipschitz import (
    Algorithm1Settings,
    estimate_local_lipschitz,
    gradient_exceeds_sampled,
    lipschitz_table,
    percentile_estimate,
    percentile_supported_delta,
    read_recorded_lipschitz,
    summarise_table,
    supported_delta_at_radius,
)
from intrinsic_rob.generators.acgan import RawScaleACGAN, recipe_text
from intrinsic_rob.generators.biggan import IMAGENET10_NAMES, ImageNet10Generator
from intrinsic_rob.pipeline.book import setup_chapter
from intrinsic_rob.pipeline.plotting import COLUMN_IN, ESTIMATE_STYLES, shared_legend
from intrinsic_rob.pipeline.profiles import PAPER, acgan_recipe, resolve_parameters
from intrinsic_rob.pipeline.results import module_digest, read_recorded_table, write_table
from intrinsic_rob.pipeline.tables import beside_paper, mean_std, mean_std_column, paper_column
from intrinsic_rob.theory import bounds

globals().update(resolve_parameters("03_lipschitz", profile, globals()))
RUN = setup_chapter(profile, precision=3, biggan_dir=biggan_dir)
ROOT = RUN.root
DEVICE = resolve_device(device)
DIGITS = class_names("mnist")
SETTINGS = Algorithm1Settings(num_samples, num_neighbors, radius, delta, trials)
settings = SETTINGS.estimator_kwargs()  # for single estimates (estimate_local_lipschitz)
RECIPE = acgan_recipe(globals())
glue("profile_name", profile, display=False)
glue("settings_text", f"S = {num_samples}, N = {num_neighbors}, r = {radius}, delta = {delta}, {trials} trials",
     display=False)

# Table 3's generated-MNIST setting: alpha, delta and the epsilons of the paper.
MNIST_BOUND = paper.TABLE3_SETTINGS[0]
EPSILONS = list(paper.TABLE3_EPSILONS)
PAPER_PROFILE = PAPER
PAPER_LIPSCHITZ = asdict(PAPER_PROFILE.lipschitz)  # S, N, r, delta and trials of the paper
PAPER_L_MAX = max(mean for mean, _ in paper.TABLE1_MNIST_LIPSCHITZ.values())
PAPER_HALVED = np.array([paper.TABLE1_MNIST_LIPSCHITZ[name][0] / 2 for name in DIGITS])


# The bound at eps / L = r, which no estimate of L measured at radius r can go below.
floor = float(bounds.robustness_bound(MNIST_BOUND.alpha, radius, 1.0, radius=None, delta=MNIST_BOUND.delta,
                                      per_class_risk=True))
glue("alpha", MNIST_BOUND.alpha, display=False)
glue("bound_delta", MNIST_BOUND.delta, display=False)
glue("radius", radius, display=False)
glue("eps_max", max(EPSILONS), display=False)
glue("floor_pct", 100 * floor, display=False)
glue("find_floor_pct", f"{100 * floor:.1f}", display=False)
glue("paper_S", PAPER_LIPSCHITZ["num_samples"], display=False)
glue("paper_N", PAPER_LIPSCHITZ["num_neighbors"], display=False)
glue("paper_r", PAPER_LIPSCHITZ["radius"], display=False)
glue("paper_delta", PAPER_LIPSCHITZ["delta"], display=False)
glue("paper_trials", PAPER_LIPSCHITZ["trials"], display=False)
PAPER_EVALUATIONS = (PAPER_LIPSCHITZ["num_samples"] * PAPER_LIPSCHITZ["num_neighbors"] * PAPER_LIPSCHITZ["trials"]
                     * len(DIGITS))
glue("paper_evaluations", f"{PAPER_EVALUATIONS:,}", display=False)

# %% [markdown]
# ## What is measured, and on which scale
#
# The estimators take any generator with the project's interface, and measure it on
# exactly the map that produces the dataset. For the ACGAN that includes the output
# rescaling $(t+1)/2$, so images lie in $[0,1]$, the same scale as $\epsilon$ in Table 3.
# The original code measured the ACGAN on its raw tanh output in $[-1,1]$, which
# doubles $L$ ([defect 2](09_departures)). It measured BigGAN after resizing to $[0,1]$, so
# the two datasets were on different scales.
#
# Three other changes from the original code matter here.
#
# * Neighbour directions are drawn uniformly on the sphere. The original normalised
#   uniform $[0,1)^d$ vectors, which puts every direction in the positive orthant
#   ([defect 1](09_departures)).
# * Radii follow $rU^{1/d}$, so neighbours are uniform in the ball.
# * $g(z)$ is computed once per latent rather than once per neighbour, and many latents
#   share a batch ([defect 3](09_departures)). `intrinsic-rob bench lipschitz` measures the speed-up.
#
# ## Table 1 on this book's ACGAN
#
# The paper used $S=$ {glue:text}`paper_S`, $N=$ {glue:text}`paper_N`,
# $r=$ {glue:text}`paper_r`, $\delta=$ {glue:text}`paper_delta` and
# {glue:text}`paper_trials` trials; the `paper` profile runs exactly that. This profile
# uses {glue:text}`settings_text`.

# %%
acgan_source = make_generator("mnist", seed=seed, acgan=RECIPE, group=profile, artifacts=RUN.artifacts,
                              mnist_dir=RUN.mnist_dir)
acgan = acgan_source.generator.to(DEVICE)
table1 = lipschitz_table(acgan, DIGITS, SETTINGS, seed=seed, progress=False)

# %% tags=["hide-input"]
write_table(table1.assign(generator=acgan_source.description), "table1_lipschitz_mnist", RUN)
summary1 = beside_paper(summarise_table(table1), paper.TABLE1_MNIST_LIPSCHITZ, paper_label="paper ([-1, 1] scale)")
summary1["paper / 2 ([0, 1] scale)"] = PAPER_HALVED
l_max_sample = float(summary1["mean"].max())
worst_class = int(summary1["mean"].idxmax())
glue("l_max_sample", l_max_sample, display=False)
glue("l_max_class", DIGITS[worst_class], display=False)
glue("find_l_max_sample", f"{l_max_sample:.2f}", display=False)
glue("find_paper_half_min", f"{PAPER_HALVED.min():.2f}", display=False)
glue("find_paper_half_max", f"{PAPER_HALVED.max():.2f}", display=False)
glue("paper_half_min", float(PAPER_HALVED.min()), display=False)
glue("paper_half_max", float(PAPER_HALVED.max()), display=False)
glue("acgan_description", acgan_source.description, display=False)
glue("paper_acgan_epochs", paper.ACGAN_EPOCHS, display=False)
glue("paper_mnist_train", f"{paper.REAL_MNIST_TRAIN_SIZE:,}", display=False)
print(acgan_source.description)
summary1[["name", "ours", "paper ([-1, 1] scale)", "paper / 2 ([0, 1] scale)"]]

# %% [markdown]
# On this book's ACGAN the largest class constant is {glue:text}`l_max_sample:.3f`, for
# {glue:text}`l_max_class`. The paper's constants, halved to put them on the $[0,1]$
# scale, lie between {glue:text}`paper_half_min:.2f` and {glue:text}`paper_half_max:.2f`.
# The two generators are different models: this profile's is an
# {glue:text}`acgan_description`, the paper's saw {glue:text}`paper_mnist_train` digits
# for {glue:text}`paper_acgan_epochs` epochs. Constants of different generators need not
# agree, and no conclusion about the paper's generator follows from this column. What
# the rest of the chapter measures is how the *estimate* for one fixed generator depends
# on the estimator, and how the bound depends on the estimate and on the radius.
#
# ## Table 1 in the paper's settings (recorded GPU run)
#
# The paper's settings take {glue:text}`paper_evaluations` generator evaluations per
# estimator. That is hours on two CPU cores and minutes on a GPU. The `paper`
# profile's Table 1 is therefore produced on a GPU by
#
# ```bash
# intrinsic-rob lipschitz --dataset mnist --profile paper --method sample
# intrinsic-rob lipschitz --dataset mnist --profile paper --method gradient
# ```
#
# and committed under `results/paper/`. Each file comes with its provenance: device,
# library versions, source commit, run time and a digest of the generator's weights.
# This section reads those files, checks that they hold the paper's settings and that
# both estimators measured the same generator, and recomputes the bound from them.

# %% tags=["hide-input"]
# Each recorded table must hold the paper's settings (read_recorded_lipschitz checks them).
recorded = {}
for method in ("sample", "gradient"):
    recorded[method] = read_recorded_lipschitz(f"lipschitz_mnist_{method}", ROOT, PAPER_PROFILE.lipschitz)
    if recorded[method] is None:
        raise FileNotFoundError(f"results/paper/lipschitz_mnist_{method}.csv is missing: run `intrinsic-rob "
                                f"lipschitz --dataset mnist --profile paper --method {method}` on a GPU to record it")
    assert recorded[method][0]["class"].nunique() == len(DIGITS), method
assert recorded["sample"][1]["generator_sha256"] == recorded["gradient"][1]["generator_sha256"]
rec = {m: summarise_table(frame) for m, (frame, _) in recorded.items()}
rec_table = pd.DataFrame({
    "class": rec["sample"]["name"],
    "sampled (Algorithm 1)": mean_std_column(rec["sample"]["mean"], rec["sample"]["std"]),
    "gradient ascent": mean_std_column(rec["gradient"]["mean"], rec["gradient"]["std"]),
    "gradient / sampled": (rec["gradient"]["mean"] / rec["sample"]["mean"]).round(3),
    "paper ([-1, 1] scale)": paper_column(list(rec["sample"]["name"]), paper.TABLE1_MNIST_LIPSCHITZ),
    "paper / 2": PAPER_HALVED,
    "sampled / (paper / 2) - 1": (rec["sample"]["mean"].to_numpy() / PAPER_HALVED - 1).round(3),
})
meta = recorded["sample"][1]
rec_lmax = {m: float(r["mean"].max()) for m, r in rec.items()}
above_half = rec["sample"]["mean"].to_numpy() / PAPER_HALVED - 1
glue("rec_device", meta["device"], display=False)
glue("rec_generator", meta["generator"], display=False)
glue("rec_digest", meta["generator_sha256"][:12], display=False)
glue("rec_commit_sample", recorded["sample"][1]["commit"][:10], display=False)
glue("rec_commit_gradient", recorded["gradient"][1]["commit"][:10], display=False)
glue("rec_lmax_sample", rec_lmax["sample"], display=False)
glue("rec_lmax_gradient", rec_lmax["gradient"], display=False)
glue("rec_ratio_min", float((rec["gradient"]["mean"] / rec["sample"]["mean"]).min()), display=False)
glue("rec_ratio_max", float((rec["gradient"]["mean"] / rec["sample"]["mean"]).max()), display=False)
glue("find_rec_ratio_min", f"{(rec['gradient']['mean'] / rec['sample']['mean']).min():.1f}", display=False)
glue("find_rec_ratio_max", f"{(rec['gradient']['mean'] / rec['sample']['mean']).max():.1f}", display=False)
glue("find_rec_lmax_sample", f"{rec_lmax['sample']:.2f}", display=False)
glue("find_rec_lmax_gradient", f"{rec_lmax['gradient']:.2f}", display=False)
glue("rec_std_max", float(rec["sample"]["std"].max()), display=False)
glue("rec_above_min", 100 * float(above_half.min()), display=False)
glue("rec_above_max", 100 * float(above_half.max()), display=False)
glue("rec_above_mean", 100 * float(above_half.mean()), display=False)
rec_corr = float(np.corrcoef(rec["sample"]["mean"], PAPER_HALVED)[0, 1])
# Fisher's z: atanh(r) is about normal with standard deviation 1/sqrt(n - 3) over n paired values (here the digits)
corr_half_width = 1.959964 / np.sqrt(len(PAPER_HALVED) - 3)
glue("rec_corr", rec_corr, display=False)
glue("rec_corr_low", float(np.tanh(np.arctanh(rec_corr) - corr_half_width)), display=False)
glue("rec_corr_high", float(np.tanh(np.arctanh(rec_corr) + corr_half_width)), display=False)
glue("rec_corr_n", len(PAPER_HALVED), display=False)
# The paper profile's recipe today, for the embedded digits, against the one the recorded run used.
embedded_size = len(load_mnist(None))
paper_config = PAPER_PROFILE.acgan.config(embedded_size, seed=PAPER_PROFILE.seed)
paper_recipe_now = f"{paper_config.epochs} epochs ({recipe_text(paper_config, embedded_size)})"
glue("rec_recipe_text",
     "This is the paper profile's current recipe." if paper_recipe_now in meta["generator"] else
     f"The paper profile has since changed its recipe to {paper_recipe_now}, so that its digits are recognisable "
     "as their labels (chapter 2); the constants above belong to the earlier generator and are to be recorded "
     "again on a GPU for the new one.", display=False)
print(f"{meta['generator']}, weights sha256 {meta['generator_sha256'][:12]}")
for method, (_, m) in recorded.items():
    print(f"{method:>8}: {m['device']}, torch {m['torch']}, commit {m['commit'][:10]}, {m['seconds']:.0f} s")
rec_table

# %% tags=["hide-input"]
SAMPLE, GRADIENT, PAPER_STYLE = (ESTIMATE_STYLES[key] for key in ("sample", "gradient", "paper"))
fig, ax = plt.subplots(figsize=(COLUMN_IN, 4.4))
x = np.arange(len(DIGITS))
ax.bar(x - 0.27, PAPER_HALVED, width=0.27, color=PAPER_STYLE.color, label="paper, halved")
ax.bar(x, rec["sample"]["mean"], yerr=rec["sample"]["std"], width=0.27, color=SAMPLE.color, capsize=2,
       label=SAMPLE.label)
ax.bar(x + 0.27, rec["gradient"]["mean"], yerr=rec["gradient"]["std"], width=0.27, facecolor="white",
       edgecolor=GRADIENT.color, hatch="///", capsize=2, label=f"{GRADIENT.label} (same budget)")
ax.set(xticks=x, xticklabels=[str(k) for k in range(len(DIGITS))], xlabel="digit",
       ylabel=r"$L(r)$, images in [0, 1]", title="Table 1 in the paper's settings (recorded GPU run)")
fig.tight_layout()
shared_legend(fig, [ax], ncol=3)
plt.show()

# %% [markdown]
# Recorded on {glue:text}`rec_device`, at commits {glue:text}`rec_commit_sample`
# (sampling) and {glue:text}`rec_commit_gradient` (gradient ascent), on the generator
# {glue:text}`rec_generator` (weights sha256 {glue:text}`rec_digest`…).
# {glue:text}`rec_recipe_text` In the paper's
# settings the trial-to-trial spread is small (standard deviation at most
# {glue:text}`rec_std_max:.3f`), so Table 1's "mean ± std" describes the estimator's
# precision well. Its accuracy is another matter. On every class, gradient ascent
# with the same budget finds constants {glue:text}`rec_ratio_min:.1f` to
# {glue:text}`rec_ratio_max:.1f` times the sampled ones, and $L_{\max}$ rises from
# {glue:text}`rec_lmax_sample:.2f` to {glue:text}`rec_lmax_gradient:.2f`.
#
# Against the paper's values halved to the $[0,1]$ scale (grey bars), our sampled
# constants are {glue:text}`rec_above_min:.0f`% to {glue:text}`rec_above_max:.0f`% higher
# per class (mean {glue:text}`rec_above_mean:.0f`%), and the two profiles over the
# digits have correlation {glue:text}`rec_corr:.2f` (Fisher's $95\%$ interval
# [{glue:text}`rec_corr_low:.2f`, {glue:text}`rec_corr_high:.2f`] over
# {glue:text}`rec_corr_n` digits). The same procedure on a generator of the same
# architecture and training length thus gives constants of the same order as the paper's
# halved ones, every class above them, and orders the digits alike to a degree that
# {glue:text}`rec_corr_n` digits measure only loosely. That is consistent with reading the
# paper's Table 1 as $[-1,1]$-scale output of Algorithm 1, without proving it.

# %% [markdown]
# ### Is the recorded generator's output its labels?
#
# Chapter 2 checks its generator with classifiers trained on real digits. The same check
# of the `paper` profile's generator (`intrinsic-rob recognisability --dataset mnist
# --profile paper`) is committed beside its constants.

# %% tags=["hide-input"]
recog = read_recorded_table("mnist_generated_recognisability", "paper", ROOT)
if recog is not None:
    recog_frame, recog_meta = recog
    same_weights = recog_meta["generator_sha256"] == meta["generator_sha256"]
    cnn = next(j for j in recog_meta["judges"] if j["judge"] == "CNN")
    goal = recog_meta["recognisability_goal"]
    glue("paper_recog_text",
         f"the real-digit CNN labels {cnn['generated, overall']:.1%} of {recog_meta['test_images']:,} generated test "
         f"digits correctly, and {cnn['generated, worst class']:.1%} of the worst class ({cnn['worst class']}), "
         f"against the paper profile's goals of {goal['overall']:.0%} and {goal['worst class']:.0%}. "
         + ("These are the weights whose constants are recorded above (equal sha256)." if same_weights else
            f"The recorded weights were not kept, so the check ran on the same configuration trained again on "
            f"another machine (weights sha256 {recog_meta['generator_sha256'][:12]}…); training on a different "
            f"processor gives different weights, so this describes the recipe, not those exact weights."),
         display=False)
    print(f"{recog_meta['generator']}; weights sha256 {recog_meta['generator_sha256'][:12]}; "
          f"recorded on {recog_meta['device']} at commit {recog_meta['commit'][:10]}")
    display_recog = recog_frame.drop(columns="profile").round(3)
else:
    glue("paper_recog_text", "no check has been recorded.", display=False)
    display_recog = None
display_recog

# %% [markdown]
# For the recorded generator: {glue:text}`paper_recog_text`
#
# ## What changes the number
#
# All comparisons below use the class with the largest constant, the one that sets
# $L_{\max}$, with the same latents ($S$ and seed) throughout: one trial, whose sampled
# constant is {glue:text}`one_trial_sample:.3f`, against Table 1's mean of
# {glue:text}`l_max_sample:.3f` over {glue:text}`trials` trials. The ratios below compare
# estimates on the same latents, so they are ratios within that trial.

# %% tags=["hide-input"]
label = worst_class
# RawScaleACGAN: the ACGAN measured as the original code did, on its tanh output in [-1, 1].
variants = {
    "sampled, uniform directions (this book)": dict(generator=acgan, method="sample", directions="uniform"),
    "sampled, orthant directions (original)": dict(generator=acgan, method="sample", directions="orthant"),
    "sampled, uniform, [-1, 1] scale (original)": dict(generator=RawScaleACGAN(acgan), method="sample", directions="uniform"),
    "gradient ascent, same budget": dict(generator=acgan, method="gradient", directions="uniform"),
}
rows = []
results = {}
for name, spec in variants.items():
    res = estimate_local_lipschitz(spec["generator"], label, method=spec["method"], directions=spec["directions"],
                                   seed=seed, **settings)
    results[name] = res
    rows.append({"estimate": name, "L": res.value, "median over samples": float(np.median(res.per_sample)),
                 "generator evaluations": res.evaluations})
certified, factors = acgan.certified_lipschitz_bound()
rows.append({"estimate": "certified global upper bound", "L": certified, "median over samples": np.nan,
             "generator evaluations": 0})
estimates = pd.DataFrame(rows)
write_table(estimates.assign(label=label), "lipschitz_estimators_mnist", RUN)

uniform = results["sampled, uniform directions (this book)"]
raw = results["sampled, uniform, [-1, 1] scale (original)"]
grad = results["gradient ascent, same budget"]
orthant = results["sampled, orthant directions (original)"]
# The [-1, 1] scale doubles every ratio exactly (same latents and neighbours).
assert np.allclose(raw.per_sample, 2 * uniform.per_sample, rtol=1e-4)
assert grad.value >= uniform.value and certified >= grad.value
orthant_factor = orthant.value / uniform.value
# the trial's own sampled constant is Table 1's trial 0 for this class (same seed, latents and neighbours)
assert np.isclose(uniform.value, table1.query("trial == 0 and `class` == @label")["value"].item())
glue("one_trial_sample", uniform.value, display=False)
glue("trials", trials, display=False)
glue("grad_over_sample", grad.value / uniform.value, display=False)
glue("find_grad_over_sample", f"{grad.value / uniform.value:.1f}", display=False)
glue("certified_value", certified, display=False)
glue("certified_over_grad", certified / grad.value, display=False)
glue("orthant_over_uniform", orthant_factor, display=False)
glue("orthant_text",
     "hardly changes the estimate" if abs(orthant_factor - 1) < 0.05 else
     ("lowers the estimate" if orthant_factor < 1 else "raises the estimate"), display=False)
glue("orthant_miss_text",
     "on this generator, with this budget, they missed more than uniform directions do" if orthant_factor < 0.95 else
     "on this generator, with this budget, they did not miss more than uniform directions do", display=False)
estimates.round(3)

# %% [markdown]
# For the class that sets $L_{\max}$:
#
# * **Pixel scale.** Measuring on $[-1,1]$ doubles every ratio exactly. The original
#   MNIST constants are therefore twice the constants of the map that produced the data.
#   Taken alone, that makes the paper's MNIST bound conservative (looser than needed).
# * **Orthant-only directions** {glue:text}`orthant_text` here: the orthant estimate is
#   {glue:text}`orthant_over_uniform:.2f` times the uniform one. Positive-orthant
#   directions cover only $2^{-d}$ of the sphere, so they could miss the generator's
#   steep directions; {glue:text}`orthant_miss_text`. Both sample blindly, which the next point shows is the real
#   problem.
# * **Gradient ascent** at the same budget of generator evaluations finds ratios
#   {glue:text}`grad_over_sample:.1f` times larger than sampling. This is the main
#   finding about the estimator. In $d=100$ dimensions, $N$ random directions almost
#   never align with the few directions in which the generator stretches most, so
#   Algorithm 1 underestimates the local constant. An underestimated $L$ makes Theorem
#   4.4's bound too *optimistic*: possibly smaller than the true upper bound.
# * **The certified global bound**, a product of the layers' spectral norms with batch
#   norm folded in, is {glue:text}`certified_value:.0f`. That is
#   {glue:text}`certified_over_grad:.0f` times the gradient estimate. Certified bounds of
#   this kind are valid but far too loose to give a useful robustness bound.
#
# The layer factors behind the certified bound:

# %% tags=["hide-input"]
pd.DataFrame(factors, columns=["layer", "spectral-norm factor"]).round(3)

# %% [markdown]
# ### How many neighbours are enough?
#
# Each point of the sampled curve below is a separate run on the same latents, with a
# larger $N$; gradient ascent gets the same budget of generator evaluations.

# %% tags=["hide-input"]
conv_rows = []
for n in convergence_neighbors:
    for method in ("sample", "gradient"):
        res = estimate_local_lipschitz(acgan, label, num_samples=convergence_samples, num_neighbors=n,
                                       radius=radius, delta=delta, method=method, seed=seed)
        conv_rows.append({"N (budget per sample)": n, "method": method, "L": res.value})
convergence = pd.DataFrame(conv_rows)
write_table(convergence.assign(label=label), "lipschitz_convergence_mnist", RUN)
sampled_curve = convergence[convergence["method"] == "sample"]["L"].to_numpy()
gradient_curve = convergence[convergence["method"] == "gradient"]["L"].to_numpy()
# No sampling budget here reaches what gradient ascent finds with the largest one.
assert gradient_curve[-1] > sampled_curve.max()
glue("conv_n_min", min(convergence_neighbors), display=False)
glue("conv_n_max", max(convergence_neighbors), display=False)
glue("conv_sample_growth", float(100 * (sampled_curve[-1] / sampled_curve[0] - 1)), display=False)
glue("conv_gradient_growth", float(100 * (gradient_curve[-1] / gradient_curve[0] - 1)), display=False)
glue("conv_gap", float(gradient_curve[-1] / sampled_curve.max()), display=False)

fig, ax = plt.subplots(figsize=(COLUMN_IN, 4.2))
for method, part in convergence.groupby("method"):
    style = ESTIMATE_STYLES[method]
    ax.plot(part["N (budget per sample)"], part["L"], **style.line(),
            label={"sample": f"{style.label} (Algorithm 1)", "gradient": f"{style.label} (gradient ascent)"}[method])
ax.axvline(PAPER_LIPSCHITZ["num_neighbors"], color=ESTIMATE_STYLES["paper"].color,
           linestyle=ESTIMATE_STYLES["paper"].linestyle, label=f"paper's N = {PAPER_LIPSCHITZ['num_neighbors']}")
ax.set(xscale="log", xlabel="neighbours N (or equal budget of generator evaluations) per latent",
       ylabel=r"estimated $L(r)$, images in [0, 1]",
       title=f"{DIGITS[label]}: estimate against budget (S = {convergence_samples}, r = {radius})")
ax.legend(loc="best")
fig.tight_layout()
convergence.pivot(index="N (budget per sample)", columns="method", values="L").round(3)

# %% [markdown]
# From $N=$ {glue:text}`conv_n_min` to {glue:text}`conv_n_max` neighbours the sampled
# estimate changes by {glue:text}`conv_sample_growth:.0f`%, gradient ascent's by
# {glue:text}`conv_gradient_growth:.0f`%, and at the largest budget gradient ascent is
# {glue:text}`conv_gap:.1f` times the best sampled value. The gap is in *where* the
# ratios are evaluated, not how many there are.
#
# ### How precise is a $(1-\delta)$-percentile of $S$ samples?

# %% tags=["hide-input"]
per = uniform.per_sample
position = (1 - delta) * (per.size - 1)  # numpy's linear interpolation between order statistics
top_two = np.sort(per)[-2:]
glue("pct_S", per.size, display=False)
glue("pct_position", float(position + 1), display=False)  # 1-based rank
glue("pct_fraction", float(100 * (position - np.floor(position))), display=False)
glue("pct_below_max", float(100 * (1 - uniform.value / top_two[1])), display=False)
glue("paper_pct_position", (1 - delta) * (PAPER_LIPSCHITZ["num_samples"] - 1) + 1, display=False)
assert top_two[0] <= uniform.value <= top_two[1]

boot_rng = np.random.default_rng(seed)
boot = np.array([percentile_estimate(boot_rng.choice(per, per.size), delta) for _ in range(bootstrap_resamples)])
low, high = np.quantile(boot, [0.025, 0.975])
glue("boot_low", float(low), display=False)
glue("boot_high", float(high), display=False)
glue("boot_level", 95, display=False)
SAMPLE, GRADIENT = ESTIMATE_STYLES["sample"], ESTIMATE_STYLES["gradient"]
fig, axes = plt.subplots(2, 1, figsize=(COLUMN_IN, 7.6))
axes[0].hist(per, bins=20, color=SAMPLE.color, alpha=0.45, label=f"per-sample $L_i$, {SAMPLE.label}")
axes[0].hist(grad.per_sample, bins=20, histtype="step", color=GRADIENT.color, linestyle=GRADIENT.linestyle, lw=1.5,
             label=f"per-sample $L_i$, {GRADIENT.label}")
axes[0].axvline(uniform.value, color=SAMPLE.color, linestyle=SAMPLE.linestyle, lw=2,
                label=r"$(1-\delta)$-percentile, " + SAMPLE.label)
axes[0].axvline(grad.value, color=GRADIENT.color, linestyle=GRADIENT.linestyle, lw=2,
                label=r"$(1-\delta)$-percentile, " + GRADIENT.label)
axes[0].set(xlabel="local constant at a latent sample", ylabel="count", title="per-sample estimates")
axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
axes[1].hist(boot, bins=30, color=SAMPLE.color, alpha=0.45)
axes[1].axvline(low, color="k", ls=":")
axes[1].axvline(high, color="k", ls=":")
axes[1].set(xlabel=r"bootstrap $(1-\delta)$-percentile of the sampled $L_i$", ylabel="count",
            title=f"bootstrap 95% interval [{low:.3f}, {high:.3f}]")
fig.tight_layout()

# %% [markdown]
# With linear interpolation, the $(1-\delta)$-percentile of $S$ values sits at rank
# $(1-\delta)(S-1)+1$ of the sorted values. For the paper's $S$ that is rank
# {glue:text}`paper_pct_position:.3f`, between the two largest. For this profile's
# $S=$ {glue:text}`pct_S` it is rank {glue:text}`pct_position:.3f`:
# {glue:text}`pct_fraction:.1f`% of the way from the second-largest value to the
# largest, which here puts it {glue:text}`pct_below_max:.2f`% below the maximum.
#
# Its sampling variability can be seen by bootstrapping the per-sample constants. The
# bootstrap {glue:text}`boot_level`% interval for the sampled estimate is
# [{glue:text}`boot_low:.3f`, {glue:text}`boot_high:.3f`]. It is narrower than the
# truth, because a bootstrap cannot produce values larger than any it has seen, but the
# spread is small compared with the gap between sampling and gradient ascent. The
# estimator's bias, not its variance, is what matters.
#
# ## The bound with each estimate
#
# Theorem 4.4 (per-class-risk form, $\alpha=$ {glue:text}`alpha`,
# $\delta=$ {glue:text}`bound_delta`, as in Table 3's MNIST row) is recomputed here with
# each $L_{\max}$, each measured at $r=$ {glue:text}`radius`, and so within Theorem 4.3's
# hypothesis: where $r\cdot L<\epsilon$, $L$ is raised to $\epsilon/r$. For this
# profile's sampled and gradient estimates, $L_{\max}$ is over all classes (both tables
# are computed in the radius section below, at the same $r$, and each takes the running
# maximum over the smaller radii, which is also a lower estimate of $L(r)$). The
# certified bound is global, valid at every radius.
#
# The $\delta$ is Table 3's, for comparison with the paper, and it is not one that these
# constants support. Algorithm 1's constant is a percentile read between the two largest
# of its $S$ latents per class (see above), so one of them lies above it, and $S$ latents
# with one above support, at $95\%$ confidence, no $\delta$ below
# {glue:text}`supported_delta_profile:.4f` for this profile's $S=$ {glue:text}`pct_S_bound`
# and {glue:text}`supported_delta_paper:.4f` for the paper's $S=$ {glue:text}`paper_S`
# (Chapter 4 states its bounds at both). The bounds below
# are therefore lower than the data behind them allow: at the supported $\delta$, this
# profile's gradient $L_{\max}$ gives {glue:text}`bound3_gradient_supported_text` at
# $\epsilon=$ {glue:text}`eps_max`, against the {glue:text}`bound3_gradient:.1f`% below.

# %%
radius_rows = []
for r in radius_grid:
    for method in ("sample", "gradient"):
        table = lipschitz_table(acgan, DIGITS, replace(SETTINGS, radius=r, trials=1), method=method, seed=seed,
                                progress=False)
        radius_rows.append(table)
radius_table = pd.concat(radius_rows, ignore_index=True)

# %% tags=["hide-input"]
# the weights' digest names the generator exactly: Chapters 4 and 5 check it before using these constants
write_table(radius_table.assign(generator=acgan_source.description), "lipschitz_by_radius_mnist", RUN,
            extra={"generator_sha256": module_digest(acgan_source.generator)})
measured_l_of_r = radius_table.groupby(["radius", "method"])["value"].max().unstack("method")  # L_max(r)
# The true L(r) cannot decrease with r (each latent's supremum is over a growing ball), so an
# estimate at a smaller radius is a lower estimate at every larger one: the running maximum
# over radii is the better lower estimate, and the one the bounds below use.
l_of_r = measured_l_of_r.sort_index().cummax()
# At the chapter's radius the sampled column is trial 0 of Table 1 (same seed, latents and neighbours).
assert np.isclose(measured_l_of_r.loc[radius, "sample"], table1.query("trial == 0")["value"].max())
l_max_gradient = float(l_of_r.loc[radius, "gradient"])

choices = {
    "paper, Table 1 ([-1, 1] scale)": (PAPER_L_MAX, paper.LIPSCHITZ_RADIUS),
    "paper, Table 1 halved to [0, 1] scale": (PAPER_L_MAX / 2, paper.LIPSCHITZ_RADIUS),
    "recorded paper profile, sampled": (rec_lmax["sample"], PAPER_LIPSCHITZ["radius"]),
    "recorded paper profile, gradient": (rec_lmax["gradient"], PAPER_LIPSCHITZ["radius"]),
    f"{profile} profile, sampled": (l_max_sample, radius),
    f"{profile} profile, gradient": (l_max_gradient, radius),
    f"{profile} profile, certified (global)": (certified, None),
}
# Line style: the estimate (ESTIMATE_STYLES); marker: whose generator (filled: this profile's, hollow: the
# recorded paper profile's; the paper's own constants keep the paper's grey, with a dash-dot line once halved).
choice_styles = {
    "paper, Table 1 ([-1, 1] scale)": ESTIMATE_STYLES["paper"].line(),
    "paper, Table 1 halved to [0, 1] scale": {**ESTIMATE_STYLES["paper"].line(), "marker": "+", "linestyle": "-."},
    "recorded paper profile, sampled": {**ESTIMATE_STYLES["sample"].line(), "markerfacecolor": "white"},
    "recorded paper profile, gradient": {**ESTIMATE_STYLES["gradient"].line(), "markerfacecolor": "white"},
    f"{profile} profile, sampled": ESTIMATE_STYLES["sample"].line(),
    f"{profile} profile, gradient": ESTIMATE_STYLES["gradient"].line(),
    f"{profile} profile, certified (global)": {"color": ESTIMATE_STYLES["sample"].color, "marker": "*",
                                               "linestyle": (0, (3, 1, 1, 1, 1, 1))},
}
eps_grid = np.linspace(0.0, max(EPSILONS), 61)
bound_rows = []
fig, ax = plt.subplots(figsize=(COLUMN_IN, 6))
for i, (name, (lip, r)) in enumerate(choices.items()):
    ax.plot(eps_grid, 100 * bounds.table3_bound(MNIST_BOUND, eps_grid, lip, radius=r).value, label=name,
            markevery=(i, 8), lw=1.5, **choice_styles[name])
    res = bounds.table3_bound(MNIST_BOUND, EPSILONS, lip, radius=r)
    for eps, value, capped in zip(res.eps, res.value, res.capped):
        bound_rows.append({"L_max from": name, "L_max": lip, "r": r, "eps": eps, "bound (%)": 100 * value,
                           "capped": bool(capped)})
ax.axhline(100 * floor, color="k", ls=":", lw=1.5, label=fr"floor: $\epsilon/L = r$ = {radius}")
ax.set(xlabel=r"$\epsilon$ ($\ell_2$, images in [0, 1])", ylabel="upper bound on robust accuracy (%)",
       title=fr"Theorem 4.4 on generated MNIST, $\alpha$ = {MNIST_BOUND.alpha}")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
fig.tight_layout()
bound_frame = pd.DataFrame(bound_rows)
write_table(bound_frame, "bound_by_lipschitz_estimate_mnist", RUN)
bound_table = bound_frame.assign(
    shown=[f"{b:.1f}" + (" (capped)" if c else "") for b, c in zip(bound_frame["bound (%)"], bound_frame["capped"])]
).pivot_table(index=["L_max from", "L_max", "r"], columns="eps", values="shown", aggfunc="first", sort=False)
at3 = bound_frame[bound_frame["eps"] == max(EPSILONS)].set_index("L_max from")
glue("bound3_sampled", float(at3.loc[f"{profile} profile, sampled", "bound (%)"]), display=False)
glue("bound3_gradient", float(at3.loc[f"{profile} profile, gradient", "bound (%)"]), display=False)
glue("bound3_rec_sample", float(at3.loc["recorded paper profile, sampled", "bound (%)"]), display=False)
glue("bound3_rec_gradient", float(at3.loc["recorded paper profile, gradient", "bound (%)"]), display=False)
glue("bound3_paper_half", float(at3.loc["paper, Table 1 halved to [0, 1] scale", "bound (%)"]), display=False)
glue("bound3_paper", float(at3.loc["paper, Table 1 ([-1, 1] scale)", "bound (%)"]), display=False)
glue("rec_sample_r_times_l", PAPER_LIPSCHITZ["radius"] * rec_lmax["sample"], display=False)
glue("l_max_gradient", l_max_gradient, display=False)
glue("quick_r_times_l", radius * l_max_sample, display=False)
glue("quick_r_times_l_gradient", radius * l_max_gradient, display=False)
glue("n_capped", int(bound_frame["capped"].sum()), display=False)
glue("supported_delta_profile", percentile_supported_delta(num_samples, delta), display=False)
glue("supported_delta_paper", percentile_supported_delta(PAPER_LIPSCHITZ["num_samples"], PAPER_LIPSCHITZ["delta"]),
     display=False)
glue("pct_S_bound", num_samples, display=False)
at_supported = replace(MNIST_BOUND, delta=supported_delta_at_radius(radius_table, radius)["gradient"])
bound3_supported = 100 * float(bounds.table3_bound(at_supported, max(EPSILONS), l_max_gradient, radius=radius).value)
glue("bound3_gradient_supported_text", f"{bound3_supported:.1f}%" + (
    ", above 100% and so no information about robustness" if bound3_supported >= 100 else ""), display=False)
glue("n_bounds", len(bound_frame), display=False)
bound_table

# %% [markdown]
# A larger $L$ means a smaller $\epsilon/L$ and a bound closer to $1-\alpha+\delta$, a
# weaker statement. But $\epsilon/L$ can never exceed $r$: at $r=$
# {glue:text}`radius` and $\alpha=$ {glue:text}`alpha` no estimate of $L$, however small,
# can push the bound below {glue:text}`floor_pct:.2f`% (the black dotted line). The radius,
# not only $L$, limits the bound.
#
# * **This profile's generator.** Its sampled $L_{\max}$ gives $r\cdot L=$
#   {glue:text}`quick_r_times_l:.2f`, its gradient $L_{\max}$ gives
#   {glue:text}`quick_r_times_l_gradient:.2f`. Wherever that is below $\epsilon$, the
#   bound sits on the floor: at $\epsilon=$ {glue:text}`eps_max` it is
#   {glue:text}`bound3_sampled:.2f`% with the sampled constant and
#   {glue:text}`bound3_gradient:.2f`% with the gradient one. Computed without the cap,
#   as the paper's formula would be applied, the sampled constant would have given a far
#   lower number that is not a bound at all.
# * **The recorded paper-profile generator.** The sampled $L_{\max}$ gives $r\cdot L=$
#   {glue:text}`rec_sample_r_times_l:.2f`, just below $\epsilon=$
#   {glue:text}`eps_max`, so the cap applies there: {glue:text}`bound3_rec_sample:.2f`%.
#   With the gradient $L_{\max}$ the hypothesis holds at every $\epsilon$ of Table 3,
#   and the bound at $\epsilon=$ {glue:text}`eps_max` is
#   {glue:text}`bound3_rec_gradient:.2f`%.
# * **The paper's own row** satisfies the hypothesis at every $\epsilon$ of Table 3
#   (its constants are at least twice as large as the $[0,1]$-scale ones). Measuring on
#   $[-1,1]$ doubled its constants, which makes the bound looser: halving them lowers
#   its {glue:text}`bound3_paper:.1f`% at $\epsilon=$ {glue:text}`eps_max` to
#   {glue:text}`bound3_paper_half:.1f`%. Sampling makes constants smaller than the
#   truth, which makes the bound tighter than it should be. For the recorded generator
#   the second effect is the larger: gradient ascent finds {glue:text}`rec_ratio_min:.1f`
#   to {glue:text}`rec_ratio_max:.1f` times the sampled constants, more than the factor
#   of the scale. Whether the same holds for the paper's own generator cannot be checked
#   without it.
#
# In all, the cap changed {glue:text}`n_capped` of the {glue:text}`n_bounds` bounds in
# the table.
#
# ## The radius as a lever
#
# Theorem 4.3 lets the user pick $r$. A larger ball raises the ceiling $\epsilon/L\le r$
# but can only raise $L(r)$, the supremum over a larger ball; a smaller ball does the
# opposite. The paper fixed $r$ = {glue:text}`paper_r` without discussing it. Here
# $L_{\max}(r)$ is measured over all classes at each radius of the profile's grid, by
# both estimators (same $S$, $N$ and seed), and the bound at each $\epsilon$ of Table 3
# is computed within the hypothesis at each $r$.

# %% tags=["hide-input"]
lever_rows = []
for r in radius_grid:
    for method in ("sample", "gradient"):
        lip = float(l_of_r.loc[r, method])
        res = bounds.table3_bound(MNIST_BOUND, EPSILONS, lip, radius=r)
        for eps, value, capped in zip(res.eps, res.value, res.capped):
            lever_rows.append({"r": r, "method": method, "L_max(r)": lip, "eps": eps, "bound (%)": 100 * value,
                               "capped": bool(capped)})
lever = pd.DataFrame(lever_rows)
write_table(lever, "bound_by_radius_mnist", RUN)
best = lever.loc[lever.groupby(["method", "eps"])["bound (%)"].idxmin()].set_index(["method", "eps"])
at_paper_r = lever[lever["r"] == radius].set_index(["method", "eps"])

fig, axes = plt.subplots(2, 1, figsize=(COLUMN_IN, 10))
for method in ("sample", "gradient"):
    style = ESTIMATE_STYLES[method]
    axes[0].plot(measured_l_of_r.index, measured_l_of_r[method], color=style.color, linestyle=style.linestyle,
                 marker=style.marker, markerfacecolor="white", lw=1, alpha=0.6, label=f"{style.label}, as measured")
    axes[0].plot(l_of_r.index, l_of_r[method], **style.line(), lw=2, label=f"{style.label}, running max (used)")
r_line = np.geomspace(min(radius_grid), max(radius_grid), 100)
# the epsilons of Table 3: a sequential palette, darker for larger epsilon
eps_colors = plt.get_cmap("viridis")(np.linspace(0.75, 0.1, len(EPSILONS)))
for eps, color in zip(EPSILONS, eps_colors):
    axes[0].plot(r_line, eps / r_line, color=color, lw=1.5, label=fr"$\epsilon/r$, $\epsilon$ = {eps:g}")
    for method in ("sample", "gradient"):
        style = ESTIMATE_STYLES[method]
        part = lever[(lever["method"] == method) & (lever["eps"] == eps)]
        axes[1].plot(part["r"], part["bound (%)"], color=color, linestyle=style.linestyle, marker=style.marker,
                     label=fr"$\epsilon$ = {eps:g}, {style.label}")
axes[0].set(xscale="log", yscale="log", xlabel="radius r of the latent ball",
            ylabel=r"$L_{\max}(r)$, images in [0, 1]", title="local constant against radius")
axes[1].set(xscale="log", xlabel="radius r of the latent ball", ylabel="upper bound on robust accuracy (%)",
            title=fr"Theorem 4.4 within its hypothesis ($\alpha$ = {MNIST_BOUND.alpha})")
for ax in axes:  # label the measured radii themselves, not log-scale minor ticks
    ax.set_xticks(radius_grid, [f"{r:g}" for r in radius_grid])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False,
               title=r"where $L_{\max}(r)$ lies below $\epsilon/r$, the bound raises it to $\epsilon/r$")
axes[1].legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
fig.tight_layout()

lever_table = lever.assign(
    shown=[f"{b:.1f}" + (" (capped)" if c else "") for b, c in zip(lever["bound (%)"], lever["capped"])]
).pivot_table(index=["method", "r", "L_max(r)"], columns="eps", values="shown", aggfunc="first")
for method in ("sample", "gradient"):
    for eps in EPSILONS:
        key = f"{method}_{eps:g}"
        glue(f"best_r_{key}", float(best.loc[(method, eps), "r"]), display=False)
        glue(f"best_bound_{key}", float(best.loc[(method, eps), "bound (%)"]), display=False)
        glue(f"paper_r_bound_{key}", float(at_paper_r.loc[(method, eps), "bound (%)"]), display=False)
glue("l_growth_gradient", float(measured_l_of_r["gradient"].iloc[-1] / measured_l_of_r["gradient"].iloc[0]),
     display=False)
glue("l_growth_sample", float(measured_l_of_r["sample"].iloc[-1] / measured_l_of_r["sample"].iloc[0]), display=False)
n_decreasing = int(sum((measured_l_of_r[m].diff().dropna() < 0).sum() for m in ("sample", "gradient")))
glue("n_decreasing", n_decreasing, display=False)
glue("n_steps", 2 * (len(radius_grid) - 1), display=False)
glue("r_ratio", max(radius_grid) / min(radius_grid), display=False)
glue("r_min", min(radius_grid), display=False)
glue("r_max", max(radius_grid), display=False)
glue("find_best_bound_gradient", f"{best.loc[('gradient', max(EPSILONS)), 'bound (%)']:.1f}", display=False)
glue("find_best_r_gradient", f"{best.loc[('gradient', max(EPSILONS)), 'r']:g}", display=False)
# a sampled row whose constant gradient ascent exceeds at the same radius, and whose bound that raises
exceeded = gradient_exceeds_sampled(lever)
glue("n_sample_exceeded", int(exceeded.sum()), display=False)
glue("n_lever_rows", len(exceeded), display=False)
lever_table

# %% [markdown]
# Over a {glue:text}`r_ratio:.0f`-fold range of radii ({glue:text}`r_min` to
# {glue:text}`r_max`), the measured gradient estimate of $L_{\max}(r)$ changes by a factor
# of {glue:text}`l_growth_gradient:.2f` and the sampled one by
# {glue:text}`l_growth_sample:.2f`. The true $L(r)$ cannot decrease with $r$: each
# latent's supremum is taken over a growing ball. Yet {glue:text}`n_decreasing` of the
# {glue:text}`n_steps` steps between neighbouring radii decrease. Both estimators spend a
# fixed budget on a larger ball, and uniform neighbours in a large ball lie near its
# surface, far from $z$, where the ratio averages the generator's stretch over a long
# path. Those decreases are the estimators' shortfall, not the generator's shape. An
# estimate at a smaller radius is a lower estimate at every larger one, so the bounds
# use the running maximum over radii (thick lines), still a lower estimate of $L(r)$.
#
# The strongest bound within Theorem 4.3's hypothesis with the gradient constants is, at
# $\epsilon=1$,
# {glue:text}`best_bound_gradient_1:.1f`% (at $r=$ {glue:text}`best_r_gradient_1`),
# at $\epsilon=2$ {glue:text}`best_bound_gradient_2:.1f`% ($r=$
# {glue:text}`best_r_gradient_2`), and at $\epsilon=3$
# {glue:text}`best_bound_gradient_3:.1f`% ($r=$ {glue:text}`best_r_gradient_3`), against
# {glue:text}`paper_r_bound_gradient_1:.1f`%, {glue:text}`paper_r_bound_gradient_2:.1f`%
# and {glue:text}`paper_r_bound_gradient_3:.1f`% at the chapter's $r$. With the sampled
# constants the best values are {glue:text}`best_bound_sample_1:.1f`%,
# {glue:text}`best_bound_sample_2:.1f`% and {glue:text}`best_bound_sample_3:.1f`% (at
# $r=$ {glue:text}`best_r_sample_1`, {glue:text}`best_r_sample_2` and
# {glue:text}`best_r_sample_3`). This is the honest version of Table 3's bound row for
# this book's generator: each entry meets Theorem 4.3's hypothesis for its $r$, and is a
# bound only as far as the estimate of $L(r)$ is the true constant (at the paper's
# $\delta$, which these latents do not support; see above). The radius is a lever the
# paper left unused. Both estimators
# spread a fixed budget over a larger ball at larger $r$, so a best radius at the top of
# the grid deserves the most suspicion. In {glue:text}`n_sample_exceeded` of the
# {glue:text}`n_lever_rows` (radius, $\epsilon$) rows, gradient ascent finds latents above
# the sampled constant at the same radius and a higher bound; Condition 4.1 allows a
# latent above the constant only with probability $\delta$, so those sampled rows rest on
# constants the measurements speak against, and show how far the estimator alone moves
# the number.
#
# ## Conditional versus unconditional generators
#
# Section 5.2 argues that a class-conditional generator has smaller local constants
# than an unconditional one, because within-class variation is smaller than
# between-class variation. It reports an Algorithm 1 constant of
# {glue:text}`paper_uncond` for an unconditional GAN on MNIST, against at most
# {glue:text}`paper_l_max` per class in Table 1. The unconditional counterpart here is
# the same pair of networks, trained the same way, with the labels dropped: one class,
# so the auxiliary classification loss vanishes. It is measured with the same settings,
# by both estimators, and compared with the conditional $L_{\max}$ over classes of the
# same estimator. Chapter 2 trained it beside the conditional one; it comes from the cache
# (or trains here, when this chapter runs alone).

# %%
uncond_source = make_generator("mnist", seed=seed, acgan=RECIPE, group=profile, artifacts=RUN.artifacts,
                               mnist_dir=RUN.mnist_dir, unconditional=True, progress=False)
uncond = uncond_source.generator.to(DEVICE)
uncond_sample = lipschitz_table(uncond, class_names("mnist", unconditional=True), SETTINGS, seed=seed,
                                progress=False)
uncond_grad = estimate_local_lipschitz(uncond, 0, method="gradient", seed=seed, **settings)

# %% tags=["hide-input"]
u_sample = float(uncond_sample["value"].mean())
uncond_rows = pd.DataFrame([
    {"generator": "conditional (ACGAN), L_max over classes", "sampled": l_max_sample,
     "gradient ascent": l_max_gradient, "paper ([-1, 1] scale)": PAPER_L_MAX},
    {"generator": "unconditional (labels dropped)", "sampled": u_sample,
     "gradient ascent": uncond_grad.value, "paper ([-1, 1] scale)": paper.UNCONDITIONAL_MNIST_LIPSCHITZ},
])
write_table(uncond_sample.assign(generator=uncond_source.description, gradient=uncond_grad.value),
            "lipschitz_unconditional_mnist", RUN)
glue("paper_uncond", paper.UNCONDITIONAL_MNIST_LIPSCHITZ, display=False)
glue("paper_l_max", PAPER_L_MAX, display=False)
glue("u_sample", u_sample, display=False)
glue("u_gradient", uncond_grad.value, display=False)
glue("u_ratio_sample", u_sample / l_max_sample, display=False)
glue("u_ratio_gradient", uncond_grad.value / l_max_gradient, display=False)
glue("u_ratio_paper", paper.UNCONDITIONAL_MNIST_LIPSCHITZ / PAPER_L_MAX, display=False)
glue("u_direction",
     "both estimators find the unconditional generator steeper"
     if u_sample > l_max_sample and uncond_grad.value > l_max_gradient else
     "the estimators do not both find the unconditional generator steeper", display=False)
print(uncond_source.description)
uncond_rows.round(3)

# %% tags=["hide-input"]
# The paper-profile run of both generators, when recorded on a GPU (see Table 1 above).
rec_u = read_recorded_lipschitz("lipschitz_mnist_unconditional_sample", ROOT, PAPER_PROFILE.lipschitz)
if rec_u is not None:
    u_frame, u_meta = rec_u
    u_rec = {"sample": float(u_frame["value"].mean()), "sample std": float(u_frame["value"].std())}
    rec_u_grad = read_recorded_lipschitz("lipschitz_mnist_unconditional_gradient", ROOT, PAPER_PROFILE.lipschitz)
    if rec_u_grad is not None:
        u_rec["gradient"] = float(rec_u_grad[0]["value"].mean())
    print(f"paper profile, {u_meta['generator']}, recorded on {u_meta['device']} at commit {u_meta['commit'][:10]}:")
    print(f"  unconditional, sampled: {mean_std(u_rec['sample'], u_rec['sample std'])} ({PAPER_LIPSCHITZ['trials']} trials); "
          f"conditional L_max, sampled: {rec_lmax['sample']:.3f}; ratio {u_rec['sample'] / rec_lmax['sample']:.2f}")
    u_rec_text = f"the ratio is {u_rec['sample'] / rec_lmax['sample']:.2f} with sampling"
    if "gradient" in u_rec:
        print(f"  unconditional, gradient: {u_rec['gradient']:.3f}; conditional L_max, gradient: "
              f"{rec_lmax['gradient']:.3f}; ratio {u_rec['gradient'] / rec_lmax['gradient']:.2f}")
        u_rec_text += f" and {u_rec['gradient'] / rec_lmax['gradient']:.2f} with gradient ascent"
else:
    u_rec_text = "no run has been recorded"
    print("paper profile: not recorded (intrinsic-rob lipschitz --dataset mnist --profile paper --unconditional)")
glue("u_rec_text", u_rec_text, display=False)

# %% [markdown]
# With this profile's settings, the unconditional generator's sampled constant is
# {glue:text}`u_sample:.3f`, {glue:text}`u_ratio_sample:.2f` times the conditional
# sampled $L_{\max}$. Gradient ascent gives {glue:text}`u_gradient:.3f`,
# {glue:text}`u_ratio_gradient:.2f` times the conditional gradient $L_{\max}$. The
# paper's ratio is {glue:text}`u_ratio_paper:.2f`. For the `paper` profile's generators
# on the GPU, {glue:text}`u_rec_text`.
#
# Here {glue:text}`u_direction`, as the paper argues. The comparison is controlled,
# since both generators share networks, data, training schedule and latents; the paper
# names only the GAN of Goodfellow et al. (2014), not its architecture or training. The
# argument of Section 5.2 survives the change of estimator, but the paper's absolute
# numbers do not: an unconditional constant measured by sampling is as much an
# underestimate as the conditional ones.
#
# ## Table 2: ImageNet10
#
# With the real BigGAN weights this section reproduces Table 2. Without them it runs
# on the randomly initialised, reduced-width BigGAN-deep of the previous chapter. Its
# numbers below are a **pipeline check** (shapes, scale, resizing, bookkeeping) and say
# nothing about ImageNet.

# %% tags=["hide-input"]
image_source = make_generator("imagenet10", seed=seed, artifacts=RUN.artifacts, biggan_dir=RUN.biggan_dir,
                              allow_random_biggan=True, random_width=biggan_random_width)
biggan10 = image_source.generator.to(DEVICE)
pipeline_check = not image_source.pretrained
if pipeline_check:
    # Random weights: the run only exercises the pipeline, so it is kept small in every profile.
    imagenet_samples, imagenet_neighbors, imagenet_trials = pipeline_check_samples, pipeline_check_neighbors, 1
else:
    imagenet_trials = trials
glue("imagenet_status", image_source.description, display=False)
print(image_source.description)

# %% tags=["hide-input", "nbval-ignore-output"]
# Ignored by nbval: BigGAN's batch-norm and attention sums differ in the last digits between runs
# of the randomly initialised pipeline check; the checks below assert what the section claims.
table2 = lipschitz_table(biggan10, list(IMAGENET10_NAMES),
                         Algorithm1Settings(imagenet_samples, imagenet_neighbors, radius, delta, imagenet_trials),
                         seed=seed, progress=False)
write_table(table2.assign(generator=image_source.description), "table2_lipschitz_imagenet10", RUN)
summary2 = beside_paper(summarise_table(table2), paper.TABLE2_IMAGENET10_LIPSCHITZ)
nearest = ImageNet10Generator(biggan10.biggan, resize="nearest", pretrained=biggan10.pretrained).to(DEVICE)
resize_rows = []
for cls in (0, len(IMAGENET10_NAMES) - 1):
    for name, gen in (("area (default)", biggan10), ("nearest (original)", nearest)):
        res = estimate_local_lipschitz(gen, cls, num_samples=imagenet_samples, num_neighbors=imagenet_neighbors,
                                       radius=radius, delta=delta, seed=seed)
        resize_rows.append({"class": IMAGENET10_NAMES[cls], "resize": name, "L": res.value})
resize = pd.DataFrame(resize_rows).pivot(index="class", columns="resize", values="L")
assert len(summary2) == len(IMAGENET10_NAMES) and (summary2["mean"] > 0).all() and np.isfinite(summary2["mean"]).all()
assert (resize.to_numpy() > 0).all()
print(f"Status: {image_source.description}")
display_cols = ["name", "mean", "paper"]
summary2[display_cols].rename(columns={"mean": "L (this run)"})

# %% tags=["hide-input", "nbval-ignore-output"]
resize

# %% [markdown]
# Status of this build: **{glue:text}`imagenet_status`**. The resizing filter changes
# the map being measured, and hence its constant; the table above shows by how much for
# two classes (for the randomly initialised pipeline-check generator, when that is what
# the status names: then it shows the mechanism, not ImageNet10's numbers).
# Nearest-neighbour sampling keeps one pixel of each block it replaces, so it can pass on
# high-frequency variation that area averaging smooths away.
#
# ## Summary
#
# * This reproduction implements Algorithm 1 correctly (uniform neighbours, $[0,1]$
#   scale, shared $g(z)$) and measures what each of the original defects does to the
#   estimate.
# * Theorem 4.3 holds only where $r\cdot L\ge\epsilon$. With the cap that makes every
#   bound meet it, no constant measured at $r=$ {glue:text}`radius` gives a bound below
#   {glue:text}`floor_pct:.1f`% at $\alpha=$ {glue:text}`alpha`. Choosing the radius
#   well matters as much as estimating $L$ well: the strongest bound within the hypothesis
#   at $\epsilon=3$
#   with gradient constants is {glue:text}`best_bound_gradient_3:.1f`%, at
#   $r=$ {glue:text}`best_r_gradient_3`.
# * The dominant issue of the estimator is not a coding defect but the method. Random
#   sampling of a high-dimensional ball underestimates the local constant: gradient
#   ascent at the same cost finds ratios {glue:text}`grad_over_sample:.1f` times larger
#   here, and {glue:text}`rec_ratio_min:.1f` to {glue:text}`rec_ratio_max:.1f` times on
#   every class of the recorded paper-profile generator.
# * An unconditional generator is steeper than the conditional one, as Section 5.2
#   argues: by {glue:text}`u_ratio_sample:.1f` times with sampling and
#   {glue:text}`u_ratio_gradient:.1f` with gradient ascent here.
# * Certified bounds sit orders of magnitude higher, so the honest range for $L$ spans
#   from "at least the gradient estimate" to "at most the certified bound". Theorem 4.4
#   is informative only near the lower end of that range.
