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
# # Theory: intrinsic robustness under a conditional generative model

# %% [markdown]
# :::{admonition} Findings
# :class: tip
#
# Every check holds, in the {glue:text}`profile_name` profile, on models small enough
# that each quantity has an exact value. Monte Carlo estimates of Risk,
# AdvRisk and In-AdvRisk agree with their closed forms to within
# {glue:text}`findings_defs_sigma` standard errors over {glue:text}`defs_n_checks`
# comparisons, and Lemma 4.2's isoperimetric bound is met exactly by half-spaces and
# exceeded by every other shape by at least {glue:text}`findings_iso_gap`. Theorem 4.3's
# bound holds on every linear model and is attained by the aligned half-space: a Monte
# Carlo attack there finds In-AdvRisk {glue:text}`findings_thm43_mc` against the bound
# {glue:text}`findings_thm43_bound` at $\epsilon=$ {glue:text}`thm43_eps`. Recomputed from
# the paper's printed constants, {glue:text}`t3_n_match` of the {glue:text}`t3_n_entries`
# entries of Table 3's bound row match after rounding, and the other (ImageNet10 at
# $\epsilon=$ {glue:text}`t3_off_eps`) is off by {glue:text}`findings_t3_gap` percentage
# points.
# :::

# %% [markdown]
# This chapter covers Sections 3 and 4 of {cite:t}`zhang2020` and Appendix A. Each
# definition, lemma and theorem is restated and then checked numerically. The checks use
# a model small enough that every quantity has an exact value to compare against, and
# the chapter ends by recomputing the bound row of the paper's Table 3.
#
# All the formulas live in the library module `intrinsic_rob.theory.bounds`, so the same code
# serves this chapter, the command-line calculator `intrinsic-rob bound` and a
# researcher's own numbers. Every bound call names the radius $r$ at which its Lipschitz
# constants hold (Theorem 4.3 needs $rL_i(r)\ge\epsilon$); `radius=None` marks constants
# that are exact and global, as in the linear model below.

# %% tags=["parameters"]
profile = "quick"
# None: the profile's value (lib/intrinsic_rob/pipeline/profiles.py); the book's runs inject them all.
seed = None
mc_samples = None
isoperimetry_dims = None
a4_instances = None
a4_max_classes = None
a4_restarts = None
toy_latent_dim = None

# %% tags=["hide-input"]
import inspect
import math
import textwrap
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from myst_nb import glue
from scipy.special import ndtr
from scipy.stats import binom

from intrinsic_rob import paper
from intrinsic_rob.pipeline.book import setup_chapter
from intrinsic_rob.pipeline.plotting import COLUMN_IN, shared_legend
from intrinsic_rob.pipeline.profiles import resolve_parameters
from intrinsic_rob.pipeline.results import write_table
from intrinsic_rob.theory import bounds
from intrinsic_rob.theory.isoperimetry import monte_carlo_expansion, wilson_interval, with_measure
from intrinsic_rob.theory.toy import make_linear_model

warnings.filterwarnings("ignore", category=RuntimeWarning, module="scipy")
globals().update(resolve_parameters("01_theory", profile, globals()))
RUN = setup_chapter(profile, precision=4)
rng = np.random.default_rng(seed)
glue("profile_name", profile, display=False)


def sigmas(estimate: float, exact: float, n: int) -> float:
    """Distance of a Monte Carlo proportion from the exact value, in standard errors."""
    se = np.sqrt(max(exact * (1 - exact), 1e-12) / n)
    return abs(estimate - exact) / se


def put(name: str, value: float, digits: int = 8) -> None:
    """Glue a number for the prose, rounded so that the notebook's record is stable."""
    value = round(float(value), digits) + 0.0  # + 0.0 turns -0.0 into 0.0
    glue(name, int(value) if value.is_integer() and abs(value) < 2**53 else value, display=False)


def stable(frame: pd.DataFrame, digits: int = 6) -> pd.DataFrame:
    """A table rounded for display: rounding noise (1e-17) shows as 0, never as -0."""
    numeric = frame.select_dtypes("floating").columns
    out = frame.copy()
    out[numeric] = out[numeric].round(digits) + 0.0
    return out


# %% [markdown]
# ## 1. Definitions 3.1 to 3.3 on a model where everything is computable
#
# The paper works in a metric probability space $(\mathcal X, \mu, \Delta)$ with a
# ground truth $f^*$. The *risk* of a classifier $f$ is
# $\Pr_{x\sim\mu}[f(x)\neq f^*(x)]$, and its *adversarial risk* at radius $\epsilon$ is
# the probability that some $x'$ within $\epsilon$ of $x$ is misclassified
# (Definition 3.1). When $\mu=\sum_i p_i\,(g_i)_*(\nu_d)$ comes from a conditional
# generator, the *in-distribution adversarial risk* (Definition 3.3) only admits
# perturbations $x'=g_i(z')$ that stay on the class's manifold. So
# In-AdvRisk $\le$ AdvRisk always holds.
#
# To check these definitions, and later Theorem 4.3, against exact values we use a
# model in which they have closed forms (`intrinsic_rob.theory.toy`):
#
# * Class $i$ generates $x = c_i + A_i z$ with $z\sim\mathcal N(0, I_d)$. This is an
#   affine $d$-dimensional manifold, orthogonal to the lines joining the class
#   centres, so that $f^*(x)$ = nearest centre is exact on every manifold.
# * The classifier agrees with $f^*$ except where $w_i(x)=\langle u_i, x-c_i\rangle \ge t_i$
#   (a half-space) or $|w_i(x)|\ge t_i$ (the complement of a slab). The unit vector
#   $u_i$ may tilt off the manifold by an angle $\theta$.
#
# With $s_i=\lVert A_i^\top u_i\rVert$ and $c_i=\lVert P_i u_i\rVert$, where $P_i$
# projects onto the span of $A_i$, the nearest error is $\epsilon$ away along $u_i$ in
# image space and $\epsilon c_i$ away along the manifold. For the half-space case this
# gives
#
# $$\mathrm{Risk}_i=\Phi(-t_i/s_i),\qquad \mathrm{AdvRisk}_i=\Phi\big((\epsilon-t_i)/s_i\big),
# \qquad \text{In-AdvRisk}_i=\Phi\big((\epsilon c_i-t_i)/s_i\big).$$
#
# The Monte Carlo column below samples $(x, i)\sim\mu$, applies exactly those worst-case
# perturbations, checks that each one lies within $\epsilon$ of $x$, and asks the
# classifier itself for its label.

# %%
toy_variants = {
    "half-space on the manifold": dict(tilt=0.0),
    "half-space tilted off the manifold": dict(tilt=0.7),
    "slab complement, tilted": dict(tilt=0.4, two_sided=True),
}
toy_models = {
    name: make_linear_model(3, toy_latent_dim, rng=np.random.default_rng(seed + j), risk=0.1, **kw)
    for j, (name, kw) in enumerate(toy_variants.items())
}

