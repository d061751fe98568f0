# %% [markdown]
# A small notebook for the sweep tests: it glues numbers, writes a result table and, when
# asked, waits, fails, or builds a shared cached artifact.

# %% tags=["parameters"]
profile = "quick"
x = 1.0
seed = 0
label = "a"
wait = 0.0
fail = False
shared_build = ""

# %%
import time
from pathlib import Path

import pandas as pd
from myst_nb import glue

from intrinsic_rob.pipeline.book import setup_chapter
from intrinsic_rob.pipeline.results import write_table

RUN = setup_chapter(profile)

time.sleep(wait)
if fail:
    raise RuntimeError(f"asked to fail at x={x}")
y = x * x + seed
glue("y", y, display=False)
glue("doubled", 2 * x, display=False)
glue("label_text", f"{label}-{seed}", display=False)
write_table(pd.DataFrame({"i": [0, 1], "value": [y, y + 1]}), "probe_values", RUN)

# %%
if shared_build:
    import torch

    from intrinsic_rob.core import artifacts

    folder = Path(shared_build)
    path = folder / "shared.safetensors"

    def build():
        with open(folder / "builds.txt", "a") as log:
            log.write(f"{seed}\n")
        time.sleep(2.0)
        tensors = {"w": torch.arange(4.0)}
        artifacts.save_tensors(path, tensors)
        return tensors

    got = artifacts.load_or_build(folder, lambda: artifacts.load_tensors(path), build)
    glue("shared_sum", float(got["w"].sum()), display=False)
