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
# # Appendix: performance
#
# Five computations carry the book's cost: Algorithm 1 evaluates the generator at every
# neighbour of every sampled latent, Table 3 runs PGD on every test digit for every
# model, robust training runs an attack inside every training step, Figure 2 runs an
# in-distribution attack per digit, and Chapter 6 counts half-spaces' measures on tens of
# thousands of fresh generated images. Most benchmarks below time the library's
# implementation against a straightforward one (and a third-party one where it exists)
# in the same run and report their ratio, so that the machine's own speed cancels out;
# the in-distribution attacks are compared by the distance they reach for a budget.
# The numbers are read from the runs recorded under `results/quick/` by the
# `intrinsic-rob bench` commands; run them again to measure another machine:
#
# ```bash
# intrinsic-rob bench lipschitz   # Algorithm 1: the estimator against a straightforward implementation
# intrinsic-rob bench attack      # PGD-L2: pgd_l2 against the obvious loop and torchattacks' PGDL2
# intrinsic-rob bench train       # Adv-Train: training examples per second
# intrinsic-rob bench sweep       # a small sweep, serially and on a LocalCluster
# intrinsic-rob bench in-dist     # in-distribution attacks: distance against budget
# intrinsic-rob bench concentration  # half-space estimate: generating images against fitting and counting
# ```
#
# **How the timings are taken.** Speed benchmarks interleave their implementations over
# several rounds and credit each with its best round: on a shared machine the best round
# is the one least disturbed by other work, and interleaving exposes every implementation
# to the same conditions. The thread count is fixed, and glibc's allocator thresholds are
# pinned first (`intrinsic_rob.core.devices.pin_allocator`): by default glibc hands large
# freed blocks back to the system, and whether a transposed convolution then page-faults
# its buffers depends on what ran before, which moved its throughput by up to a factor of
# two between otherwise identical runs. The recorded runs: {glue:text}`provenance`.

# %% tags=["parameters"]
profile = "quick"
seed = None

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from myst_nb import glue

from intrinsic_rob.bench.in_dist import plot_budgets
from intrinsic_rob.pipeline import findings
from intrinsic_rob.pipeline.book import setup_chapter
from intrinsic_rob.pipeline.profiles import resolve_parameters
from intrinsic_rob.pipeline.results import read_recorded_table

globals().update(resolve_parameters("10_performance", profile, globals()))
RUN = setup_chapter(profile, precision=2)
ROOT = RUN.root


def recorded(name: str) -> tuple[pd.DataFrame, dict]:
    """A recorded benchmark's table and its provenance (results/quick/bench_<name>)."""
    found = read_recorded_table(f"bench_{name}", "quick", ROOT)
    command = "in-dist" if name == "in_dist_budgets" else name
    assert found is not None, f"results/quick/bench_{name}.csv is missing: run `intrinsic-rob bench {command}`"
    return found


def times(value: float) -> str:
    return f"{value:.2f}×"


benches = {name: recorded(name) for name in ("lipschitz", "attack", "train", "sweep", "in_dist_budgets",
                                             "concentration")}
commits = sorted({meta["commit"][:7] for _, meta in benches.values()})
devices = sorted({meta["device"] for _, meta in benches.values()})
glue("provenance", f"{', '.join(devices)}, torch {benches['lipschitz'][1]['torch']}, "
     f"{benches['lipschitz'][1]['measurements']['threads']} threads, at commit{'s' if len(commits) > 1 else ''} "
     f"{', '.join(commits)}", display=False)