# %% tags=["hide-input"]
rows = []
for name, model in toy_models.items():
    for eps in (0.25, 1.0):
        mc = model.monte_carlo(eps, mc_samples, np.random.default_rng(seed + 100))
        exact = {"risk": model.risk(), "adv_risk": model.adv_risk(eps), "in_adv_risk": model.in_adv_risk(eps)}
        for quantity in ("risk", "adv_risk", "in_adv_risk"):
            rows.append(
                {
                    "model": name,
                    "eps": eps,
                    "quantity": {"risk": "Risk", "adv_risk": "AdvRisk", "in_adv_risk": "In-AdvRisk"}[quantity],
                    "exact": exact[quantity],
                    "Monte Carlo": mc[quantity],
                    "|diff| / s.e.": sigmas(mc[quantity], exact[quantity], mc_samples),
                }
            )
definitions = pd.DataFrame(rows)
assert definitions["|diff| / s.e."].max() < 4.5, "Monte Carlo disagrees with the closed forms"
for name, model in toy_models.items():
    for eps in np.linspace(0, 2, 9):
        assert model.in_adv_risk(eps) <= model.adv_risk(eps) + 1e-15
on_manifold = definitions[definitions["model"] == "half-space on the manifold"].pivot_table(
    index="eps", columns="quantity", values="exact")
assert np.allclose(on_manifold["AdvRisk"], on_manifold["In-AdvRisk"], rtol=0, atol=1e-12)
off_manifold = definitions[definitions["model"] != "half-space on the manifold"]
off_manifold = off_manifold.pivot_table(index=["model", "eps"], columns="quantity", values="exact")
# strictly smaller, except where both have reached 1 (a large eps in a high dimension)
assert ((off_manifold["In-AdvRisk"] < off_manifold["AdvRisk"]) | (off_manifold["In-AdvRisk"] >= 1 - 1e-12)).all()
put("defs_max_sigma", definitions["|diff| / s.e."].max(), 4)
put("defs_n_checks", len(definitions))
glue("findings_defs_sigma", f"{definitions['|diff| / s.e.'].max():.1f}", display=False)
definitions.pivot_table(
    index=["model", "eps"], columns="quantity", values=["exact", "Monte Carlo"], sort=False
).round(4)

# %% [markdown]
# Every Monte Carlo value agrees with its closed form: the largest gap is
# {glue:text}`defs_max_sigma:.1f` standard errors over {glue:text}`defs_n_checks`
# comparisons. When the error boundary lies on the manifold ($\theta=0$) the two
# adversarial risks coincide. Tilting it off the manifold lowers In-AdvRisk below
# AdvRisk, because an adversary who must stay on the manifold can move towards the
# boundary only at rate $\cos\theta$.

# %% [markdown]
# ## 2. Lemma 4.2: Gaussian isoperimetry
#
# For any $\mathcal E\subseteq\mathbb R^d$ and $r\ge 0$, the $r$-expansion satisfies
# $\nu_d(\mathcal E_r)\ge\Phi\big(\Phi^{-1}(\nu_d(\mathcal E))+r\big)$, with equality for
# half-spaces {cite:p}`borell1975,sudakov1978`. We take sets of Gaussian measure
# {glue:text}`iso_measure` of {glue:text}`iso_n_shapes` shapes and compute the measure
# of their expansions at $r=$ {glue:text}`iso_radius` exactly: $\chi^2_d$
# distributions for balls, products of normal CDFs for unions of half-spaces. Each
# exact value is then compared with a Monte Carlo estimate (a
# {glue:text}`iso_ci_level:.0%` Wilson interval) and with the lemma's lower bound.

# %% tags=["hide-input"]
iso_measure = 0.3
iso_shapes = ("half-space", "ball", "outside of a ball", "union of half-spaces")
iso_radius = 0.5
wilson_z = inspect.signature(wilson_interval).parameters["z"].default
iso_ci_level = 2 * float(ndtr(wilson_z)) - 1
ci_label = f"{iso_ci_level:.0%} CI"
iso_rows = []
for kind in iso_shapes:
    for d in isoperimetry_dims:
        gset = with_measure(kind, iso_measure, d, k=2)
        exact = gset.expansion_measure(d, iso_radius)
        mc = monte_carlo_expansion(gset, d, iso_radius, mc_samples, np.random.default_rng(seed + d))
        bound = float(bounds.gaussian_expansion(gset.measure(d), iso_radius))
        iso_rows.append(
            {
                "set": kind,
                "d": d,
                "measure": gset.measure(d),
                "exact expansion": exact,
                "Monte Carlo": mc.estimate,
                ci_label: f"[{mc.low:.4f}, {mc.high:.4f}]",
                "interval holds exact": mc.low <= exact <= mc.high,
                "Lemma 4.2 bound": bound,
                "exact - bound": exact - bound,
                "|diff| / s.e.": sigmas(mc.estimate, exact, mc_samples),
            }
        )
iso = pd.DataFrame(iso_rows)
assert iso["|diff| / s.e."].max() < 4.5, "Monte Carlo disagrees with the exact expansions"
# Each interval misses its exact value with probability 1 - level, independently (its own
# seed), so the number of misses is Binomial; demanding none would fail by chance in the
# paper profile's larger grid. The check is that the misses are not improbably many.
iso_n_intervals = len(iso)
iso_misses = int((~iso["interval holds exact"]).sum())
iso_miss_p = float(binom.sf(iso_misses - 1, iso_n_intervals, 1 - iso_ci_level))
assert iso_miss_p > 1e-3, f"{iso_misses} of {iso_n_intervals} intervals miss: p = {iso_miss_p:.2g}"
assert np.allclose(iso["measure"], iso_measure, rtol=0, atol=1e-9)
assert (iso["exact - bound"] >= -1e-12).all()
half = iso["set"] == "half-space"
assert iso.loc[half, "exact - bound"].abs().max() < 1e-12
assert (iso.loc[~half, "exact - bound"] > 1e-3).all()
put("iso_measure", iso_measure)
put("iso_n_shapes", len(iso_shapes))
put("iso_radius", iso_radius)
put("iso_ci_level", iso_ci_level, 6)
put("iso_n_intervals", iso_n_intervals)
put("iso_covered", iso_n_intervals - iso_misses)
put("iso_expected_misses", iso_n_intervals * (1 - iso_ci_level), 2)
put("iso_miss_p", iso_miss_p, 4)
put("iso_min_gap", iso.loc[~half, "exact - bound"].min())
glue("findings_iso_gap", f"{iso.loc[~half, 'exact - bound'].min():.3f}", display=False)
d_plot = 10
put("iso_plot_d", d_plot)
stable(iso.drop(columns="|diff| / s.e."))

