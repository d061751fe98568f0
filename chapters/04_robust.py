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
# # Robust classifiers against the bound

# %% [markdown]
# :::{admonition} Findings
# :class: tip
#
# This run's {glue:text}`profile_name` profile, a smoke run that trains far shorter than
# Table 4, gives LP-Certify, Adv-Train and TRADES natural accuracies of
# {glue:text}`t3_natural_lp`, {glue:text}`t3_natural_adv` and
# {glue:text}`t3_natural_trades`, each above its floor (the chapter stops at a model below
# it, so no claim rests on one). PGD-L2 at $\epsilon=3$ leaves them
# {glue:text}`t3_pgd_3_lp`, {glue:text}`t3_pgd_3_adv` and {glue:text}`t3_pgd_3_trades`.
# Theorem 4.4's bound (Table 3's form) for the generator of these digits, at the
# $\delta={}${glue:text}`delta_supported` that the {glue:text}`delta_samples` latents per
# class behind its constants support, is {glue:text}`bound_supported_3` at $\epsilon=3$
# and {glue:text}`bound_supported_1` at $\epsilon=1${glue:text}`supported_verdict`. At the
# paper's $\delta={}${glue:text}`delta_paper`, which these constants do not support, it
# would allow {glue:text}`bound_sampled_3` (sampled constants) or
# {glue:text}`bound_gradient_3` (gradient ascent) at $\epsilon=3$: a gap of
# {glue:text}`gap_3` points to the most robust, where the paper's Table 3 shows
# {glue:text}`paper_gap_3`; at $\epsilon=1$ {glue:text}`gap_1` points (the paper:
# {glue:text}`paper_gap_1`). That comparison is the paper's. Table 3's form bounds only
# classifiers whose risk on every class is at least $\alpha$; at the paper's $\alpha$ that
# holds for {glue:text}`cover_per_class`, and the total-risk form's condition for
# {glue:text}`cover_total`. {glue:text}`cpu_findings_text`
# :::

# %% [markdown]
# Section 5.3 of {cite:t}`zhang2020` sets the bound of Theorem 4.4 beside what robust
# training achieves. Three classifiers are trained on the generated MNIST training set:
# LP-Certify {cite:p}`wong2018scaling`, which minimises a certified upper bound on the
# robust loss; Adv-Train {cite:p}`madry2018`, which minimises the loss at a
# PGD-L2 adversarial example; and TRADES {cite:p}`zhang2019`, which adds
# $\beta$ times the KL divergence between the predictions at a clean input and at an
# adversarial one to the natural loss. Each is then attacked on the generated test set
# with PGD-L2 at $\epsilon\in\{1,2,3\}$, and its robust accuracy compared with the bound
# on the intrinsic robustness of every classifier of its accuracy. Table 3 reports a large
# gap between the two.
#
# This chapter rebuilds Table 3 with the library (`intrinsic_rob.models.robust`,
# `intrinsic_rob.attacks`, `intrinsic_rob.estimators.certify`), each method a loss for the one
# training loop. It adds what the paper did not report: the accuracy that LP-Certify's
# own certificate guarantees, and how much the paper's evaluation (no random start, the
# last iterate judged) overstated robustness, against stronger attacks on the same
# models.

# %% tags=["parameters"]
profile = "quick"
# None: the profile's value (lib/intrinsic_rob/pipeline/profiles.py); the book's runs inject them all.
seed = None
acgan_epochs = None
acgan_steps = None
acgan_lr = None
acgan_ema_decay = None
mnist_sizes = None
imagenet10_sizes = None
biggan_random_width = None
robust_epochs = None
robust_inner_steps = None
robust_ramp_epochs = None
lp_epochs = None
lp_ramp_epochs = None
lp_train_size = None
lp_proj = None
snapshot_every = None
pgd_steps = None
eval_size = None
certify_size = None
robust_trials = None
restarts = None
strength_size = None
device = None
biggan_dir = None

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display
from myst_nb import glue

from intrinsic_rob import paper
from intrinsic_rob.attacks import PGDSettings, pgd_l2_detailed, robust_accuracy
from intrinsic_rob.core.devices import resolve_device
from intrinsic_rob.core.validation import check_value
from intrinsic_rob.data.datasets import generated_mnist
from intrinsic_rob.estimators.certify import certified_mask
from intrinsic_rob.estimators.lipschitz import (
    lmax_at_radius,
    samples_at_radius,
    samples_for_delta,
    supported_delta_at_radius,
)
from intrinsic_rob.models.classifiers import per_class_accuracy
from intrinsic_rob.models.robust import RobustTraining
from intrinsic_rob.pipeline import findings
from intrinsic_rob.pipeline.book import setup_chapter
from intrinsic_rob.pipeline.experiments import evaluate_robustness, imagenet10_model, robust_models
from intrinsic_rob.pipeline.floors import FLOORS, METHOD_NAMES, check_floors, floor_failures
from intrinsic_rob.pipeline.plotting import COLUMN_IN, ESTIMATE_STYLES, METHOD_STYLES
from intrinsic_rob.pipeline.profiles import PAPER, PROFILES, evaluation, mnist_data, resolve_parameters, robust_training
from intrinsic_rob.pipeline.recorded import compare_with_paper, kernels_text, recorded_table3
from intrinsic_rob.pipeline.results import module_digest, read_recorded_table, read_table, write_table
from intrinsic_rob.pipeline.sweep import forwarded, resolve_target, run_sweep
from intrinsic_rob.pipeline.tables import mean_std
from intrinsic_rob.theory import bounds