# %% [markdown]
# ## Local Lipschitz constants
#
# Algorithm 1 estimates each class's local Lipschitz constant from ratios
# $\|G(z', y) - G(z, y)\|_2 / \|z' - z\|_2$ over many neighbours $z'$ of each sampled
# latent $z$. The straightforward implementation takes one $z$ at a time and evaluates
# the generator at $z$ again for every neighbour. The estimator evaluates $G(z, y)$ once
# per latent and the neighbours in large batches, with batch norm folded into the
# weights (the dense forward pass). By default it goes one step further for generators
# that offer it, as the ACGAN does: in a ball of the paper's radius only a few of the
# first layer's units change sign between $z$ and a neighbour, so its ball evaluator
# applies the second layer to the offset and to the units that flip rather than to all of
# them, exactly (a test checks both paths against the straightforward implementation).
# Its arithmetic rate is then an effective one: the dense pass's operations divided by
# the estimator's time.
#
# The estimator computed {glue:text}`lip_estimator_rate` ratios per second,
# {glue:text}`lip_speedup` the straightforward implementation's, at an effective
# {glue:text}`lip_fraction` of the machine's matrix-product rate. The last row times the
# first transposed convolution alone, once per neighbour: the ball evaluator still runs
# that layer in full, so with everything else free the speed-up could not exceed
# {glue:text}`lip_ceiling`.

# %% tags=["hide-input"]
lip_table, lip_meta = benches["lipschitz"]
lip = lip_meta["measurements"]
glue("lip_estimator_rate", f"{lip['estimator_ratios_per_s']:,.0f}", display=False)
glue("lip_speedup", times(lip["speedup"]), display=False)
glue("lip_fraction", f"{lip['fraction_of_matmul']:.0%}", display=False)
glue("lip_ceiling", times(lip["ceiling_speedup"]), display=False)
fig, ax = plt.subplots(figsize=(7, 2.6))
ax.barh(lip_table["implementation"], lip_table["ratios_per_s"], color=["0.6", "C0", "C2", "0.8"])
ax.invert_yaxis()
ax.set_xlabel("neighbour ratios per second (higher is faster)")
ax.set_title(f"Algorithm 1 on the ACGAN: S = {lip['num_samples']}, N = {lip['num_neighbors']}, "
             f"best of {lip['rounds']} rounds")
plt.show()
pd.DataFrame({
    "implementation": lip_table["implementation"],
    "ratios/s": lip_table["ratios_per_s"].map("{:,.0f}".format),
    "speed-up": lip_table["speedup"].map(times),
    "GFLOP/s": lip_table["gflops"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}"),
    "of the matmul rate": lip_table["fraction_of_matmul"].map(lambda v: "" if pd.isna(v) else f"{v:.0%}"),
}).set_index("implementation")

# %% [markdown]
# ## PGD-L2
#
# Table 3's robust accuracy and Figure 2's unconstrained robustness come from PGD-L2
# (`intrinsic_rob.attacks.pgd_l2`). The benchmark times it against the obvious loop (one
# forward and backward pass per step, every row to the end) and against torchattacks'
# `PGDL2` on the seven-layer CNN trained briefly on the embedded digits, all with the
# same radius, step and number of steps, and compares the robust accuracy each leaves on
# held-out digits (lower is stronger). `pgd_l2` drops a row from the batch as soon as one
# of its iterates is misclassified, which keeps the best iterate and the result exact
# while the remaining steps run on fewer rows.
#
# At $\epsilon={}${glue:text}`attack_eps` with {glue:text}`attack_steps` steps,
# `pgd_l2` ran {glue:text}`attack_speedup_obvious` the obvious loop's steps per second
# and {glue:text}`attack_speedup_torchattacks` torchattacks'; the robust accuracy left was
# {glue:text}`attack_strength`, each the mean over {glue:text}`attack_seeds` seeds on the
# same {glue:text}`attack_examples` held-out digits (a binomial standard error of about
# {glue:text}`attack_se` points per seed).

# %% tags=["hide-input"]
attack_table, attack_meta = benches["attack"]
attack = attack_meta["measurements"]
glue("attack_eps", f"{attack['eps']:g}", display=False)
glue("attack_steps", str(attack["steps"]), display=False)
glue("attack_speedup_obvious", times(attack["speedup_over_obvious"]), display=False)
glue("attack_speedup_torchattacks", times(attack["speedup_over_torchattacks"])
     if attack["speedup_over_torchattacks"] else "(torchattacks was not installed)", display=False)
