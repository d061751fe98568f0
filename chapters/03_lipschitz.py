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
#
# Theorem 4.4 depends on the generator only through $\epsilon/L_{\max}$, so the bound
# is only as good as the Lipschitz constant fed into it. Section 5.2 of
# {cite:t}`zhang2020` estimates $L(r)$ with a sampling procedure, Algorithm 1, and
# reports the constants of Tables 1 and 2. This chapter reproduces that procedure. It
# then measures how much the number depends on how it is estimated, and how much the
# bound moves with it.
#
# Algorithm 1, for one class, runs as follows. Draw $S$ latents $z_i\sim\mathcal N(0,I)$
# and $N$ neighbours $\hat z_i^j$ in the ball $\mathcal B_r(z_i)$. Set
# $L_i=\max_j\lVert g(\hat z_i^j)-g(z_i)\rVert/\lVert\hat z_i^j-z_i\rVert$, and output the
# $(1-\delta)$-percentile of $\{L_i\}$. Each $L_i$ is a *lower* estimate of the true local
# constant at $z_i$, because a maximum over samples cannot exceed the supremum over the
# ball.

# %% tags=["parameters"]
profile = "quick"
seed = 0
num_samples = 40
num_neighbors = 100
radius = 0.5
delta = 0.001
trials = 3
convergence_neighbors = [10, 30, 100, 300, 1000]
convergence_samples = 20
bootstrap_resamples = 2000
imagenet_samples = 2
imagenet_neighbors = 6
pipeline_check_samples = 2
pipeline_check_neighbors = 6
biggan_random_width = 4
biggan_dir = None
device = "cpu"

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from myst_nb import glue

from intrinsic_rob import bounds, paper
from intrinsic_rob.book import find_root
from intrinsic_rob.datasets import make_generator
from intrinsic_rob.devices import pin_allocator, resolve_device
from intrinsic_rob.generators.biggan import IMAGENET10_NAMES, ImageNet10Generator
from intrinsic_rob.lipschitz import (
    acgan_certified_bound, estimate_local_lipschitz, lipschitz_table, percentile_estimate, summarise_table,
)
from intrinsic_rob.profiles import get_profile
from intrinsic_rob.results import read_recorded_table, write_table

sns.set_theme(context="notebook", style="whitegrid")
pd.set_option("display.precision", 3)
ROOT = find_root()
DEVICE = resolve_device(device)
# Freed buffers stay in the process: on the CPU, large tensor operations otherwise
# page-fault their memory afresh on many calls (`intrinsic_rob.devices.pin_allocator`).
pin_allocator()
DIGITS = [f"digit {k}" for k in range(10)]
settings = dict(num_samples=num_samples, num_neighbors=num_neighbors, radius=radius, delta=delta)
glue("settings_text", f"S = {num_samples}, N = {num_neighbors}, r = {radius}, delta = {delta}, {trials} trials",
     display=False)

# %% [markdown]
# ## What is measured, and on which scale
#
# The estimators take any generator with the project's interface, and measure it on
# exactly the map that produces the dataset. For the ACGAN that includes the output
# rescaling $(t+1)/2$, so images lie in $[0,1]$, the same scale as $\epsilon$ in Table 3.
# The original code measured the ACGAN on its raw tanh output in $[-1,1]$, which
# doubles $L$ (REFERENCE.md, defect 2). It measured BigGAN after resizing to $[0,1]$, so
# the two datasets were on different scales.
#
# Three other changes from the original code matter here.
#
# * Neighbour directions are drawn uniformly on the sphere. The original normalised
#   uniform $[0,1)^d$ vectors, which puts every direction in the positive orthant
#   (defect 1).
# * Radii follow $rU^{1/d}$, so neighbours are uniform in the ball.
# * $g(z)$ is computed once per latent rather than once per neighbour, and many latents
#   share a batch (defect 3). `intrinsic-rob bench lipschitz` measures the speed-up.
#
# ## Table 1 on this book's ACGAN
#
# The paper used $S=1000$, $N=2000$, $r=0.5$, $\delta=0.001$ and 10 trials; the `paper`
# profile runs exactly that. This profile uses {glue:text}`settings_text`.