globals().update(resolve_parameters("04_robust", profile, globals()))
RUN = setup_chapter(profile, precision=1, biggan_dir=biggan_dir)
ROOT = RUN.root
DEVICE = resolve_device(device)
EPSILONS = list(paper.TABLE3_EPSILONS)
MNIST_BOUND = paper.TABLE3_SETTINGS[0]
METHODS = dict(METHOD_NAMES)  # method -> the paper's name, in Table 3's order
TRAINING, EVALUATION = robust_training(globals()), evaluation(globals())
glue("profile_name", profile, display=False)


def pct(name: str, fraction: float) -> None:
    """Glue a fraction as a percentage with one decimal."""
    glue(name, f"{100 * fraction:.1f}%", display=False)


# %% [markdown]
# ## Data and training
#
# The classifiers train on the generated MNIST training set of Chapter 2 (the same
# generator, seed and sizes) and are evaluated on its test set. Table 4's settings apply
# with the lengths of the {glue:text}`profile_name` profile: {glue:text}`train_text`.
# LP-Certify trains on the first {glue:text}`lp_train_count` training images, since its
# bound is costly on a CPU. The learning rate follows the schedule the original meant
# (the base rate times a tenth, a hundredth and a thousandth from the fiftieth,
# seventieth and ninetieth of its hundred epochs; the original compounded them,
# [defect 7](09_departures)), stretched to the run's length: {glue:text}`schedule_text`.
# Each model is cached
# under a hash of its settings and training data, with its state kept every
# {glue:text}`snapshot_text`: the intermediate models whose in-distribution robustness
# Figure 2 (Section 5.4) follows.
#
# Two practices of the field make short runs learn. The seven-layer network starts as the
# TRADES authors initialise it (Kaiming-normal convolutions, a zero last layer); with
# PyTorch's default initialisation it stayed at chance for its first epochs. And
# $\epsilon$ is warmed up step by step: from $0$ over the first
# {glue:text}`ramp_text` for Adv-Train and TRADES (Table 4 has no warm-up), and from
# $0.05$ over {glue:text}`lp_ramp_text` for LP-Certify, as {cite:t}`wong2018scaling` ramp
# theirs. Without the warm-up, the quick profile's Adv-Train stayed at chance and
# LP-Certify collapsed when its $\epsilon$ jumped to $2$. A model that has not learned
# would lie below the bound by construction, so every model must clear a floor before
# anything is concluded from it (`intrinsic_rob.pipeline.floors`): natural accuracy of at least
# {glue:text}`floor_attack` for Adv-Train and TRADES, at least {glue:text}`floor_lp` for
# LP-Certify with some digits certified at $\epsilon={}${glue:text}`floor_lp_eps`. In
# this run {glue:text}`floor_text`.
#
# The inner maximisation of Adv-Train and TRADES takes normalised gradient steps of
# {glue:text}`inner_step` in $\ell_2$ (Table 4, {glue:text}`paper_inner_steps` of them on
# MNIST), each projected onto the ball and onto $[0,1]$, as the original implementation
# did. The TRADES authors' own $\ell_2$ code differs in its step: an optimiser step of
# $2\epsilon/K$ on the KL term, {glue:text}`trades_author_step` for
# $\epsilon={}${glue:text}`trades_eps` and $K={}${glue:text}`paper_inner_steps`, about a
# third of the paper's. The library takes the paper's step; it starts TRADES' inner
# maximisation at $x+0.001\cdot\mathcal N(0,I)$, as the TRADES authors do, and Adv-Train's
# at a point uniform in the ball. It computes TRADES' KL term from log-probabilities at
# both inputs. Given the clean input's probabilities instead, as is common, the term's
# gradient holds $\log 0$ wherever a class's probability underflows to zero, and the
# weights turn to NaN while the loss still looks finite: a training run of the `cpu`
# profile lost its weights that way in its first epoch and trained on NaN to its end. The
# training loop now stops at the first step whose loss is not finite and names it.

# %%
mnist = generated_mnist(mnist_data(globals()), RUN, device=DEVICE)  # Chapter 2's generator
mnist_source, train, test = mnist.source, mnist.train, mnist.test
n_eval, n_certify = EVALUATION.counts(len(test))
x_eval, y_eval = test.x[:n_eval], test.y[:n_eval]
# the first trial's models (cached, or trained at once, one process each), for the sweep and the sections below
trained = robust_models(TRAINING, "mnist", list(METHODS), seed, mnist, RUN, device=DEVICE)

# Table 3's trials are a sweep: one point per method and trial, each a run of
# chapters/points/robust_trial.py on Dask (finished points are reused, not rerun).
POINT = ROOT / "chapters" / "points" / "robust_trial.py"
grid = {"method": list(METHODS), "trial": list(range(robust_trials)),
        **forwarded("04_robust", profile, globals(), resolve_target(POINT, profile, ROOT).defaults)}
trials = run_sweep(POINT, profile=profile, grid=grid, name="table3_mnist", repeat=["trial"], root=ROOT,
                   results=RUN.results, progress=False)
assert not trials.failed, trials.failed

# %% tags=["hide-input"]
results = (trials.tables["table3_trial"].rename(columns={"training_seed": "seed"}).assign(dataset="mnist")
           [["dataset", "method", "seed", "eps", "metric", "value"]])
check_floors(results)  # a model below its floor stops the chapter here, naming it, before anything is written
models = {(method, 0): trained[method].model.to(DEVICE) for method in METHODS}
histories = {(method, 0): trained[method].history for method in METHODS}
write_table(results, "table3_robust_mnist", RUN, extra={"generator": mnist_source.description,
                                                                  "pgd_steps": pgd_steps, "evaluated": n_eval,
                                                                  "certified_on": n_certify})