glue("attack_seeds", str(attack["strength_seeds"]), display=False)
glue("attack_examples", f"{attack['strength_examples']:,}", display=False)
worst_se = max(np.sqrt(p * (1 - p) / attack["strength_examples"]) for p in attack["robust_accuracy"].values())
glue("attack_se", f"{100 * worst_se:.1f}", display=False)
glue("attack_strength", ", ".join(f"{row.robust_accuracy:.1%} ({row.implementation})"
                                  for row in attack_table.itertuples()), display=False)
fig, axes = plt.subplots(1, 2, figsize=(7, 2.6), sharey=True)
axes[0].barh(attack_table["implementation"], attack_table["steps_per_s"], color="C0")
axes[0].set_xlabel("PGD steps per second")
axes[0].invert_yaxis()
axes[1].barh(attack_table["implementation"], 100 * attack_table["robust_accuracy"], color="C3")
axes[1].set_xlabel("robust accuracy left (%)")
fig.suptitle(f"batch {attack['batch']}, eps = {attack['eps']:g}, {attack['steps']} steps; strength on "
             f"{attack['strength_examples']} digits")
fig.tight_layout()
plt.show()
pd.DataFrame({
    "implementation": attack_table["implementation"],
    "steps/s": attack_table["steps_per_s"].map("{:.1f}".format),
    "against the obvious loop": (attack_table["steps_per_s"] / attack_table.set_index("implementation").loc[
        "obvious", "steps_per_s"]).map(times),
    "robust accuracy left": attack_table["robust_accuracy"].map("{:.2%}".format),
}).set_index("implementation")

# %% [markdown]
# ## Robust training and sweeps
#
# One epoch of Adv-Train on {glue:text}`train_examples` embedded digits with
# {glue:text}`train_inner` inner PGD steps took {glue:text}`train_seconds`:
# {glue:text}`train_rate` training examples per second, or {glue:text}`train_steps_rate`
# forward and backward passes of one example per second, against
# {glue:text}`obvious_example_steps` for the obvious PGD loop above, which also runs every
# example through every step (training adds the optimiser's step and the outer pass).
#
# A sweep runs each point in its own kernel with papermill, on Dask. Over
# {glue:text}`sweep_points` points of `examples/isoperimetry_sweep.py`, each point cost
# {glue:text}`sweep_serial_overhead` beyond its own work when run alone (papermill, the
# kernel's start and imports), and Dask added {glue:text}`sweep_dask_overhead` a point;
# {glue:text}`sweep_workers` workers ran the sweep {glue:text}`sweep_speedup` as fast as
# one point after another, after a cluster start of {glue:text}`sweep_start`.

# %% tags=["hide-input"]
train = benches["train"][1]["measurements"]
glue("train_examples", f"{train['examples']:,}", display=False)
glue("train_inner", str(train["inner_steps"]), display=False)
glue("train_seconds", f"{train['seconds']:.1f} s", display=False)
glue("train_rate", f"{train['examples_per_s']:.0f}", display=False)
glue("train_steps_rate", f"{train['example_steps_per_s']:,.0f}", display=False)
obvious_rate = attack_table.set_index("implementation").loc["obvious", "steps_per_s"]
glue("obvious_example_steps", f"{obvious_rate * attack['batch']:,.0f}", display=False)
sweep = benches["sweep"][1]["measurements"]
glue("sweep_points", str(sweep["points"]), display=False)
glue("sweep_workers", str(sweep["workers"]), display=False)
glue("sweep_serial_overhead", f"{sweep['serial_overhead']:.2f} s", display=False)
glue("sweep_dask_overhead", f"{sweep['dask_overhead']:+.2f} s", display=False)
glue("sweep_speedup", times(sweep["speedup"]), display=False)
glue("sweep_start", f"{sweep['cluster_start_seconds']:.1f} s", display=False)
pd.DataFrame([
    {"benchmark": "Adv-Train epoch", "seconds": train["seconds"],
     "rate": f"{train['examples_per_s']:.0f} examples/s"},
    {"benchmark": f"sweep, serial ({sweep['points']} points)", "seconds": sweep["serial_seconds"],
     "rate": f"{sweep['serial_seconds'] / sweep['points']:.2f} s a point"},
    {"benchmark": f"sweep, Dask ({sweep['workers']} workers)", "seconds": sweep["dask_seconds"],
     "rate": f"{sweep['dask_seconds'] / sweep['points']:.2f} s a point"},
]).set_index("benchmark")