# %% tags=["nbval-ignore-output"]
acgan_source = make_generator("mnist", profile, root=ROOT)
acgan = acgan_source.generator.to(DEVICE)
table1 = lipschitz_table(acgan, DIGITS, trials=trials, seed=seed, progress=False, **settings)
write_table(table1.assign(generator=acgan_source.description), "table1_lipschitz_mnist", profile, ROOT)
summary1 = summarise_table(table1)
summary1["paper ([-1, 1] scale)"] = [f"{paper.TABLE1_MNIST_LIPSCHITZ[n][0]:.1f} ± {paper.TABLE1_MNIST_LIPSCHITZ[n][1]:.1f}"
                                     for n in summary1["name"]]
summary1["paper / 2 ([0, 1] scale)"] = [paper.TABLE1_MNIST_LIPSCHITZ[n][0] / 2 for n in summary1["name"]]
summary1["ours"] = [f"{m:.3f} ± {s:.3f}" for m, s in zip(summary1["mean"], summary1["std"])]
l_max_sample = float(summary1["mean"].max())
worst_class = int(summary1["mean"].idxmax())
glue("l_max_sample", l_max_sample, display=False)
glue("l_max_class", DIGITS[worst_class], display=False)
summary1[["name", "ours", "paper ([-1, 1] scale)", "paper / 2 ([0, 1] scale)"]]

# %% [markdown]
# On this book's ACGAN the largest class constant is {glue:text}`l_max_sample:.3f`, for
# {glue:text}`l_max_class`. The paper's constants, halved to put them on the $[0,1]$
# scale, lie between 3.9 and 5.5. The two generators are different models: this
# profile's ACGAN saw 5,000 digits for 8 epochs, against the paper's 60,000 for 25.
# Constants of different generators need not agree, and no conclusion about the paper's
# generator follows from this column. What the rest of the chapter measures is how the
# *estimate* for one fixed generator depends on the estimator.
#
# ## Table 1 in the paper's settings (recorded GPU run)
#
# The paper's settings ($S=1000$, $N=2000$, 10 trials, 10 classes) take $2\times10^8$
# generator evaluations per estimator. That is hours on two CPU cores and minutes on a
# GPU. The `paper` profile's Table 1 is therefore produced on a GPU by
#
# ```bash
# intrinsic-rob lipschitz --dataset mnist --profile paper --method sample
# intrinsic-rob lipschitz --dataset mnist --profile paper --method gradient
# ```
#
# and committed under `results/paper/`. Each file comes with its provenance: device,
# library versions, source commit, run time and a digest of the generator's weights.
# This section reads those files, checks that they hold the paper's settings and that
# both estimators measured the same generator, and recomputes the bound from them. The
# generator is the `paper` profile's ACGAN: 25 epochs, as in the original, but on the
# 5,000 embedded digits (full MNIST cannot be downloaded here).

# %%
PAPER_LIPSCHITZ = dict(get_profile("paper").lipschitz)  # S, N, r, delta and trials of the paper
PAPER_L_MAX = max(mean for mean, _ in paper.TABLE1_MNIST_LIPSCHITZ.values())


def recorded_run(name):
    """A committed paper-profile table and its provenance, checked to hold the paper's settings; or None."""
    found = read_recorded_table(name, "paper", ROOT)
    if found is not None:
        frame, meta = found
        assert {k: meta["settings"][k] for k in PAPER_LIPSCHITZ} == PAPER_LIPSCHITZ, name
        assert frame.groupby("class")["trial"].nunique().eq(PAPER_LIPSCHITZ["trials"]).all(), name
    return found


recorded = {}
for method in ("sample", "gradient"):
    recorded[method] = recorded_run(f"lipschitz_mnist_{method}")
    if recorded[method] is None:
        raise FileNotFoundError(f"results/paper/lipschitz_mnist_{method}.csv is missing: run `intrinsic-rob "
                                f"lipschitz --dataset mnist --profile paper --method {method}` on a GPU to record it")
    assert recorded[method][0]["class"].nunique() == 10, method