configs = {m: TRAINING.config("mnist", m, seed) for m in METHODS}
glue("train_text", "; ".join(
    f"{METHODS[m]} {c.epochs} epochs" + (f" with {c.steps} inner PGD steps of {c.step_size:g}" if m != "lp" else "")
    for m, c in configs.items()), display=False)
glue("snapshot_text", "epoch" if snapshot_every == 1 else f"{snapshot_every} epochs", display=False)
glue("lp_train_count", f"{min(lp_train_size or len(train), len(train)):,}", display=False)
trades_paper = RobustTraining().config("mnist", "trades", seed)  # Table 4's settings, unshortened
glue("inner_step", f"{trades_paper.step_size:g}", display=False)
glue("paper_inner_steps", str(trades_paper.steps), display=False)
glue("trades_eps", f"{trades_paper.eps:g}", display=False)
glue("trades_author_step", f"{2 * trades_paper.eps / trades_paper.steps:g}", display=False)
glue("schedule_text", "; ".join(
    f"{METHODS[m]} " + (", ".join(f"×{f:g} from epoch {e + 1}" for e, f in zip(c.milestones, c.factors))
                        if c.milestones else "no decay")
    for m, c in configs.items()), display=False)
glue("ramp_text", f"{configs['adv'].eps_ramp_epochs} epoch" + ("" if configs["adv"].eps_ramp_epochs == 1 else "s"),
     display=False)
glue("lp_ramp_text", f"{configs['lp'].lp_ramp_epochs} epoch" + ("" if configs["lp"].lp_ramp_epochs == 1 else "s"),
     display=False)
pct("floor_attack", FLOORS["adv"].natural)
pct("floor_lp", FLOORS["lp"].natural)
glue("floor_lp_eps", f"{FLOORS['lp'].certified_eps:g}", display=False)
natural_by_method = results[results["metric"] == "natural"].groupby("method")["value"]
glue("floor_text", "every model cleared its floor (natural accuracy " + ", ".join(
    f"{METHODS[m]} {100 * natural_by_method.min()[m]:.1f}%" for m in METHODS)
     + (" at the lowest over the trials" if robust_trials > 1 else "") + ")", display=False)
losses = pd.DataFrame([{"method": METHODS[m], "epoch": int(h["epoch"]), "training loss": h["loss"]}
                       for (m, t), hist in histories.items() if t == 0 for h in hist])
losses.pivot(index="epoch", columns="method", values="training loss").round(3)

# %% [markdown]
# ## Table 3
#
# Natural and PGD-L2 robust accuracy on {glue:text}`eval_count` generated test digits
# ({glue:text}`pgd_steps_text` steps, Table 5's step sizes, a random start and each
# example's best iterate), over {glue:text}`trials_text` (mean ± standard deviation where
# there are several), beside the paper's. The bound rows belong to the data: they apply
# Theorem 4.4 with Table 3's $\alpha$ and $\delta$ to the local Lipschitz constants
# Chapter 3 measured, in this profile, for the very generator that made these digits (its
# weights' digest is checked), at $r={}${glue:text}`bound_radius`: $L_{\max}$ of
# {glue:text}`lmax_sample` sampled by Algorithm 1 and {glue:text}`lmax_gradient` by
# gradient ascent. Within Theorem 4.3's hypothesis $\epsilon/L$ never exceeds $r$; a cell
# marked "capped" is one where $\epsilon>r\cdot L_{\max}$ raised $L$ to $\epsilon/r$.
# The paper's own bound row used its generator's constants, which is why it is printed
# apart.

# %% tags=["hide-input"]
summary = results.groupby(["method", "metric", "eps"])["value"].agg(["mean", "std"]).reset_index()
summary["std"] = summary["std"].fillna(0.0)


def cell(method: str, metric: str, eps: float) -> str:
    row = summary[(summary["method"] == method) & (summary["metric"] == metric) & (summary["eps"] == eps)].iloc[0]
    if robust_trials == 1:  # no spread to show
        return f"{100 * row['mean']:.1f}%"
    return mean_std(100 * row["mean"], 100 * row["std"], digits=1) + "%"


# This generator's constants (Chapter 3, this profile), checked by the weights' digest.
found = read_table("lipschitz_by_radius_mnist", RUN)
assert found is not None, "Chapter 3 writes the Lipschitz constants by radius: run it first in this profile"
lip_table, lip_meta = found
generator_sha256 = module_digest(mnist_source.generator)
if lip_meta.get("generator_sha256") != generator_sha256:
    raise RuntimeError(f"Chapter 3's constants are for the generator with weights sha256 "
                       f"{lip_meta.get('generator_sha256')}, these digits for {generator_sha256}: rerun Chapter 3")
RADIUS = PAPER.lipschitz.radius  # Table 1's r
lmax = lmax_at_radius(lip_table, RADIUS)
natural_mean = summary[summary["metric"] == "natural"].set_index("method")["mean"]
# The paper chose alpha "to reflect the best natural accuracy": here, the best classifier's measured risk.
ALPHAS = {"paper": MNIST_BOUND.alpha, "best classifier": float(1.0 - natural_mean.max())}
probs = np.full(10, 0.1)  # the generated labels are uniform
# The paper's delta, and the one the latents behind each constant support (Chapter 5 uses the latter).
SAMPLES = samples_at_radius(lip_table, RADIUS)
DELTAS = {"paper": MNIST_BOUND.delta, "supported": supported_delta_at_radius(lip_table, RADIUS)}
bound_table = bounds.theorem44_rows(lmax, radius=RADIUS, eps=EPSILONS, alphas=ALPHAS, deltas=DELTAS,
                                    class_probs=probs)