# %% [markdown]
# ## In-distribution attacks
#
# Section 5.4's numbers are only as good as the attack that found the perturbations, so
# the in-distribution attacks are benchmarked as the field benchmarks minimum-norm
# attacks: by the median and mean distance each finds on the same
# {glue:text}`indist_examples` correctly classified generated digits, against the
# number of forward and backward passes per digit it may spend. At
# {glue:text}`indist_target_budget` passes the augmented Lagrangian's median distance was
# {glue:text}`indist_alm_median`, against {glue:text}`indist_baseline_median` for (5.2)
# under Appendix B.2's schedule at {glue:text}`indist_baseline_budget`. Chapter 5 shows
# the whole benchmark, its targets and the image-space cross-check
# ([the recorded benchmark](05_in_distribution)).

# %% tags=["hide-input"]
attack_bench = findings.attack_benchmark(ROOT, benches["in_dist_budgets"])
target = int(attack_bench["target_budget"])
baseline_budget = int(attack_bench["baseline_budget"])
glue("indist_examples", f"{attack_bench['examples']:.0f}", display=False)
glue("indist_target_budget", f"{target:,}", display=False)
glue("indist_baseline_budget", f"{baseline_budget:,}", display=False)
glue("indist_alm_median", f"{attack_bench[f'alm_{target}_median']:.3f}", display=False)
glue("indist_baseline_median", f"{attack_bench[f'baseline_{baseline_budget}_median']:.3f}", display=False)
fig, ax = plt.subplots(figsize=(7, 3.4))
plot_budgets(benches["in_dist_budgets"][0], ax=ax)
ax.set_title(f"{attack_bench['examples']:.0f} generated test digits, the quick profile's TRADES model")
plt.show()

# %% [markdown]
# ## Intrinsic robustness from below
#
# Chapter 6's half-spaces cost generated images: {glue:text}`conc_images` of them for
# {glue:text}`conc_halfspaces` half-spaces (`intrinsic-rob bench concentration`, on the
# ACGAN generator). Drawing the images alone, the baseline, took
# {glue:text}`conc_generation` ({glue:text}`conc_rate` images a second); the whole estimate
# took {glue:text}`conc_total`, {glue:text}`conc_ratio` the baseline, so generation is
# {glue:text}`conc_share` of it and fitting the directions and counting the expansions
# the rest. Further values of $\alpha$ share the images and add only fitting.

# %% tags=["hide-input"]
conc = benches["concentration"][1]["measurements"]
glue("conc_images", f"{conc['n_fit'] + conc['n_eval']:,}", display=False)
glue("conc_halfspaces", str(conc["halfspaces"]), display=False)
glue("conc_generation", f"{conc['generation_seconds']:.1f} s", display=False)
glue("conc_rate", f"{conc['images_per_s']:,.0f}", display=False)
glue("conc_total", f"{conc['estimate_seconds']:.1f} s", display=False)
glue("conc_ratio", times(conc["estimate_seconds"] / conc["generation_seconds"]), display=False)
glue("conc_share", f"{conc['generation_share']:.0%}", display=False)
pd.DataFrame([{"part": "generating the images (baseline)", "seconds": conc["generation_seconds"]},
              {"part": "fitting and counting", "seconds": conc["other_seconds"]},
              {"part": "the whole estimate", "seconds": conc["estimate_seconds"]}]).set_index("part")