# %% [markdown]
# Half-spaces meet the bound exactly in every dimension. Every other shape exceeds it,
# by at least {glue:text}`iso_min_gap:.3f`. Of the {glue:text}`iso_n_intervals` Monte
# Carlo intervals, {glue:text}`iso_covered` bracket their exact value. Intervals at this
# level are expected to miss {glue:text}`iso_expected_misses:.2f` times in as many
# draws, and at least as many misses as seen here have probability
# {glue:text}`iso_miss_p:.2f`: the estimates behave as sampling theory says they should.
# The figure shows the whole curve $r\mapsto\nu_d(\mathcal E_r)$ in
# $d=$ {glue:text}`iso_plot_d`.

# %% tags=["hide-input"]
r_grid = np.linspace(0, 2.5, 101)
fig, ax = plt.subplots(figsize=(COLUMN_IN, 4.2))
for kind in iso_shapes[1:]:
    gset = with_measure(kind, iso_measure, d_plot, k=2)
    ax.plot(r_grid, [gset.expansion_measure(d_plot, r) for r in r_grid], label=kind, lw=2)
ax.plot(r_grid, bounds.gaussian_expansion(iso_measure, r_grid), "k--", lw=1.5,
        label=rf"Lemma 4.2 bound $\Phi(\Phi^{{-1}}({iso_measure})+r)$")
half_space = with_measure("half-space", iso_measure, d_plot)
ax.plot(r_grid[::8], [half_space.expansion_measure(d_plot, r) for r in r_grid[::8]], "ko", ms=5, label="half-space (exact)")
ax.set(xlabel="expansion radius $r$ (latent $\\ell_2$ units)", ylabel=rf"$\nu_{{{d_plot}}}(\mathcal{{E}}_r)$",
       title=f"Lemma 4.2 in $d={d_plot}$: sets of measure {iso_measure}")
ax.legend(loc="lower right")
fig.tight_layout()

# %% [markdown]
# ## 3. Theorem 4.3: a lower bound on (in-distribution) adversarial risk
#
# If every $g_i$ is $L_i(r)$-locally Lipschitz with probability at least $1-\delta$
# (Condition 4.1) and $rL_i(r)\ge\epsilon$, then for every classifier
#
# $$\mathrm{AdvRisk}^\epsilon_\mu(f)\ \ge\ \text{In-AdvRisk}^\epsilon_\mu(f)\ \ge\ \sum_i p_i\,
# \Phi\big(\Phi^{-1}(\mathrm{Risk}_{\mu_i}(f))+\epsilon/L_i(r)\big)-\delta .$$
#
# The condition $rL_i(r)\ge\epsilon$ matters: a constant measured on latent balls of
# radius $r$ says nothing about larger perturbations. A generator that is
# $L$-locally Lipschitz on such balls is also $L'$-locally Lipschitz for every $L'\ge L$,
# so the library uses $L_i'=\max(L_i,\epsilon/r)$ and reports where it had to (the
# *cap*: $\epsilon/L_i'$ never exceeds $r$).
#
# The proof (the first part of Appendix A) pulls the error region back to latent space
# and applies Lemma 4.2 there. It is tight exactly when the pulled-back error region is
# a half-space whose normal is the generator's most stretched direction. In the linear
# model that means $u_i$ along the top left singular vector of $A_i$, because then
# $\lVert A_i^\top u_i\rVert=\sigma_{\max}(A_i)=L_i$. Each $g_i$ is *globally*
# $\sigma_{\max}(A_i)$-Lipschitz, so $\delta=0$ and the constants hold on balls of every
# radius: these calls pass `radius=None`, and no cap applies.

# %%
thm43_models = {
    "aligned with the top singular direction (tight)": make_linear_model(
        4, toy_latent_dim, rng=np.random.default_rng(seed + 7), risk=0.05, align_with_top_singular=True
    ),
    "random direction on the manifold": make_linear_model(4, toy_latent_dim, rng=np.random.default_rng(seed + 7), risk=0.05),
    "random direction, tilted 0.6 rad": make_linear_model(
        4, toy_latent_dim, rng=np.random.default_rng(seed + 7), risk=0.05, tilt=0.6
    ),
    "slab complement (two-sided)": make_linear_model(
        4, toy_latent_dim, rng=np.random.default_rng(seed + 7), risk=0.05, two_sided=True, align_with_top_singular=True
    ),
}

# %% tags=["hide-input"]
eps_grid = np.linspace(0, 3, 61)
thm43_rows = []
for name, model in thm43_models.items():
    # sigma_max(A_i) is the exact, global Lipschitz constant of the linear generator g_i: radius=None.
    lower = bounds.adversarial_risk_lower_bound(
        model.class_risks(), eps_grid, model.lipschitz(), radius=None, class_probs=model.class_probs
    )
    assert not lower.capped.any()
    for eps, lb in zip(eps_grid, lower.value):
        thm43_rows.append(
            {"model": name, "eps": eps, "bound": lb, "In-AdvRisk": model.in_adv_risk(eps), "AdvRisk": model.adv_risk(eps)}
        )
thm43 = pd.DataFrame(thm43_rows)
thm43["slack"] = thm43["In-AdvRisk"] - thm43["bound"]
assert (thm43["slack"] >= -1e-12).all(), "Theorem 4.3 violated"
assert (thm43["AdvRisk"] >= thm43["In-AdvRisk"] - 1e-15).all()
tight = thm43["model"].str.startswith("aligned")
assert thm43.loc[tight, "slack"].abs().max() < 1e-12
assert (thm43.loc[~tight & (thm43["eps"] > 0), "slack"] > 0).all(), "the bound should be strict off the tight case"
# A Monte Carlo spot check of the tight case.
eps_spot = 1.0
tight_model = thm43_models["aligned with the top singular direction (tight)"]
mc_tight = tight_model.monte_carlo(eps_spot, mc_samples, np.random.default_rng(seed + 8))["in_adv_risk"]
bound_tight = float(bounds.adversarial_risk_lower_bound(tight_model.class_risks(), eps_spot, tight_model.lipschitz(),
                                                        radius=None))  # global constants, as above
assert sigmas(mc_tight, bound_tight, mc_samples) < 4.5
put("thm43_eps", eps_spot)
put("thm43_mc", mc_tight)
put("thm43_bound", bound_tight)
put("thm43_se", float(np.sqrt(mc_tight * (1 - mc_tight) / mc_samples)))
glue("thm43_n", f"{mc_samples:,}", display=False)
glue("findings_thm43_mc", f"{mc_tight:.4f}", display=False)
glue("findings_thm43_bound", f"{bound_tight:.4f}", display=False)
stable(thm43.groupby("model", sort=False)["slack"].agg(["min", "max"]).rename(
    columns={"min": "min slack", "max": "max slack"}))