write_table(bound_table, "table3_bound_rows_mnist", RUN,
            extra={"generator": mnist_source.description, "generator_sha256": generator_sha256,
                   "lipschitz_table": "lipschitz_by_radius_mnist", "radius": RADIUS, "samples_per_class": SAMPLES})


def bound_cell(row: pd.Series) -> str:
    notes = [note for note, applies in (("capped", row["capped"]), ("no information", row["bound"] >= 1)) if applies]
    return f"{100 * row['bound']:.1f}%" + (f" ({'; '.join(notes)})" if notes else "")


table3 = []
for method, name in METHODS.items():
    printed = paper.TABLE3_ROBUST_PERCENT[("mnist", method)]
    table3.append({"method": name, "source": "ours", "natural": cell(method, "natural", 0.0),
                   **{f"eps = {e:g}": cell(method, "pgd", e) for e in EPSILONS}})
    if method == "lp":
        table3.append({"method": name, "source": "ours, certified", "natural": "",
                       **{f"eps = {e:g}": cell(method, "certified", e) for e in EPSILONS}})
    table3.append({"method": name, "source": "paper", "natural": mean_std(*printed["natural"], digits=1) + "%",
                   **{f"eps = {e:g}": mean_std(*printed[e], digits=1) + "%" for e in EPSILONS}})
table3_bounds = bound_table[(bound_table["form"] == "per-class") & (bound_table["alpha_from"] == "paper")]
for (estimate, delta_from), rows in table3_bounds.groupby(["estimate", "delta_from"], sort=False):
    rows = rows.set_index("eps")
    table3.append({"method": f"bound, {'sampled' if estimate == 'sample' else 'gradient'} L",
                   "source": f"ours, δ = {rows['delta'].iloc[0]:.3g}" + (" (the paper's)" if delta_from == "paper"
                                                                         else " (supported)"),
                   "natural": "", **{f"eps = {e:g}": bound_cell(rows.loc[e]) for e in EPSILONS}})
table3.append({"method": "bound", "source": "paper", "natural": "",
               **{f"eps = {e:g}": f"{v:.1f}%" for e, v in zip(EPSILONS, paper.TABLE3_BOUND_PERCENT["generated MNIST"])}})
glue("eval_count", f"{n_eval:,}", display=False)
glue("pgd_steps_text", str(pgd_steps), display=False)
glue("trials_text", f"{robust_trials} trial" + ("s" if robust_trials > 1 else ""), display=False)
glue("bound_radius", f"{RADIUS:g}", display=False)
glue("lmax_sample", f"{lmax['sample']:.2f}", display=False)
glue("lmax_gradient", f"{lmax['gradient']:.2f}", display=False)
for method in METHODS:  # the Findings' numbers: the table's own cells
    glue(f"t3_natural_{method}", cell(method, "natural", 0.0), display=False)
    for e in EPSILONS:
        glue(f"t3_pgd_{e:g}_{method}", cell(method, "pgd", e), display=False)
table3_shown = pd.DataFrame(table3).set_index(["method", "source"])
glue("headline_table3", table3_shown, display=False)  # the landing page's table: the one shown here
table3_shown

# %% [markdown]
# ## Table 3 from the recorded CPU-scale run
#
# The rows above come from this run's profile, {glue:text}`profile_name`
# ({glue:text}`train_count` training digits, {glue:text}`eval_count` test digits). The
# `quick` profile, the book's default, is a smoke run: training short enough for minutes
# on two cores, evaluated on a few hundred digits, enough to show that the pipeline works
# and every model learns, not to be compared number for number with the paper. The `cpu`
# profile is the recorded run: Table 4's optimisers, rates, $\beta$, inner step size and
# schedule shape, scaled to two CPU cores ({glue:text}`cpu_text`), and evaluated as the
# paper evaluates. It is run once, with
#
# ```bash
# intrinsic-rob lipschitz --dataset mnist --method sample --profile cpu
# intrinsic-rob lipschitz --dataset mnist --method gradient --profile cpu
# intrinsic-rob sweep chapters/points/robust_trial.py --profile cpu --name table3_mnist \
#     --grid trial=0,1,2 --grid method=lp,adv,trades --repeat trial --workers 1
# intrinsic-rob record --profile cpu
# ```
#
# and committed under `results/cpu/`: every trial with its provenance, and Table 3's bound
# rows computed from the constants of the generator that made its digits (`record` checks
# the weights' digests). The book reads them back
# rather than rerunning hours of training. {glue:text}`cpu_status_text`

# %% tags=["hide-input"]
cpu_values = PROFILES["cpu"].parameters("04_robust")
cpu_data, cpu_training, cpu_evaluation = mnist_data(cpu_values), robust_training(cpu_values), evaluation(cpu_values)
glue("train_count", f"{len(train):,}", display=False)
glue("cpu_text", f"{cpu_data.sizes[0]:,} generated training digits; Adv-Train and TRADES "
                 f"{cpu_training.epochs} epochs with {cpu_training.inner_steps} inner steps and a "
                 f"{cpu_training.ramp_epochs}-epoch ε warm-up; LP-Certify {cpu_training.lp_epochs} epochs on "
                 f"{cpu_training.lp_train_size:,} digits with {cpu_training.lp_proj} projections; "
                 f"{cpu_evaluation.pgd_steps} PGD steps on all {cpu_data.sizes[1]:,} test digits, "
                 f"certificates on {cpu_evaluation.certify_size:,}; {cpu_values['robust_trials']} trials",
     display=False)