assert recorded["sample"][1]["generator_sha256"] == recorded["gradient"][1]["generator_sha256"]
rec = {m: summarise_table(frame) for m, (frame, _) in recorded.items()}
rec_table = pd.DataFrame({
    "class": rec["sample"]["name"],
    "sampled (Algorithm 1)": [f"{m:.3f} ± {s:.3f}" for m, s in zip(rec["sample"]["mean"], rec["sample"]["std"])],
    "gradient ascent": [f"{m:.3f} ± {s:.3f}" for m, s in zip(rec["gradient"]["mean"], rec["gradient"]["std"])],
    "gradient / sampled": rec["gradient"]["mean"] / rec["sample"]["mean"],
    "paper ([-1, 1] scale)": [f"{paper.TABLE1_MNIST_LIPSCHITZ[n][0]:.1f} ± {paper.TABLE1_MNIST_LIPSCHITZ[n][1]:.1f}"
                              for n in rec["sample"]["name"]],
    "paper / 2": [paper.TABLE1_MNIST_LIPSCHITZ[n][0] / 2 for n in rec["sample"]["name"]],
})
# the prose below says the estimators' gap exceeds the factor 2 of the [-1, 1] scale on every class
assert (rec_table["gradient / sampled"] > 2).all()
meta = recorded["sample"][1]
rec_lmax = {m: float(r["mean"].max()) for m, r in rec.items()}
glue("rec_device", meta["device"], display=False)
glue("rec_commit_sample", recorded["sample"][1]["commit"][:10], display=False)
glue("rec_commit_gradient", recorded["gradient"][1]["commit"][:10], display=False)
glue("rec_lmax_sample", rec_lmax["sample"], display=False)
glue("rec_lmax_gradient", rec_lmax["gradient"], display=False)
glue("rec_ratio_min", float(rec_table["gradient / sampled"].min()), display=False)
glue("rec_ratio_max", float(rec_table["gradient / sampled"].max()), display=False)
glue("rec_std_max", float(rec["sample"]["std"].max()), display=False)
# Theorem 4.4 at eps = 3 (Table 3's MNIST row: alpha = 0.015, delta = 0.001) with each recorded L_max
for method, lip in rec_lmax.items():
    glue(f"rec_bound3_{method}", 100 * float(bounds.robustness_bound(0.015, 3.0, lip, delta=0.001,
                                                                      per_class_risk=True)), display=False)
print(f"{meta['generator']}, weights sha256 {meta['generator_sha256'][:12]}")
for method, (_, m) in recorded.items():
    print(f"{method:>8}: {m['device']}, torch {m['torch']}, commit {m['commit'][:10]}, {m['seconds']:.0f} s")
rec_table

# %%
fig, ax = plt.subplots(figsize=(9, 4))
x = np.arange(10)
ax.bar(x - 0.27, rec_table["paper / 2"], width=0.27, color="grey", label="paper, halved to [0, 1] scale")
ax.bar(x, rec["sample"]["mean"], yerr=rec["sample"]["std"], width=0.27, color="tab:blue",
       label="ours, sampled (Algorithm 1)")
ax.bar(x + 0.27, rec["gradient"]["mean"], yerr=rec["gradient"]["std"], width=0.27, color="tab:orange",
       label="ours, gradient ascent (same budget)")
ax.set(xticks=x, xticklabels=[str(k) for k in range(10)], xlabel="digit",
       ylabel=r"local Lipschitz constant $L(r)$ (images in [0, 1])",
       title="Table 1 in the paper's settings: S = 1000, N = 2000, r = 0.5, δ = 0.001, 10 trials")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# Recorded on {glue:text}`rec_device`, at commits {glue:text}`rec_commit_sample`
