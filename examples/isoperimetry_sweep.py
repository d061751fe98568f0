# %% [markdown]
# # Lemma 4.2 on one Gaussian set: a notebook to sweep
#
# The Gaussian isoperimetric inequality (the paper's Lemma 4.2) says that a set of
# Gaussian measure m grows, when every point within distance r is added, to measure at
# least Φ(Φ⁻¹(m) + r), with equality for half-spaces. This notebook estimates the
# grown measure of one set by Monte Carlo and compares it with the inequality's
# bound. Every parameter in the next cell can be swept, for example
#
#     intrinsic-rob sweep examples/isoperimetry_sweep.py --grid kind=half-space,ball \
#         --grid r=0.25,0.5,1 --grid seed=0,1,2 --repeat seed
#
# and each point's glued numbers become a row of the sweep's `collected.csv`.

# %% tags=["parameters"]
profile = "quick"
kind = "ball"
measure = 0.05
r = 0.5
d = 10
samples = 200_000
seed = 0

# %%
import time

import numpy as np
import pandas as pd
from myst_nb import glue
from scipy.stats import norm

from intrinsic_rob.pipeline.book import setup_chapter
from intrinsic_rob.pipeline.results import write_table
from intrinsic_rob.theory.isoperimetry import monte_carlo_expansion, with_measure

RUN = setup_chapter(profile)  # where this run writes: results/ of its folder, or the folder a sweep gives it

start = time.perf_counter()
gset = with_measure(kind, measure, d)
mc = monte_carlo_expansion(gset, d, r, samples, np.random.default_rng(seed))
bound = float(norm.cdf(norm.ppf(measure) + r))
exact = float(gset.expansion_measure(d, r))
seconds = time.perf_counter() - start

glue("estimate", mc.estimate, display=False)
glue("ci_low", mc.low, display=False)
glue("ci_high", mc.high, display=False)
glue("exact", exact, display=False)
glue("isoperimetric_bound", bound, display=False)
glue("bound_holds", bool(mc.high >= bound), display=False)
glue("compute_seconds", seconds, display=False)
write_table(pd.DataFrame([{"kind": kind, "measure": measure, "r": r, "d": d, "estimate": mc.estimate,
                           "low": mc.low, "high": mc.high, "exact": exact, "bound": bound}]),
            "isoperimetry_point", RUN)
print(f"{kind}: grown measure {mc.estimate:.4f} [{mc.low:.4f}, {mc.high:.4f}] (exact {exact:.4f}); "
      f"Lemma 4.2's bound {bound:.4f}")