recorded = recorded_table3("cpu", ROOT)
cpu_bounds = read_recorded_table("table3_bound_rows_mnist", "cpu", ROOT)
if recorded is None:
    glue("cpu_status_text", "No trial of it is recorded in this copy yet.", display=False)
    glue("cpu_findings_text", "No trial of the recorded cpu profile is in this copy yet.", display=False)
else:
    done = recorded.provenance.groupby("method")["trial"].nunique()
    glue("cpu_status_text", "Recorded so far: " + ", ".join(
        f"{METHODS[m]} {done.get(m, 0)} of {cpu_values['robust_trials']} trials" for m in METHODS)
         + f" ({recorded.provenance['device'].iloc[0]}, torch {recorded.provenance['torch'].iloc[0]}; "
         f"{recorded.provenance['seconds'].sum() / 3600:.1f} hours in the sweep's points, which train a model "
         "only where the cache lacks it). Below, each quantity's mean "
         "± std over the recorded trials beside the paper's, each trial's provenance, and Table 3's bound rows "
         "from the constants of the generator these models were trained on. " + kernels_text(recorded.provenance),
         display=False)
    compared = compare_with_paper(recorded.summary())
    cpu_table = pd.DataFrame({
        "method": compared["method"].map(METHODS), "quantity": compared["quantity"], "trials": compared["trials"],
        "cpu profile": [(mean_std(m, s, digits=1) if n > 1 else f"{m:.1f}") + "%"  # one trial: no spread
                        for m, s, n in zip(compared["ours"], compared["ours_std"], compared["trials"])],
        "paper": [mean_std(m, s, digits=1) + "%" for m, s in zip(compared["paper"], compared["paper_std"])],
        "difference (points)": compared["difference"].round(1)}).set_index(["method", "quantity"])
    certified = recorded.summary().query("metric == 'certified'")  # LP-Certify's own guarantee; nothing printed
    cpu_table = pd.concat([cpu_table, pd.DataFrame({
        "method": certified["method"].map(METHODS), "quantity": [f"certified, eps = {e:g}" for e in certified["eps"]],
        "trials": certified["count"].astype(int),
        "cpu profile": [(mean_std(100 * m, 100 * sd, digits=1) if n > 1 else f"{100 * m:.1f}") + "%"
                        for m, sd, n in zip(certified["mean"], certified["std"], certified["count"])],
        "paper": "not reported", "difference (points)": np.nan}).set_index(["method", "quantity"])])
    cpu_table = cpu_table.loc[[n for n in METHODS.values() if n in cpu_table.index.get_level_values("method")]]
    top = f"PGD, eps = {max(EPSILONS):g}"
    cpu_parts = []
    for name, rows in cpu_table.groupby(level="method", sort=False):
        rows = rows.droplevel("method")
        if "natural" in rows.index and top in rows.index:
            cpu_parts.append(f"{name} ({rows.loc['natural', 'trials']} of {cpu_values['robust_trials']} trials) "
                             f"{rows.loc['natural', 'cpu profile']} natural and {rows.loc[top, 'cpu profile']} "
                             f"PGD accuracy at ε = {max(EPSILONS):g}, against the paper's "
                             f"{rows.loc['natural', 'paper']} and {rows.loc[top, 'paper']}")
    cpu_failures = floor_failures(recorded.trials.rename(columns={"trial": "seed"}))
    natural_diff = compared[compared["quantity"] == "natural"].set_index("method")["difference"]
    goal = {ok: [f"{METHODS[m]} ({d:+.1f})" for m, d in natural_diff.items() if (abs(d) <= 2) == ok]
            for ok in (True, False)}
    glue("cpu_findings_text", "The recorded cpu profile (Table 4's settings scaled to two cores, evaluated as the "
         "paper evaluates; its table below) holds so far " + "; ".join(cpu_parts) + "; "
         + ("every recorded model is above its floor" if not cpu_failures else
            "some are below their floors, so no claim rests on them: "
            + "; ".join(f.replace("(seed ", "(trial ") for f in cpu_failures))
         + ". Natural accuracy within 2 points of the paper's, its goal, is met by "
         + (" and ".join(goal[True]) or "none") + " and missed by " + (" and ".join(goal[False]) or "none")
         + " (differences in points). "
         + findings.recorded_bound_text(findings.recorded_bound(ROOT, "cpu", max(EPSILONS)), max(EPSILONS)),
         display=False)
    display(cpu_table)
    display(recorded.provenance.assign(
        method=recorded.provenance["method"].map(METHODS), minutes=(recorded.provenance["seconds"] / 60).round(1),
        commit=recorded.provenance["commit"].str[:10], weights=recorded.provenance["weights_sha256"].str[:12],
        generator=recorded.provenance["generator_sha256"].str[:12])
        [["method", "trial", "minutes", "evaluated", "pgd_steps", "commit", "weights", "generator"]]
        .set_index(["method", "trial"]))
    if cpu_bounds is not None:  # its own generator's constants, digest-checked when they were recorded
        cpu_rows, cpu_meta = cpu_bounds
        cpu_rows = cpu_rows.assign(bound=[bound_cell(r) for _, r in cpu_rows.iterrows()],
                                   alpha=[f"{a:.3g} ({f})" for a, f in zip(cpu_rows["alpha"], cpu_rows["alpha_from"])],
                                   delta=[f"{d:.3g} ({f})" for d, f in zip(cpu_rows["delta"], cpu_rows["delta_from"])])
        display(cpu_rows.assign(form=cpu_rows["form"].map(bounds.FORMS), estimate=cpu_rows["estimate"].map(
            {"sample": f"sampled L_max = {cpu_meta['lmax']['sample']:.2f}",
             "gradient": f"gradient L_max = {cpu_meta['lmax']['gradient']:.2f}"}))
            .pivot_table(index=["form", "alpha", "estimate", "delta"], columns="eps", values="bound",
                         aggfunc="first"))

