"""The README's findings quote numbers the book computed: recompute each from the recorded
results (and the paper's printed values) and check the README says it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from intrinsic_rob import bounds, paper

ROOT = Path(__file__).resolve().parents[1]
MNIST = paper.TABLE3_SETTINGS[0]


def findings() -> str:
    text = (ROOT / "README.md").read_text()
    return text[text.index("## Findings so far"):text.index("## Layout")]


def _table3(lip, r, eps=3.0) -> float:
    return 100 * float(bounds.robustness_bound(MNIST.alpha, eps, lip, radius=r, delta=MNIST.delta,
                                               per_class_risk=True))


def _recorded(name: str) -> pd.DataFrame:
    return pd.read_csv(ROOT / "results" / "paper" / f"{name}.csv")


def expected() -> dict[str, str]:
    out = {}
    out["floor"] = f"{_table3(1e-9, 0.5):.2f}%"
    # the radius lever on the quick generator
    lever = pd.read_csv(ROOT / "results" / "quick" / "bound_by_radius_mnist.csv")
    best = lever.loc[lever.groupby(["method", "eps"])["bound (%)"].idxmin()].set_index(["method", "eps"])
    for method in ("gradient", "sample"):
        row = best.loc[(method, 3.0)]
        out[f"lever_{method}"] = f"{row['bound (%)']:.1f}% with {'gradient-ascent' if method == 'gradient' else 'sampled'}"
        out[f"lever_{method}_r"] = f"(at r = {row['r']:g})"
    # the recorded paper-profile run
    means = {m: _recorded(f"lipschitz_mnist_{m}").groupby("class")["value"].mean() for m in ("sample", "gradient")}
    halved = np.array([paper.TABLE1_MNIST_LIPSCHITZ[f"digit {k}"][0] / 2 for k in range(10)])
    above = means["sample"].to_numpy() / halved - 1
    out["above"] = f"{100 * above.min():.0f}–{100 * above.max():.0f}%"
    out["above_mean"] = f"mean +{100 * above.mean():.0f}%"
    out["corr"] = f"correlation {np.corrcoef(means['sample'], halved)[0, 1]:.2f}"
    ratio = means["gradient"] / means["sample"]
    out["ratio"] = f"{ratio.min():.1f}–{ratio.max():.1f}×"
    out["rec_sample"] = f"{_table3(means['sample'].max(), 0.5):.2f}% with the sampled"
    out["rec_rl"] = f"r·L = {0.5 * means['sample'].max():.2f} < 3"
    out["rec_gradient"] = f"{_table3(means['gradient'].max(), 0.5):.2f}%"
    # recognisability
    for profile, key in (("quick", "quick"), ("paper", "paper")):
        meta = json.loads((ROOT / "results" / profile / "mnist_generated_recognisability.json").read_text())
        cnn = next(j for j in meta["judges"] if j["judge"] == "CNN")
        out[f"recog_{key}"] = f"{100 * cnn['generated, overall']:.1f}%"
        out[f"recog_{key}_worst"] = f"{cnn['worst class']}, {100 * cnn['generated, worst class']:.1f}%"
    out["steps"] = f"{paper.ACGAN_EPOCHS * math.ceil(paper.REAL_MNIST_TRAIN_SIZE / paper.ACGAN_BATCH_SIZE):,}"
    # unconditional
    u = {m: _recorded(f"lipschitz_mnist_unconditional_{m}")["value"].mean() for m in ("sample", "gradient")}
    out["u_sample"] = f"{u['sample'] / means['sample'].max():.2f} with sampling"
    out["u_gradient"] = f"{u['gradient'] / means['gradient'].max():.2f} with gradient"
    out["u_paper"] = f"{paper.UNCONDITIONAL_MNIST_LIPSCHITZ / 11.0:.2f}"
    # chapter 1
    imagenet = paper.TABLE3_SETTINGS[1]
    out["t3"] = f"{100 * float(bounds.robustness_bound(imagenet.alpha, 3.0, imagenet.lipschitz_means, radius=0.5, delta=imagenet.delta, per_class_risk=True)):.2f}%"
    out["remark"] = f"{100 * float(bounds.robustness_bound(0.05, 1.0, 1.0, radius=None, per_class_risk=True)):.2f}%"
    out["fawzi"] = f"ε ≤ {bounds.fawzi_vacuous_radius(paper.UNCONDITIONAL_MNIST_LIPSCHITZ):.2f}"
    out["fawzi01"] = f"ε ≤ {bounds.fawzi_vacuous_radius(paper.UNCONDITIONAL_MNIST_LIPSCHITZ / 2):.2f}"
    return out


@pytest.mark.parametrize("key", sorted(expected()))
def test_readme_finding_is_the_computed_value(key):
    assert expected()[key] in findings(), f"README findings should say {expected()[key]!r} ({key})"