# (sampling) and {glue:text}`rec_commit_gradient` (gradient ascent). In the paper's
# settings the trial-to-trial spread is small (standard deviation at most
# {glue:text}`rec_std_max:.3f`), so Table 1's "mean ± std" describes the estimator's
# precision well. Its accuracy is another matter. On every class, gradient ascent
# with the same budget finds constants {glue:text}`rec_ratio_min:.1f` to
# {glue:text}`rec_ratio_max:.1f` times the sampled ones, and $L_{\max}$ rises from
# {glue:text}`rec_lmax_sample:.2f` to {glue:text}`rec_lmax_gradient:.2f`. Fed into
# Theorem 4.4 with Table 3's MNIST settings ($\alpha=0.015$, $\delta=0.001$), the bound
# at $\epsilon=3$ is {glue:text}`rec_bound3_sample:.1f`% with the sampled $L_{\max}$ and
# {glue:text}`rec_bound3_gradient:.1f`% with the gradient one.
#
# The sampled constants of this 25-epoch generator lie close to the paper's halved
# values (grey bars). That is what Algorithm 1 would report on the $[0,1]$ scale for a
# generator like the paper's, and it supports reading the paper's Table 1 as the
# $[-1,1]$-scale output of the same procedure. The 8-epoch generator of the quick
# profile is far smoother (largest sampled constant {glue:text}`l_max_sample:.2f`): the
# local constant grows with training. The sections below take one class of this
# profile's generator apart to see where the gap between the estimators comes from.
#
# ## What changes the number
#
# All comparisons below use the class with the largest constant, the one that sets
# $L_{\max}$, with the same latents ($S$ and seed) throughout.

# %% tags=["nbval-ignore-output"]
label = worst_class


class RawScale(torch.nn.Module):
    """The ACGAN measured as the original code did: on its tanh output in [-1, 1]."""

    def __init__(self, gen):
        super().__init__()
        self.gen, self.z_dim, self.num_classes = gen, gen.z_dim, gen.num_classes

    def forward(self, z, y):
        return self.gen.raw(z, y)