# %% [markdown]
# Theorem 4.4 bounds two classes of classifiers. Table 3 uses the per-class-risk form,
# $\tilde{\mathcal F}_\alpha$: classifiers whose risk on *every* class is at least
# $\alpha$. The total-risk form, $\mathcal F_\alpha$, covers every classifier whose
# overall risk is at least $\alpha$, a larger class, so its bound is higher. A bound says
# something about a classifier only if the classifier is in its class. The paper took
# $\alpha={}${glue:text}`alpha_paper` "to reflect the best natural accuracy"; here the
# best classifier's measured risk is {glue:text}`alpha_best`. The table gives both forms
# at both values of $\alpha$, and below it which of this chapter's models (first trial)
# each covers: {glue:text}`coverage_text`.

# %% tags=["hide-input"]
coverage = []
for method, name in METHODS.items():
    with torch.inference_mode():
        predicted = models[method, 0](x_eval.to(DEVICE)).argmax(1).cpu()
    class_risk = 1.0 - per_class_accuracy(predicted, y_eval, 10)
    total_risk = float((predicted != y_eval).float().mean())
    for alpha_from, alpha in ALPHAS.items():
        coverage.append({"model": name, "alpha from": alpha_from, "alpha": alpha, "total risk": total_risk,
                         "smallest class risk": float(np.nanmin(class_risk)), "in F_alpha": total_risk >= alpha,
                         "in F~_alpha": float(np.nanmin(class_risk)) >= alpha})
coverage = pd.DataFrame(coverage)
glue("alpha_paper", f"{ALPHAS['paper']:g}", display=False)
pct("alpha_best", ALPHAS["best classifier"])


def covered(column: str, alpha_from: str) -> str:
    names = coverage[(coverage["alpha from"] == alpha_from) & coverage[column]]["model"].tolist()
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names) or "none of them"


glue("cover_per_class", covered("in F~_alpha", "paper"), display=False)
glue("cover_total", covered("in F_alpha", "paper"), display=False)
glue("coverage_text", "; ".join(
    f"at α = {ALPHAS[a]:.3g} ({'the paper' if a == 'paper' else 'the best classifier'}), F_α holds "
    f"{covered('in F_alpha', a)} and F̃_α {covered('in F~_alpha', a)}" for a in ALPHAS), display=False)
forms = bound_table.assign(bound=[bound_cell(r) for _, r in bound_table.iterrows()],
                           form=bound_table["form"].map(bounds.FORMS),
                           alpha=[f"{a:.3g}" for a in bound_table["alpha"]],
                           delta=[f"{d:.3g} ({f})" for d, f in zip(bound_table["delta"], bound_table["delta_from"])])
display(forms.pivot_table(index=["form", "alpha_from", "alpha", "estimate", "delta"], columns="eps", values="bound",
                          aggfunc="first"))
shown = coverage.assign(**{c: [f"{100 * v:.1f}%" for v in coverage[c]]
                           for c in ("alpha", "total risk", "smallest class risk")})
shown.set_index(["model", "alpha from"])

# %% [markdown]
# Certified accuracy (on the first {glue:text}`certify_count` test digits) can never exceed
# PGD robust accuracy, which can never exceed natural accuracy. The chapter checks the
# second for every method and $\epsilon$, and the first digit by digit: on the same digits,
# no digit LP-Certify's certificate covers is misclassified or fooled by PGD. The
# certificate is convex-adversarial's exact $\ell_2$ bound, which ignores the box $[0,1]$
# ([defect 8](09_departures)): it certifies the whole ball, so it also holds for the
# smaller set of valid images.

# %% tags=["hide-input"]
by = results.set_index(["method", "seed", "metric", "eps"])["value"]
for method, trial in ((m, t) for m in METHODS for t in range(robust_trials)):
    s = seed + trial
    for e in EPSILONS:
        assert by[(method, s, "pgd", e)] <= by[(method, s, "natural", 0.0)] + 1e-12
# Digit by digit on the first trial's LP-Certify model: a certified digit is correctly classified
# and never fooled by PGD, on the same digits.
lp_model = models["lp", 0]
x_cert, y_cert = x_eval[:n_certify], y_eval[:n_certify]
with torch.inference_mode():
    correct = lp_model(x_cert.to(DEVICE)).argmax(1).cpu() == y_cert
broken = 0
for e in EPSILONS:
    step_size, _ = paper.TABLE5_PGD[e]
    certified = certified_mask(lp_model, x_cert, y_cert, e)
    fooled = pgd_l2_detailed(lp_model, x_cert, y_cert, PGDSettings(eps=e, step_size=step_size, steps=pgd_steps,
                                                                    seed=seed)).fooled.cpu()
    broken += int((certified & (fooled | ~correct)).sum())
assert broken == 0, f"{broken} certified digits were misclassified or fooled"
glue("certify_count", f"{n_certify:,}", display=False)

best_pgd = {e: float(summary[(summary["metric"] == "pgd") & (summary["eps"] == e)]["mean"].max()) for e in EPSILONS}
best_method = {e: METHODS[summary[(summary["metric"] == "pgd") & (summary["eps"] == e)]
                          .sort_values("mean").iloc[-1]["method"]] for e in EPSILONS}