# %% tags=["hide-input"]
fig, axes = plt.subplots(2, 2, figsize=(COLUMN_IN, 6.6), sharex=True, sharey=True)
for ax, (name, part) in zip(axes.flat, thm43.groupby("model", sort=False)):
    ax.plot(part["eps"], part["AdvRisk"], color="tab:red", label="AdvRisk (exact)")
    ax.plot(part["eps"], part["In-AdvRisk"], color="tab:blue", label="In-AdvRisk (exact)")
    ax.plot(part["eps"], part["bound"], "k--", label="Theorem 4.3 bound")
    ax.set_title(textwrap.fill(name, 26, break_on_hyphens=False))
for ax in axes[-1]:
    ax.set_xlabel(r"$\epsilon$ (image $\ell_2$)")
for ax in axes[:, 0]:
    ax.set_ylabel("probability")
fig.suptitle("Theorem 4.3 on the linear model")
fig.tight_layout()
shared_legend(fig, axes.flat, ncol=3)
plt.show()

# %% [markdown]
# The bound holds for every model and radius. It is attained to machine precision when
# the error half-space is aligned with the most stretched direction (its slack in the
# table is zero up to rounding). A Monte Carlo run of the optimal on-manifold attack at
# $\epsilon=$ {glue:text}`thm43_eps` over {glue:text}`thm43_n` draws finds In-AdvRisk
# {glue:text}`thm43_mc:.4f` (standard error {glue:text}`thm43_se:.4f`), against the bound
# {glue:text}`thm43_bound:.4f`. For any other direction, for tilted
# boundaries and for two-sided regions the bound is strict at every $\epsilon>0$.
#
# ## 4. Theorem 4.4 and the optimisation $(\mathrm{A.4})$
#
# Let $L_{\max}=\max_i L_i(r)$. For the imperfect classifiers
# $\mathcal F_\alpha=\{f:\mathrm{Risk}_\mu(f)\ge\alpha\}$,
#
# $$\mathrm{Rob}^\epsilon_\mu(\mathcal F_\alpha)\le 1+\delta-\min_i\, p_i\,\Phi\big(\Phi^{-1}(\alpha/p_i)+\epsilon/L_{\max}\big)
# \quad\text{provided }\alpha\le p_i\ \forall i,$$
#
# and for the classifiers with per-class risk at least $\alpha$,
# $\tilde{\mathcal F}_\alpha=\{f:\mathrm{Risk}_{\mu_i}(f)\ge\alpha\ \forall i\}$,
#
# $$\mathrm{Rob}^\epsilon_\mu(\tilde{\mathcal F}_\alpha)\le 1+\delta-\sum_i p_i\,\Phi\big(\Phi^{-1}(\alpha)+\epsilon/L_{\max}\big).$$
#
# Both come from the optimisation $(\mathrm{A.4})$ in the proof of Theorem 4.4
# (Appendix A): $\min\sum_i p_i\Phi(\Phi^{-1}(\alpha_i)+\eta)$ subject to
# $\sum_i p_i\alpha_i\ge\alpha$, with $\eta=\epsilon/L_{\max}$. For
# $\tilde{\mathcal F}_\alpha$ the paper simply sets $\alpha_i=\alpha$; that needs only
# $\alpha\le 1$. The proviso $\alpha\le p_i$ belongs to the $\mathcal F_\alpha$ form alone,
# which rests on a further claim: the minimum of $(\mathrm{A.4})$ puts all the risk on
# one class. The reason is that $h(a)=\Phi(\Phi^{-1}(a)+\eta)$ is concave, since
# $h'(a)=e^{-\eta\Phi^{-1}(a)-\eta^2/2}$ decreases. A concave function attains its
# minimum over a polytope at a vertex, and the vertices here have at most one
# fractional $\alpha_i$, with every other $\alpha_i\in\{0,1\}$.
#
# * When $\alpha\le\min_i p_i$ no class can be filled to $\alpha_i=1$ (except with
#   $p_i=\alpha$, which gives the same value), so the claim holds.
# * When $\alpha>\min_i p_i$ it fails. The minimiser fills whole classes to
#   $\alpha_i=1$ and puts the remainder on one more class. `bounds.solve_a4` computes
#   this exact minimum in every case.
#
# We check both regimes against a general-purpose optimiser (SLSQP from several random
# starts, `bounds.minimise_a4_numerically`) on random instances of $(K, p, \alpha, \eta)$.
# A local method on a concave problem can only land at or above the true minimum, so
# the check is that it never goes below the closed form, and that it usually finds it.

# %% tags=["hide-input"]
def a4_trials(n: int, within_proviso: bool, gen: np.random.Generator) -> pd.DataFrame:
    out = []
    for _ in range(n):
        k = int(gen.integers(2, a4_max_classes + 1))
        p = gen.dirichlet(np.ones(k))
        alpha = gen.uniform(0.01, 1.0) * p.min() if within_proviso else gen.uniform(p.min(), 0.9)
        eta = gen.uniform(0.0, 3.0)
        exact = bounds.solve_a4(alpha, eta, p)
        numeric = bounds.minimise_a4_numerically(alpha, eta, p, restarts=a4_restarts, rng=gen)
        out.append(
            {
                "regime": "alpha <= min p (paper's proviso)" if within_proviso else "alpha > min p",
                "K": k,
                "closed form": exact.value,
                "SLSQP": numeric.value,
                "classes with risk": int(np.count_nonzero(exact.class_risks > 1e-9)),
            }
        )
    return pd.DataFrame(out)