variants = {
    "sampled, uniform directions (this book)": dict(generator=acgan, method="sample", directions="uniform"),
    "sampled, orthant directions (original)": dict(generator=acgan, method="sample", directions="orthant"),
    "sampled, uniform, [-1, 1] scale (original)": dict(generator=RawScale(acgan), method="sample", directions="uniform"),
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
certified, factors = acgan_certified_bound(acgan)
rows.append({"estimate": "certified global upper bound", "L": certified, "median over samples": np.nan,
             "generator evaluations": 0})
estimates = pd.DataFrame(rows)
write_table(estimates.assign(label=label), "lipschitz_estimators_mnist", profile, ROOT)

uniform = results["sampled, uniform directions (this book)"]
raw = results["sampled, uniform, [-1, 1] scale (original)"]
grad = results["gradient ascent, same budget"]
# The [-1, 1] scale doubles every ratio exactly (same latents and neighbours).
assert np.allclose(raw.per_sample, 2 * uniform.per_sample, rtol=1e-4)
assert grad.value >= uniform.value and certified >= grad.value
glue("grad_over_sample", grad.value / uniform.value, display=False)
glue("certified_value", certified, display=False)
glue("certified_over_grad", certified / grad.value, display=False)
glue("orthant_over_uniform", results["sampled, orthant directions (original)"].value / uniform.value, display=False)
estimates

# %% [markdown]
# For the class that sets $L_{\max}$:
#
# * **Pixel scale.** Measuring on $[-1,1]$ doubles every ratio exactly. The original
#   MNIST constants are therefore twice the constants of the map that produced the data.
#   Taken alone, that makes the paper's MNIST bound conservative (looser than needed).
# * **Orthant-only directions** change the estimate by a factor of
#   {glue:text}`orthant_over_uniform:.2f` here. Positive-orthant directions explore only
#   $2^{-d}$ of the sphere, and for a generator whose steep directions lie elsewhere they
#   miss them.
# * **Gradient ascent** at the same budget of generator evaluations finds ratios
#   {glue:text}`grad_over_sample:.1f` times larger than sampling. This is the main
#   finding of this chapter. In $d=100$ dimensions, $N$ random directions almost never
#   align with the few directions in which the generator stretches most, so Algorithm 1
#   underestimates the local constant badly. An underestimated $L$ makes Theorem 4.4's
#   bound too *optimistic*: too small to be a valid upper bound.
# * **The certified global bound**, a product of the layers' spectral norms with batch
#   norm folded in, is {glue:text}`certified_value:.0f`. That is
#   {glue:text}`certified_over_grad:.0f` times the gradient estimate. Certified bounds of
#   this kind are valid but far too loose to give a useful robustness bound.
#
# The layer factors behind the certified bound:

# %% tags=["nbval-ignore-output"]
pd.DataFrame(factors, columns=["layer", "spectral-norm factor"])

# %% [markdown]
# ### How many neighbours are enough?
#
# More neighbours help sampling little. Each point of the sampled curve is a separate
# run on the same latents; with this few samples its top percentile is close to the
# largest per-sample value, so it wanders by several percent instead of growing. Gradient
# ascent, given the same budget of generator evaluations, finds far larger ratios.
# The gap is in *where* the ratios are evaluated, not how many there are.

# %% tags=["nbval-ignore-output"]
conv_rows = []
for n in convergence_neighbors:
    for method in ("sample", "gradient"):
        res = estimate_local_lipschitz(acgan, label, num_samples=convergence_samples, num_neighbors=n,
                                       radius=radius, delta=delta, method=method, seed=seed)
        conv_rows.append({"N (budget per sample)": n, "method": method, "L": res.value})
convergence = pd.DataFrame(conv_rows)
write_table(convergence.assign(label=label), "lipschitz_convergence_mnist", profile, ROOT)
sampled_curve = convergence[convergence["method"] == "sample"]["L"].to_numpy()
gradient_curve = convergence[convergence["method"] == "gradient"]["L"].to_numpy()
# No sampling budget here reaches what gradient ascent finds with the largest one.
assert gradient_curve[-1] > sampled_curve.max()

fig, ax = plt.subplots(figsize=(7, 4))
for method, part in convergence.groupby("method"):
    ax.plot(part["N (budget per sample)"], part["L"], marker="o",
            label={"sample": "Algorithm 1 (sampling)", "gradient": "gradient ascent"}[method])
ax.axvline(2000, color="grey", ls=":", label="paper's N = 2000")
ax.set(xscale="log", xlabel="neighbours N (or equal budget of generator evaluations) per latent",
       ylabel=r"estimated $L(r)$ (images in [0, 1])",
       title=f"{DIGITS[label]}: estimate against budget (S = {convergence_samples}, r = {radius})")
ax.legend()
fig.tight_layout()

# %% [markdown]
# ### How precise is a $(1-\delta)$-percentile of $S$ samples?
#
# With $\delta=0.001$ and $S=1000$, the $(1-\delta)$-percentile lies between the two
# largest of the 1000 values. With this profile's $S$ it *is* the maximum. Its
# sampling variability can be seen by bootstrapping the per-sample constants. This
# interval is narrower than the truth, because a bootstrap cannot produce values larger
# than any it has seen.

# %% tags=["nbval-ignore-output"]
boot_rng = np.random.default_rng(seed)
per = uniform.per_sample
boot = np.array([percentile_estimate(boot_rng.choice(per, per.size), delta) for _ in range(bootstrap_resamples)])
low, high = np.quantile(boot, [0.025, 0.975])
glue("boot_low", float(low), display=False)
glue("boot_high", float(high), display=False)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
axes[0].hist(per, bins=20, color="tab:blue", alpha=0.8, label="per-sample $L_i$ (sampling)")
axes[0].hist(grad.per_sample, bins=20, color="tab:orange", alpha=0.6, label="per-sample (gradient)")
axes[0].axvline(uniform.value, color="tab:blue", ls="--")
axes[0].axvline(grad.value, color="tab:orange", ls="--")
axes[0].set(xlabel="local constant at a latent sample", ylabel="count", title="per-sample estimates")
axes[0].legend(fontsize=8)
axes[1].hist(boot, bins=30, color="grey")
axes[1].axvline(low, color="k", ls=":")
axes[1].axvline(high, color="k", ls=":")
axes[1].set(xlabel=fr"bootstrap $(1-\delta)$-percentile", ylabel="count",
            title=f"bootstrap 95% interval [{low:.3f}, {high:.3f}]")
fig.tight_layout()

# %% [markdown]
# The bootstrap interval for the sampled estimate is
# [{glue:text}`boot_low:.3f`, {glue:text}`boot_high:.3f`]. That spread is small compared
# with the gap between sampling and gradient ascent. The estimator's bias, not its
# variance, is what matters.
#
# ## The bound with each estimate
#
# Theorem 4.4 (per-class-risk form, $\alpha=0.015$, $\delta=0.001$, as in Table 3's
# MNIST row) is recomputed here with each $L_{\max}$. For the sampled and gradient
# estimates only the measured class enters; $L_{\max}$ over all classes can only be
# larger.

# %% tags=["nbval-ignore-output"]
eps_grid = np.linspace(0.0, 3.0, 61)
choices = {
    "paper, Table 1 (L_max = 11.0, [-1, 1] scale)": paper.TABLE1_MNIST_LIPSCHITZ["digit 5"][0],
    "paper, Table 1 halved to [0, 1] scale (5.5)": paper.TABLE1_MNIST_LIPSCHITZ["digit 5"][0] / 2,
    "ours, sampled": uniform.value,
    "ours, gradient ascent": grad.value,
    "ours, certified": certified,
}
bound_rows = []
fig, ax = plt.subplots(figsize=(8, 4.4))
for name, lip in choices.items():
    curve = bounds.robustness_bound(0.015, eps_grid, lip, delta=0.001, per_class_risk=True)
    ax.plot(eps_grid, 100 * curve, label=f"{name}")
    for eps in (1.0, 2.0, 3.0):
        bound_rows.append({"L_max from": name, "L_max": lip, "eps": eps,
                           "bound (%)": 100 * float(bounds.robustness_bound(0.015, eps, lip, delta=0.001,
                                                                             per_class_risk=True))})
ax.set(xlabel=r"$\epsilon$ ($\ell_2$, images in [0, 1])", ylabel="upper bound on robust accuracy (%)",
       title=r"Theorem 4.4 on generated MNIST ($\alpha$ = 0.015) with each estimate of $L_{\max}$")
ax.legend(fontsize=8)
fig.tight_layout()
bound_table = pd.DataFrame(bound_rows).pivot_table(index=["L_max from", "L_max"], columns="eps", values="bound (%)",
                                                   sort=False)
write_table(pd.DataFrame(bound_rows), "bound_by_lipschitz_estimate_mnist", profile, ROOT)
at3 = pd.DataFrame(bound_rows).query("eps == 3.0").set_index("L_max from")["bound (%)"]
glue("bound3_sampled", float(at3["ours, sampled"]), display=False)
glue("bound3_gradient", float(at3["ours, gradient ascent"]), display=False)
glue("bound3_gap", float(at3["ours, gradient ascent"] - at3["ours, sampled"]), display=False)
glue("bound3_paper_half", float(at3["paper, Table 1 halved to [0, 1] scale (5.5)"]), display=False)
bound_table.round(1)

# %% [markdown]
# A larger $L$ means a smaller $\epsilon/L$ and a bound closer to $1-\alpha+\delta$, i.e.
# a weaker statement. For this book's generator at $\epsilon=3$, the bound is
# {glue:text}`bound3_sampled:.1f`% with the sampled constant and
# {glue:text}`bound3_gradient:.1f`% with the gradient-based one. The choice of estimator
# alone moves it by {glue:text}`bound3_gap:.0f` percentage points. The sampled version is
# the one a reader of Section 5.2 would compute, and it is too optimistic: a valid
# constant is at least the gradient estimate.
#
# The paper's own row behaves differently, because its two defects pull in opposite
# directions. Measuring on $[-1,1]$ doubled its constants, which makes the bound looser
# (halving them lowers the printed 97.2% at $\epsilon=3$ to
# {glue:text}`bound3_paper_half:.1f`%). Sampling makes them smaller than the truth,
# which makes the bound tighter than it should be. For the `paper` profile's generator
# recorded above, the second effect wins: gradient ascent finds constants
# {glue:text}`rec_ratio_min:.1f` to {glue:text}`rec_ratio_max:.1f` times the sampled
# ones, more than the factor of 2 that the scale added. Whether the same
# holds for the paper's own generator cannot be checked without it. What this chapter
# shows for every generator it measured is that sampled constants are not safe inputs to
# the bound.
#
# ## Conditional versus unconditional generators
#
# Section 5.2 argues that a class-conditional generator has smaller local constants
# than an unconditional one, because within-class variation is smaller than
# between-class variation. It reports 27.01 from Algorithm 1 for an unconditional GAN
# on MNIST, against at most 11.0 per class in Table 1. The unconditional counterpart here
# is the same pair of networks, trained the same way, with the labels dropped: one
# class, so the auxiliary classification loss vanishes. It is measured with the same
# settings, by both estimators.

# %% tags=["nbval-ignore-output"]
uncond_source = make_generator("mnist", profile, root=ROOT, unconditional=True, progress=False)
uncond = uncond_source.generator.to(DEVICE)
uncond_sample = lipschitz_table(uncond, ["all digits"], trials=trials, seed=seed, progress=False, **settings)
uncond_grad = estimate_local_lipschitz(uncond, 0, method="gradient", seed=seed, **settings)
u_sample = float(uncond_sample["value"].mean())
cond_grad_label = grad.value  # the conditional generator's gradient estimate, class `label`
uncond_rows = pd.DataFrame([
    {"generator": "conditional (ACGAN), L_max over classes", "sampled": l_max_sample,
     "gradient ascent": f"{cond_grad_label:.3f} ({DIGITS[label]})", "paper ([-1, 1] scale)": PAPER_L_MAX},
    {"generator": "unconditional (labels dropped)", "sampled": u_sample,
     "gradient ascent": f"{uncond_grad.value:.3f}", "paper ([-1, 1] scale)": paper.UNCONDITIONAL_MNIST_LIPSCHITZ},
])
write_table(uncond_sample.assign(generator=uncond_source.description, gradient=uncond_grad.value),
            "lipschitz_unconditional_mnist", profile, ROOT)
glue("u_sample", u_sample, display=False)
glue("u_gradient", uncond_grad.value, display=False)
glue("u_ratio_sample", u_sample / l_max_sample, display=False)
glue("u_ratio_gradient", uncond_grad.value / cond_grad_label, display=False)
glue("u_ratio_paper", paper.UNCONDITIONAL_MNIST_LIPSCHITZ / PAPER_L_MAX, display=False)
# the prose below says both estimators find the unconditional generator steeper
assert u_sample > l_max_sample and uncond_grad.value > cond_grad_label
print(uncond_source.description)
uncond_rows

# %%
# The paper-profile run of both generators, when recorded on a GPU (see Table 1 above).
rec_u = recorded_run("lipschitz_mnist_unconditional_sample")
if rec_u is not None:
    u_frame, u_meta = rec_u
    u_rec = {"sample": float(u_frame["value"].mean()), "sample std": float(u_frame["value"].std())}
    rec_u_grad = recorded_run("lipschitz_mnist_unconditional_gradient")
    if rec_u_grad is not None:
        u_rec["gradient"] = float(rec_u_grad[0]["value"].mean())
    print(f"paper profile, {u_meta['generator']}, recorded on {u_meta['device']} at commit {u_meta['commit'][:10]}:")
    print(f"  unconditional, sampled: {u_rec['sample']:.3f} ± {u_rec['sample std']:.3f} ({PAPER_LIPSCHITZ['trials']} trials); "
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
# $L_{\max}$. Gradient ascent gives {glue:text}`u_gradient:.3f`,
# {glue:text}`u_ratio_gradient:.2f` times the conditional estimate for the same budget.
# The paper's ratio is {glue:text}`u_ratio_paper:.2f`. For the `paper` profile's
# generators on the GPU, {glue:text}`u_rec_text`.
#
# Both estimators agree with the paper's direction: without labels the generator is
# steeper, by a factor of the same order as the paper's. Here the comparison is
# controlled, since both generators share networks, data, training schedule and
# latents. The paper names only the GAN of Goodfellow et al. (2014), not its
# architecture or training. The argument of
# Section 5.2 survives the change of estimator, but the paper's absolute numbers
# do not: an unconditional constant measured by sampling is as much an underestimate as
# the conditional ones.
#
# ## Table 2: ImageNet10
#
# With the real BigGAN weights this section reproduces Table 2. Without them it runs
# on the randomly initialised, reduced-width BigGAN-deep of the previous chapter. Its
# numbers below are a **pipeline check** (shapes, scale, resizing, bookkeeping) and say
# nothing about ImageNet.

# %%
image_source = make_generator("imagenet10", profile, root=ROOT, biggan_dir=biggan_dir, allow_random_biggan=True,
                              random_width=biggan_random_width)
biggan10 = image_source.generator.to(DEVICE)
pipeline_check = not image_source.pretrained
if pipeline_check:
    # Random weights: the run only exercises the pipeline, so it is kept small in every profile.
    imagenet_samples, imagenet_neighbors, imagenet_trials = pipeline_check_samples, pipeline_check_neighbors, 1
else:
    imagenet_trials = trials
glue("imagenet_status", image_source.description, display=False)
print(image_source.description)

# %% tags=["nbval-ignore-output"]
table2 = lipschitz_table(biggan10, list(IMAGENET10_NAMES), num_samples=imagenet_samples,
                         num_neighbors=imagenet_neighbors, radius=radius, delta=delta, trials=imagenet_trials, seed=seed,
                         progress=False)
write_table(table2.assign(generator=image_source.description), "table2_lipschitz_imagenet10", profile, ROOT)
summary2 = summarise_table(table2)
summary2["paper"] = [f"{paper.TABLE2_IMAGENET10_LIPSCHITZ[n][0]:.1f} ± {paper.TABLE2_IMAGENET10_LIPSCHITZ[n][1]:.1f}"
                     for n in summary2["name"]]
nearest = ImageNet10Generator(biggan10.biggan, resize="nearest", pretrained=biggan10.pretrained).to(DEVICE)
resize_rows = []
for cls in (0, 9):
    for name, gen in (("area (default)", biggan10), ("nearest (original)", nearest)):
        res = estimate_local_lipschitz(gen, cls, num_samples=imagenet_samples, num_neighbors=imagenet_neighbors,
                                       radius=radius, delta=delta, seed=seed)
        resize_rows.append({"class": IMAGENET10_NAMES[cls], "resize": name, "L": res.value})
resize = pd.DataFrame(resize_rows).pivot(index="class", columns="resize", values="L")
print(f"Status: {image_source.description}")
display_cols = ["name", "mean", "paper"]
summary2[display_cols].rename(columns={"mean": "L (this run)"})

# %% tags=["nbval-ignore-output"]
resize

# %% [markdown]
# Status of this build: **{glue:text}`imagenet_status`**. The resizing filter changes
# the map being measured, and hence its constant; the table above shows by how much for
# two classes. Nearest-neighbour sampling keeps one pixel in sixteen, so it transmits
# more of the generator's high-frequency variation than area averaging does.
#
# ## Summary
#
# * This reproduction implements Algorithm 1 correctly (uniform neighbours, $[0,1]$
#   scale, shared $g(z)$) and measures what each of the original defects does to the
#   estimate.
# * The dominant issue is not a coding defect but the method. Random sampling of a
#   100-dimensional ball underestimates the local constant: gradient ascent at the same
#   cost finds ratios {glue:text}`grad_over_sample:.1f` times larger here. Bounds
#   computed from sampled constants are therefore too optimistic. In the paper's settings
#   on the `paper` profile's generator the gap is {glue:text}`rec_ratio_min:.1f` to
#   {glue:text}`rec_ratio_max:.1f` on every class, while the sampled constants match the
#   paper's (halved) values.
# * An unconditional generator is steeper than the conditional one, as Section 5.2
#   argues: by {glue:text}`u_ratio_sample:.1f` times with sampling and
#   {glue:text}`u_ratio_gradient:.1f` with gradient ascent here.
# * Certified bounds sit orders of magnitude higher, so the honest range for $L$ spans
#   from "at least the gradient estimate" to "at most the certified bound". Theorem 4.4
#   is informative only near the lower end of that range.