at_paper_delta = table3_bounds[table3_bounds["delta_from"] == "paper"]
gradient_bound = at_paper_delta[at_paper_delta["estimate"] == "gradient"].set_index("eps")["bound"].to_dict()
sampled_bound = at_paper_delta[at_paper_delta["estimate"] == "sample"].set_index("eps")["bound"].to_dict()
supported_bound = table3_bounds[table3_bounds["delta_from"] == "supported"].groupby("eps")["bound"].min().to_dict()
glue("delta_paper", f"{MNIST_BOUND.delta:g}", display=False)
glue("delta_supported", " and ".join(sorted({f"{d:.3g}" for d in DELTAS["supported"].values()})), display=False)
glue("delta_samples", f"{min(SAMPLES.values()):,}", display=False)
glue("paper_delta_samples", f"{samples_for_delta(MNIST_BOUND.delta):,}", display=False)
glue("supported_verdict", ": above 100%, so it says nothing about these classifiers"
     if max(supported_bound.values()) >= 1 else "", display=False)
for e in EPSILONS:
    tag = f"{e:g}"
    pct(f"best_pgd_{tag}", best_pgd[e])
    glue(f"best_method_{tag}", best_method[e], display=False)
    pct(f"bound_sampled_{tag}", sampled_bound[e])
    pct(f"bound_gradient_{tag}", gradient_bound[e])
    pct(f"bound_supported_{tag}", supported_bound[e])
    glue(f"gap_{tag}", f"{100 * (min(sampled_bound[e], gradient_bound[e]) - best_pgd[e]):.1f}", display=False)
    paper_best = max(paper.TABLE3_ROBUST_PERCENT[("mnist", m)][e][0] for m in METHODS)
    paper_bound = paper.TABLE3_BOUND_PERCENT["generated MNIST"][EPSILONS.index(e)]
    glue(f"paper_gap_{tag}", f"{paper_bound - paper_best:.1f}", display=False)
e_max = max(EPSILONS)

fig, ax = plt.subplots(figsize=(COLUMN_IN, 4.4))
grid = np.linspace(0.0, e_max, 61)[1:]
for estimate in ("sample", "gradient"):  # bounds: black, told apart by line style
    style = ESTIMATE_STYLES[estimate]
    ax.plot(grid, 100 * bounds.table3_bound(MNIST_BOUND, grid, lmax[estimate], radius=RADIUS).value,
            color=style.color, linestyle=style.linestyle, label=f"bound, {style.label}")
for method, name in METHODS.items():  # models: one colour and marker each
    style = METHOD_STYLES[method]
    pts = summary[(summary["method"] == method) & (summary["metric"].isin(["natural", "pgd"]))]
    ax.errorbar(pts["eps"], 100 * pts["mean"], yerr=100 * pts["std"], capsize=3, label=f"{name}, PGD",
                **style.line())
    if method == "lp":
        cert = summary[(summary["method"] == method) & (summary["metric"] == "certified")]
        ax.plot(cert["eps"], 100 * cert["mean"], color=style.color, marker=style.marker, linestyle=":",
                markerfacecolor="white", label=f"{name}, certified")
ax.set(xlabel="ε (ℓ2, images in [0, 1])", ylabel="accuracy (%)", ylim=(0, 101),
       title=f"Generated MNIST, {profile} profile")
handles, labels = ax.get_legend_handles_labels()  # below the axes: models first, then the bounds
order = sorted(range(len(labels)), key=lambda i: (labels[i].startswith("bound"), "certified" in labels[i]))
ax.legend([handles[i] for i in order], [labels[i] for i in order], loc="upper center", bbox_to_anchor=(0.5, -0.2),
          ncol=2, frameon=False)
plt.show()

# %% [markdown]
# At $\epsilon=3$ the most robust classifier here, {glue:text}`best_method_3`, keeps
# {glue:text}`best_pgd_3` of the test digits. At the paper's $\delta$ the bound allows
# {glue:text}`bound_sampled_3` (sampled constants) or {glue:text}`bound_gradient_3`
# (gradient-ascent constants): a gap of {glue:text}`gap_3` percentage points even against
# the smaller bound; the paper's Table 3 shows {glue:text}`paper_gap_3` points. At
# $\epsilon=1$ the gap is {glue:text}`gap_1` points ({glue:text}`best_pgd_1` against
# {glue:text}`bound_sampled_1`; the paper: {glue:text}`paper_gap_1`). $\delta$ adds to
# the bound, and the paper's needs {glue:text}`paper_delta_samples` latents per class
# behind each constant; at the $\delta={}${glue:text}`delta_supported` that this profile's
# {glue:text}`delta_samples` support, the bound is {glue:text}`bound_supported_3` at
# $\epsilon=3${glue:text}`supported_verdict`. Both sides belong to
# the {glue:text}`profile_name` profile: its generator's constants and its classifiers,
# which train far shorter than Table 4's, so the classifiers' side of this gap is what a
# short run reaches, not what the paper's runs reached. Every bound here respects
# Theorem 4.3's hypothesis, and the stronger gradient estimate of the Lipschitz constant
# only raises it. A gap says that either better robust classifiers exist for this
# distribution, or the bound is loose (the Lipschitz relaxation of Theorem 4.3 is where it
# can lose); [Chapter 5](05_in_distribution) measures how far an attack that stays on the
# generator's manifold gets, and uses Remark 4.6 to test the bound itself.