a4 = pd.concat([a4_trials(a4_instances, True, rng), a4_trials(a4_instances // 2, False, rng)], ignore_index=True)
a4["SLSQP - closed form"] = a4["SLSQP"] - a4["closed form"]
assert a4["SLSQP - closed form"].min() > -1e-8, "a local optimiser beat the exact minimum"
summary = a4.groupby("regime").agg(
    instances=("K", "size"),
    min_gap=("SLSQP - closed form", "min"),
    found=("SLSQP - closed form", lambda g: float((g.abs() < 1e-6).mean())),
    one_class=("classes with risk", lambda c: float((c == 1).mean())),
)
summary.columns = ["instances", "min (SLSQP - closed form)", "SLSQP found the minimum", "optimum on one class"]
within = summary.loc["alpha <= min p (paper's proviso)"]
beyond = summary.loc["alpha > min p"]
assert within["optimum on one class"] == 1.0
assert beyond["optimum on one class"] < 1.0
put("a4_found_within", within["SLSQP found the minimum"])
put("a4_one_class_beyond", beyond["optimum on one class"])
# The minimum gap is rounding noise of order 1e-9 or less; shown to 6 decimals it reads 0.
stable(summary)

# %% [markdown]
# Within the proviso, SLSQP never goes below the closed form and reaches it in
# {glue:text}`a4_found_within:.0%` of the instances; the other runs stop at a worse
# vertex. In every instance the optimum puts all the risk on one class, as the paper
# says. Beyond the proviso only {glue:text}`a4_one_class_beyond:.0%` of the optima do
# so. There the paper's $\mathcal F_\alpha$ formula is undefined ($\alpha/p_i>1$), and
# `solve_a4` gives the exact $\mathcal F_\alpha$ bound instead.
#
# This concerns the $\mathcal F_\alpha$ form only. The $\tilde{\mathcal F}_\alpha$ form,
# which is the one Table 3 uses ({ref}`the last section <theory-bound-row>` reproduces
# its row with it), sets every $\alpha_i=\alpha$ and needs no proviso. So ImageNet10's $\alpha$ above its class
# probabilities leaves Table 3's row valid; it only means that the paper's closed form
# for $\mathcal F_\alpha$ does not apply there, and the last section gives the exact
# $\mathcal F_\alpha$ value beside the row.
#
# ## 5. Remark 4.5: how large is the bound?
#
# Theorem 4.4 depends on the model only through $\epsilon/L_{\max}$. The paper's
# example is $\epsilon/L_{\max}=$ {glue:text}`remark45_ratio` with initial risk at least
# {glue:text}`remark45_alpha:.0%`: no classifier then exceeds a robust accuracy of
# "{glue:text}`remark45_stated:.0f`%". The per-class form gives
# $1-\Phi(\Phi^{-1}(\alpha)+\epsilon/L_{\max})=$ {glue:text}`remark45:.4f` (plus
# $\delta$), that is {glue:text}`remark45:.2%`. The paper's
# {glue:text}`remark45_stated:.0f`% is this value rounded *up* to a whole percent;
# rounded to the nearest it would be {glue:text}`remark45_nearest:.0f`%. Applied to the
# whole class $\mathcal F_{\alpha}$ with {glue:text}`remark45_classes` equiprobable
# classes, the first form is much weaker: {glue:text}`remark45_falpha:.4f`.
#
# The remark takes the ratio as given, that is, it assumes constants valid on latent
# balls of radius at least $\epsilon/L_{\max}$. The constants of Section 5 were measured
# at $r=$ {glue:text}`lipschitz_radius`, and with them Theorem 4.3's condition caps the
# ratio at $r$ (dotted line in the figure): the remark's example lies beyond what those
# constants can certify, and with them no $\epsilon$ makes the bound lower than
# {glue:text}`remark45_at_r:.2%` at this $\alpha$.

# %%
remark = paper.REMARK_4_5
n_remark_classes = 10
# The remark fixes the ratio eps / L_max and assumes Theorem 4.3's hypothesis r * L >= eps;
# L = 1 is a unit for that ratio, not a measured constant, so no radius cap: radius=None.
remark45 = float(bounds.robustness_bound(remark["alpha"], remark["eps_over_l"], 1.0, radius=None, per_class_risk=True))
remark45_falpha = float(bounds.robustness_bound(remark["alpha"], remark["eps_over_l"], 1.0, radius=None,
                                                class_probs=np.full(n_remark_classes, 1 / n_remark_classes)))
# With constants measured at r = paper.LIPSCHITZ_RADIUS the ratio cannot exceed r:
remark45_at_r = bounds.robustness_bound(remark["alpha"], remark["eps_over_l"], 1.0, radius=paper.LIPSCHITZ_RADIUS,
                                        per_class_risk=True)

# %% tags=["hide-input"]
assert bool(remark45_at_r.capped) and float(remark45_at_r) > remark45
assert abs(remark45 - 0.7405) < 5e-5
assert math.ceil(100 * remark45) == remark["stated_percent"] != round(100 * remark45)
assert remark45_falpha > remark45
put("remark45_ratio", remark["eps_over_l"])
put("remark45_alpha", remark["alpha"])
put("remark45_stated", remark["stated_percent"])
put("remark45", remark45)
put("remark45_nearest", round(100 * remark45))
put("remark45_classes", n_remark_classes)
put("remark45_falpha", remark45_falpha)
put("remark45_at_r", float(remark45_at_r))
put("lipschitz_radius", paper.LIPSCHITZ_RADIUS)

ratio = np.linspace(0, 3, 121)
alphas = np.linspace(0.01, 0.5, 99)
# A map over the ratio itself (L = 1 as the unit, radius=None as above).
grid = np.array([bounds.robustness_bound(a, ratio, 1.0, radius=None, per_class_risk=True).value for a in alphas])
fig, ax = plt.subplots(figsize=(COLUMN_IN, 5.2))
mesh = ax.pcolormesh(ratio, alphas * 100, grid * 100, cmap="viridis", shading="auto")
contours = ax.contour(ratio, alphas * 100, grid * 100, levels=[10, 25, 50, 75, 90, 95], colors="white", linewidths=1)
ax.clabel(contours, fmt="%d%%", fontsize=10)
ax.plot([remark["eps_over_l"]], [100 * remark["alpha"]], "r*", ms=14, label=f"Remark 4.5: {remark45:.2%}")
ax.axvline(paper.LIPSCHITZ_RADIUS, color="white", ls=":", lw=2,
           label=rf"cap for constants measured at $r={paper.LIPSCHITZ_RADIUS}$")
fig.colorbar(mesh, ax=ax, label="upper bound on robust accuracy (%)")
ax.set(xlabel=r"$\epsilon / L_{\max}$", ylabel=r"risk threshold $\alpha$ (%)",
       title=r"Theorem 4.4, per-class risk, $\delta=0$")
fig.tight_layout()
shared_legend(fig, [ax], ncol=1)
plt.show()

# %% [markdown]
# ## 6. Comparison with Fawzi et al. (2018)
#
# {cite:t}`fawzi2018` bound the robustness of any classifier when the data come from a
# single smooth generator with a Gaussian latent. For an $L$-Lipschitz generator, and
# when no predicted class has probability above $1/2$, their Theorem 1 gives
# $\Pr[r(x)\le\epsilon]\ge 1-\sqrt{\pi/2}\,e^{-(\epsilon/L)^2/2}$. The robust fraction is
# therefore at most $\sqrt{\pi/2}\,e^{-(\epsilon/L)^2/2}$, which is vacuous (at least
# $1$) while $\epsilon/L\le\sqrt{\ln(\pi/2)}=$ {glue:text}`fawzi_ratio:.3f`.
#
# Section 5.2 of the paper reports $L=$ {glue:text}`fawzi_l:.2f` from Algorithm 1 for an
# unconditional GAN on MNIST, "under the same parameter settings" as Table 1, and says
# that this bound is vacuous for $\epsilon\le$ {glue:text}`fawzi_paper_eps:.1f`. That
# statement mixes two scales. The paper's MNIST constants were measured on the
# generator's tanh output in [-1, 1] (the chapter on local Lipschitz constants shows
# that this doubles them), and the same code presumably produced this one, while
# $\epsilon$ in Table 3 is an $\ell_2$ distance between images in [0, 1].
#
# * On the scale where it was measured, [-1, 1], the simplified bound with
#   $L=$ {glue:text}`fawzi_l:.2f` stays above $1$ up to $\epsilon=L\sqrt{\ln(\pi/2)}=$
#   {glue:text}`fawzi_vacuous:.2f`, in [-1, 1] units.
# * On the [0, 1] scale of $\epsilon$ the constant is halved, $L=$
#   {glue:text}`fawzi_l01:.3f`, and the bound stays above $1$ up to $\epsilon=$
#   {glue:text}`fawzi_vacuous01:.2f`.
#
# Either way the paper's claim of vacuity for $\epsilon\le$
# {glue:text}`fawzi_paper_eps:.1f` holds, with room to spare. There is a further reason:
# the constant is a *local* one, measured on latent balls of radius $r=$
# {glue:text}`lipschitz_radius`, and Fawzi et al. assume a global one. Read with Theorem
# 4.3's condition, it supports $\epsilon/L$ only up to $r$, which is below
# {glue:text}`fawzi_ratio:.3f`; so the simplified bound, capped like ours, is at least
# {glue:text}`fawzi_floor:.3f` at every $\epsilon$.
#
# The vacuity is a property of the simplified form, though, not of the underlying
# argument. The same isoperimetric step, applied to each class's complement, gives a
# per-class form. With predicted-class probabilities $p_i$, the robust fraction is at
# most $\sum_i[1-\Phi(\Phi^{-1}(1-p_i)+\epsilon/L)]$, which equals $1$ only at
# $\epsilon=0$. With {glue:text}`fawzi_classes` equiprobable classes it is
# {glue:text}`fawzi_general_3:.3f` at $\epsilon=$ {glue:text}`fawzi_paper_eps:.1f` with
# $L=$ {glue:text}`fawzi_l:.2f` taken as the paper takes it, and
# {glue:text}`fawzi_general01_3:.3f` on the [0, 1] scale. Both are lower than Theorem
# 4.4's bound for generated MNIST at the same $\epsilon$:
# {glue:text}`thm44_mnist_3:.3f` with Table 1's constants as printed, and
# {glue:text}`thm44_mnist01_3:.3f` with them halved to the [0, 1] scale (where the cap
# applies, see {ref}`the last section <theory-bound-row>`).
#
# This does not make it the better bound, because the two bound different quantities.
# Fawzi et al. count a point as non-robust when a perturbation changes the classifier's
# *prediction*, under a single generator whose classes touch in latent space. For an
# accurate classifier, the points their bound catches are those within $\epsilon$ of
# *another class*. At $\epsilon=$ {glue:text}`fawzi_paper_eps:.1f`, every latent step of
# length up to $\epsilon/L=$ {glue:text}`fawzi_step:.3f` ({glue:text}`fawzi_step01:.3f`
# on the [0, 1] scale) stays within $\epsilon$ in image space, and for at least
# {glue:text}`fawzi_crossing:.1%` of the data (at least
# {glue:text}`fawzi_crossing01:.1%` on the [0, 1] scale) such a step reaches another
# predicted class, for every classifier whose predicted classes are balanced.
# Changing the label there can be correct, so these points need not be adversarial
# errors. That is the objection the paper raises in Section 2. Theorem 4.4 instead
# bounds error-based robustness (Definition 3.1), and under a conditional model each
# class has its own generator. The paper's claim of
# vacuity is correct for the simplified form it quotes, but it does not show that the
# unconditional argument is uninformative. What it shows is that the argument measures
# class overlap rather than vulnerability.

# %% tags=["hide-input"]
radius_paper = paper.LIPSCHITZ_RADIUS
L_uncond = paper.UNCONDITIONAL_MNIST_LIPSCHITZ  # [-1, 1] output scale, like Table 1 (book appendix, defect 2)
L_uncond01 = L_uncond / 2  # the same constant on the [0, 1] scale of eps
eps_fawzi = paper.UNCONDITIONAL_FAWZI_VACUOUS_EPS
n_fawzi_classes = 10
balanced = np.full(n_fawzi_classes, 1 / n_fawzi_classes)
mnist = paper.TABLE3_SETTINGS[0]
mnist_lip = bounds.LocalLipschitz(mnist.lipschitz_means, radius=mnist.radius)
mnist_lip01 = bounds.LocalLipschitz([lip / 2 for lip in mnist.lipschitz_means], radius=mnist.radius)

fawzi_ratio = math.sqrt(math.log(math.pi / 2))
vacuous = bounds.fawzi_vacuous_radius(L_uncond)
vacuous01 = bounds.fawzi_vacuous_radius(L_uncond01)
assert vacuous > vacuous01 > eps_fawzi
assert (bounds.fawzi_robustness_bound(np.linspace(0, eps_fawzi, 31), L_uncond01) > 1).all()
# The local constant read with the cap eps / L <= r: the simplified bound never drops below its value at r.
assert radius_paper < fawzi_ratio
fawzi_floor = float(bounds.fawzi_robustness_bound(radius_paper, 1.0))
eps_far = np.linspace(0, 10 * vacuous, 201)
capped_ratio = eps_far / bounds.valid_lipschitz(eps_far, np.array([L_uncond]), radius_paper)[:, 0]
assert (math.sqrt(math.pi / 2) * np.exp(-capped_ratio**2 / 2) >= fawzi_floor - 1e-15).all() and fawzi_floor > 1

general_3 = float(bounds.fawzi_robustness_bound_general(eps_fawzi, L_uncond, balanced))
general01_3 = float(bounds.fawzi_robustness_bound_general(eps_fawzi, L_uncond01, balanced))
assert radius_paper * L_uncond01 >= eps_fawzi  # no cap needed for the per-class form at this eps
thm44_3 = bounds.robustness_bound(mnist.alpha, eps_fawzi, mnist_lip, radius=mnist.radius, delta=mnist.delta,
                                  per_class_risk=True)
thm44_01_3 = bounds.robustness_bound(mnist.alpha, eps_fawzi, mnist_lip01, radius=mnist.radius, delta=mnist.delta,
                                     per_class_risk=True)
assert not bool(thm44_3.capped) and bool(thm44_01_3.capped)
assert general_3 < float(thm44_3) and general01_3 < float(thm44_01_3)
put("fawzi_ratio", fawzi_ratio)
put("fawzi_l", L_uncond)
put("fawzi_l01", L_uncond01)
put("fawzi_paper_eps", eps_fawzi)
put("fawzi_vacuous", vacuous)
put("fawzi_vacuous01", vacuous01)
put("fawzi_floor", fawzi_floor)
put("fawzi_classes", n_fawzi_classes)
put("fawzi_general_3", general_3)
put("fawzi_general01_3", general01_3)
put("thm44_mnist_3", float(thm44_3))
put("thm44_mnist01_3", float(thm44_01_3))
put("fawzi_step", eps_fawzi / L_uncond)
put("fawzi_step01", eps_fawzi / L_uncond01)
put("fawzi_crossing", 1 - general_3)
put("fawzi_crossing01", 1 - general01_3)

eps_line = np.linspace(0, 5, 101)
fig, ax = plt.subplots(figsize=(COLUMN_IN, 6.4))
for lip, style, scale in ((L_uncond, "-", "printed, [-1, 1]"), (L_uncond01, "--", "halved, [0, 1]")):
    ax.plot(eps_line, bounds.fawzi_robustness_bound(eps_line, lip), style, color="tab:red",
            label=f"Fawzi et al., simplified, L = {lip:.2f} ({scale})")
    ax.plot(eps_line, bounds.fawzi_robustness_bound_general(eps_line, lip, balanced), style, color="tab:orange",
            label=f"Fawzi et al., per-class, {n_fawzi_classes} classes, L = {lip:.2f} ({scale})")
for lip, style, scale in ((mnist_lip, "-", "Table 1 printed"), (mnist_lip01, "--", "Table 1 halved")):
    curve = bounds.robustness_bound(mnist.alpha, eps_line, lip, radius=lip.radius, delta=mnist.delta,
                                    per_class_risk=True)
    ax.plot(eps_line, curve.value, style, color="tab:blue",
            label=rf"Theorem 4.4, MNIST, $L_{{\max}}$ = {lip.values.max():.2f} ({scale}, r = {lip.radius})")
ax.axhline(1.0, color="grey", ls=":", lw=1)
ax.set(xlabel=r"$\epsilon$ (image $\ell_2$, pixels in [0, 1])", ylabel="upper bound on robust fraction",
       title="Fawzi et al. (one generator) vs Theorem 4.4", ylim=(0.4, 1.3))
fig.tight_layout()
shared_legend(fig, [ax], ncol=1)
plt.show()

# %% [markdown]
# (theory-bound-row)=
# ## 7. Table 3, bound row: recomputed from Tables 1 and 2
#
# The paper's "Our Bound" row in Table 3 comes from Theorem 4.4's per-class-risk form
# ($\tilde{\mathcal F}_\alpha$) with $\delta=$ {glue:text}`t3_delta` and the largest
# constant of Table 1 or 2: $L_{\max}=$ {glue:text}`t3_lmax_mnist:.1f` for generated
# MNIST and {glue:text}`t3_lmax_imagenet:.1f` for ImageNet10, measured at $r=$
# {glue:text}`lipschitz_radius`. Its risk thresholds are $\alpha=$
# {glue:text}`t3_alpha_mnist` and {glue:text}`t3_alpha_imagenet`. We recompute the row
# from the printed constants and also report three variants:
#
# * the total-risk form $\mathcal F_\alpha$, solved exactly via $(\mathrm{A.4})$. Here,
#   and only here, the proviso $\alpha\le\min_i p_i$ matters: for ImageNet10 the
#   paper's closed form is undefined because $\alpha$ exceeds every $p_i=$
#   {glue:text}`t3_p_imagenet`;
# * each class's own $L_i$ instead of $L_{\max}$, a valid and tighter bound from the
#   first line of $(\mathrm{A.3})$;
# * Theorem 4.3's condition $rL_i\ge\epsilon$: the columns `capped` say whether the
#   library had to raise any constant to $\epsilon/r$ (for $L_{\max}$, and for the
#   per-class constants).

# %% tags=["hide-input"]
table3_rows = []
t3_rl_min = {}
eps3 = np.array(paper.TABLE3_EPSILONS)
for setting in paper.TABLE3_SETTINGS:
    # Table 1/2's constants were measured at r = paper.LIPSCHITZ_RADIUS.
    lip = bounds.LocalLipschitz(setting.lipschitz_means, radius=setting.radius)
    ours = bounds.robustness_bound(setting.alpha, eps3, lip, radius=setting.radius, delta=setting.delta,
                                   per_class_risk=True)
    per_class_l = bounds.robustness_bound(setting.alpha, eps3, lip, radius=setting.radius, delta=setting.delta,
                                          per_class_risk=True, per_class_lipschitz=True)
    total_risk = bounds.robustness_bound_a4(setting.alpha, eps3, lip, radius=setting.radius, delta=setting.delta)
    t3_rl_min[setting.dataset] = setting.radius * lip.values.min()
    for j, eps in enumerate(eps3):
        table3_rows.append(
            {
                "dataset": setting.dataset,
                "alpha": setting.alpha,
                "L_max": lip.values.max(),
                "r min L_i": t3_rl_min[setting.dataset],
                "eps": eps,
                "paper (%)": paper.TABLE3_BOUND_PERCENT[setting.dataset][j],
                "ours (%)": 100 * ours.value[j],
                "ours, rounded (%)": round(100 * ours.value[j], 1),
                "per-class L_i (%)": 100 * per_class_l.value[j],
                "total risk F_alpha via (A.4) (%)": 100 * total_risk.value[j],
                "capped (L_max)": bool(ours.capped[j]),
                "capped (per-class L_i)": bool(per_class_l.capped[j]),
            }
        )
table3 = pd.DataFrame(table3_rows)
table3["ours - paper (pp)"] = table3["ours (%)"] - table3["paper (%)"]
write_table(table3, "table3_bound_row", RUN)

# Theorem 4.3's condition holds for every printed constant at every eps of Table 3: no cap.
assert not table3[["capped (L_max)", "capped (per-class L_i)"]].any().any()
assert min(t3_rl_min.values()) >= eps3.max()
mismatch = table3[table3["ours, rounded (%)"] != table3["paper (%)"]]
assert len(mismatch) == 1 and mismatch.iloc[0]["dataset"] == "ImageNet10" and mismatch.iloc[0]["eps"] == 3.0
assert table3["ours - paper (pp)"].abs().max() < 0.1
assert (table3["per-class L_i (%)"] <= table3["ours (%)"]).all()
assert (table3["total risk F_alpha via (A.4) (%)"] > table3["ours (%)"]).all()
off = mismatch.iloc[0]
imagenet = paper.TABLE3_SETTINGS[1]
# The smallest L_max for which the formula rounds to the printed value (r * L >= eps throughout: no cap).
needed = next(l for l in np.arange(max(imagenet.lipschitz_means), 16.0, 0.001)
              if round(100 * float(bounds.robustness_bound(imagenet.alpha, off["eps"], l, radius=imagenet.radius,
                                                             delta=imagenet.delta, per_class_risk=True)), 1)
              >= off["paper (%)"])
assert round(needed, 1) > max(imagenet.lipschitz_means)
mnist_probs = np.full(len(mnist.lipschitz_means), 1 / len(mnist.lipschitz_means))
imagenet_probs = np.full(len(imagenet.lipschitz_means), 1 / len(imagenet.lipschitz_means))
assert imagenet.alpha > imagenet_probs.min() and mnist.alpha <= mnist_probs.min()

put("t3_delta", mnist.delta)
assert imagenet.delta == mnist.delta
put("t3_lmax_mnist", max(mnist.lipschitz_means))
put("t3_lmax_imagenet", max(imagenet.lipschitz_means))
put("t3_alpha_mnist", mnist.alpha)
put("t3_alpha_imagenet", imagenet.alpha)
put("t3_p_imagenet", imagenet_probs.min())
put("t3_n_match", len(table3) - len(mismatch))
put("t3_n_entries", len(table3))
put("t3_off_eps", off["eps"])
put("t3_off_ours", off["ours (%)"])
put("t3_off_paper", off["paper (%)"])
put("t3_off_gap", abs(off["ours - paper (pp)"]))
glue("findings_t3_gap", f"{abs(off['ours - paper (pp)']):.2f}", display=False)
put("t3_needed_l", needed)
put("t3_per_class_gain", (table3["ours (%)"] - table3["per-class L_i (%)"]).max())
put("t3_rl_min_mnist", t3_rl_min[mnist.dataset])
put("t3_rl_min_imagenet", t3_rl_min[imagenet.dataset])
put("t3_eps_max", eps3.max())

# The same check on the [0, 1] scale of eps, where the MNIST constants halve (book appendix, defect 2)
# and the latent radius r does not change.
half_lip = bounds.LocalLipschitz([l / 2 for l in mnist.lipschitz_means], radius=mnist.radius)
half = bounds.robustness_bound(mnist.alpha, eps3, half_lip, radius=mnist.radius, delta=mnist.delta,
                               per_class_risk=True)
half_per_class = bounds.robustness_bound(mnist.alpha, eps3, half_lip, radius=mnist.radius, delta=mnist.delta,
                                         per_class_risk=True, per_class_lipschitz=True)
half_uncapped = bounds.robustness_bound(mnist.alpha, eps3, half_lip.values, radius=None, delta=mnist.delta,
                                        per_class_risk=True)
first_capped = eps3[half.capped].min()
first_capped_per_class = eps3[half_per_class.capped].min()
assert mnist.radius * half_lip.values.max() < eps3.max() and first_capped == eps3.max()
assert mnist.radius * half_lip.values.min() < first_capped_per_class
assert (half.value >= half_uncapped.value).all() and half.value[-1] > half_uncapped.value[-1]
put("t3_half_rl_max", mnist.radius * half_lip.values.max())
put("t3_half_rl_min", mnist.radius * half_lip.values.min())
put("t3_half_first_capped", first_capped)
put("t3_half_first_capped_per_class", first_capped_per_class)
put("t3_half_raised_to", first_capped / mnist.radius)
put("t3_half_capped", 100 * half.value[-1])
put("t3_half_uncapped", 100 * half_uncapped.value[-1])
table3.drop(columns=["alpha", "ours, rounded (%)"]).round(3)

# %% [markdown]
# {glue:text}`t3_n_match` of the {glue:text}`t3_n_entries` printed values are reproduced
# exactly after rounding to one decimal. The exception is ImageNet10 at $\epsilon=$
# {glue:text}`t3_off_eps`: the formula gives {glue:text}`t3_off_ours:.2f`%, which rounds
# to {glue:text}`t3_off_ours:.1f`%, but the paper prints {glue:text}`t3_off_paper:.1f`%.
# The printed value would need $L_{\max}\ge$ {glue:text}`t3_needed_l:.2f`, and Table 2
# would have printed such a constant as {glue:text}`t3_needed_l:.1f`, not
# {glue:text}`t3_lmax_imagenet:.1f`. The most likely explanation is that the paper
# rounded the bound up. The gap is {glue:text}`t3_off_gap:.2f` percentage points.
#
# Three further observations.
#
# * With each class's own constant the bounds are lower, i.e. tighter, by at most
#   {glue:text}`t3_per_class_gain:.2f` percentage points, so the paper's use of
#   $L_{\max}$ costs little here. The total-risk form $\mathcal F_\alpha$ is weaker than
#   the row on every entry.
# * Theorem 4.3's condition $rL_i\ge\epsilon$ holds for every entry as printed, so no
#   constant is capped and the row is the paper's formula unchanged: with $r=$
#   {glue:text}`lipschitz_radius`, the smallest $rL_i$ is
#   {glue:text}`t3_rl_min_mnist:.2f` on MNIST and {glue:text}`t3_rl_min_imagenet:.2f` on
#   ImageNet10, against the largest $\epsilon$, {glue:text}`t3_eps_max`.
# * That check takes the constants as printed. On the [0, 1] scale of $\epsilon$ the
#   MNIST constants halve, while $r$, a latent distance, does not. Then
#   $rL_{\max}=$ {glue:text}`t3_half_rl_max:.2f` and the smallest $rL_i$ is
#   {glue:text}`t3_half_rl_min:.3f`: the cap applies to $L_{\max}$ from $\epsilon=$
#   {glue:text}`t3_half_first_capped` (it is raised to $\epsilon/r=$
#   {glue:text}`t3_half_raised_to`) and to some per-class constants from $\epsilon=$
#   {glue:text}`t3_half_first_capped_per_class`. At the largest $\epsilon$ the halved
#   constants give {glue:text}`t3_half_capped:.2f`% with the cap, against
#   {glue:text}`t3_half_uncapped:.2f`% if it is ignored.
#
# These bounds are only as trustworthy as the Lipschitz constants behind them. Those
# constants come from a sampling estimator (Algorithm 1) that can only underestimate the
# local constant, and an underestimated $L$ makes the bound too *optimistic*. The
# chapter on local Lipschitz constants measures how much this matters.
#
# Finally, the calculator reproduces the MNIST row from the command line:
#
# ```bash
# intrinsic-rob bound --alpha 0.015 --eps 1 2 3 --delta 0.001 --per-class-risk \
#     --lipschitz 7.9 8.6 8.3 7.8 10.3 11.0 9.5 7.8 9.3 10.9 --radius 0.5
# ```