# %% [markdown]
# ## How strong is the evaluation?
#
# The paper's PGD had no random start and judged only the last iterate ([defect 5](09_departures)): an
# example misclassified at some step but not at the last counted as robust. On the same
# models and the first {glue:text}`strength_count` evaluated digits, the table compares
# that evaluation with `pgd_l2` as the chapter ran it, with {glue:text}`restarts_text`
# random restarts tiled into the batch, and, as an independent check, the APGD attack
# with the $\ell_2$ norm of the `torchattacks` package.

# %% tags=["hide-input"]
try:
    import torchattacks
except ImportError:  # a development-only dependency: `pip install --no-deps torchattacks==3.5.1`
    torchattacks = None
check_value("strength_size", strength_size, low=1, integer=True, optional=True)
n_strength = n_eval if strength_size is None else min(strength_size, n_eval)
x_strength, y_strength = x_eval[:n_strength], y_eval[:n_strength]
compare = []
for method, name in METHODS.items():
    model = models[method, 0]
    for e in EPSILONS:
        step_size, _ = paper.TABLE5_PGD[e]
        common = dict(eps=e, step_size=step_size, steps=pgd_steps, seed=seed)
        row = {"method": name, "eps": e,
               "original (no start, last iterate)": robust_accuracy(model, x_strength, y_strength,
                                                                    random_start=False, best_iterate=False, **common),
               "pgd_l2": robust_accuracy(model, x_strength, y_strength, **common),
               "pgd_l2, restarts": robust_accuracy(model, x_strength, y_strength, restarts=restarts, **common)}
        if torchattacks is not None:
            apgd = torchattacks.APGD(model, norm="L2", eps=e, steps=pgd_steps, seed=seed)
            x_apgd = torch.cat([apgd(x_strength[i : i + 256].to(DEVICE),
                                     y_strength[i : i + 256].to(DEVICE)).cpu() for i in range(0, n_strength, 256)])
            with torch.inference_mode():
                row["APGD-L2 (torchattacks)"] = float((model(x_apgd.to(DEVICE)).argmax(1).cpu() == y_strength)
                                                      .float().mean())
        compare.append(row)
compare = pd.DataFrame(compare)
attack_cols = [c for c in compare.columns if c not in ("method", "eps")]
compare["strongest"] = compare[attack_cols].min(axis=1)
# What the original's two omissions (random start, best iterate) change, with everything else equal:
overstated = compare["original (no start, last iterate)"] - compare["pgd_l2"]
glue("overstated_max", f"{100 * float(overstated.max()):.1f} points", display=False)
glue("overstated_where", f"{compare.loc[overstated.idxmax(), 'method']} at ε = "
     f"{compare.loc[overstated.idxmax(), 'eps']:g}", display=False)
glue("understated_max", f"{100 * float(max(0.0, -overstated.min())):.1f} points", display=False)
glue("one_digit", f"{100 / n_strength:.1f} points", display=False)
excess = compare["pgd_l2"] - compare["strongest"]
glue("pgd_vs_strongest", f"{100 * float(excess.max()):.1f} points", display=False)
glue("omissions_verdict", "less than" if overstated.max() < excess.max() else "at least as much as", display=False)
glue("pgd_vs_strongest_where", f"{compare.loc[excess.idxmax(), 'method']} at ε = {compare.loc[excess.idxmax(), 'eps']:g}",
     display=False)
glue("strength_text", "so on these digits `pgd_l2` is not a weak attack" if excess.max() <= 0.01 else
     "so on these digits `pgd_l2`'s robust accuracies are upper estimates, too high by up to that much, and Table "
     "3's rows above, from the same attack on more digits, likely so too (the paper profile attacks with Table 5's "
     "number of steps)", display=False)
glue("restarts_text", str(restarts), display=False)
glue("strength_count", f"{n_strength:,}", display=False)
write_table(compare, "pgd_evaluations_mnist", RUN,
            extra={"digits": n_strength, "pgd_steps": pgd_steps, "restarts": restarts})
(compare.set_index(["method", "eps"]) * 100).round(1)

# %% [markdown]
# With the same steps, the original evaluation's missing random start and last-iterate
# judgement change robust accuracy by at most {glue:text}`overstated_max` upwards
# ({glue:text}`overstated_where`) and {glue:text}`understated_max` downwards against
# `pgd_l2`, on {glue:text}`strength_count` digits, where one digit is
# {glue:text}`one_digit`: {glue:text}`omissions_verdict` the difference between attacks.
# The chapter's own `pgd_l2`, at {glue:text}`pgd_steps_text` steps,
# leaves up to {glue:text}`pgd_vs_strongest` more than the strongest attack
# ({glue:text}`pgd_vs_strongest_where`) on the {glue:text}`strength_count` digits compared,
# {glue:text}`strength_text`.

# %% [markdown]
# ## ImageNet10
#
# Without the BigGAN weights (Chapter 2), the ImageNet10 rows cannot be reproduced here.
# The cell below runs Adv-Train for one epoch on the labelled pipeline-check data of a
# randomly initialised BigGAN: it exercises the ImageNet10 network, training and attack
# end to end, and its numbers are **not** ImageNet results.

# %% tags=["nbval-ignore-output"]
# Ignored by nbval: the randomly initialised BigGAN's images differ in their last digits between runs.
image = imagenet10_model(TRAINING, "adv", seed, imagenet10_sizes, RUN, random_width=biggan_random_width,
                         device=DEVICE)
image_rows = evaluate_robustness(image.model.to(DEVICE), image.test.x, image.test.y, eps_values=EPSILONS,
                                 pgd_steps=pgd_steps, seed=seed)
assert image_rows["value"].between(0, 1).all()
print(("PIPELINE CHECK, not ImageNet: " if image.pipeline_check else "") + image.source.description)
image_rows
