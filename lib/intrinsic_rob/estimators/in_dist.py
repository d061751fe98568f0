"""Section 5.4's measurements of trained classifiers, and Remark 4.6 as a test of the bound.

Figure 2 plots, for the models saved during robust training, their risk alpha against
their unconstrained robustness (PGD-L2, :func:`intrinsic_rob.attacks.pgd_l2`) and their
in-distribution robustness (:func:`intrinsic_rob.attacks.in_distribution_attack`) at each
eps, with Theorem 4.4's bound on Rob(F_alpha) as a curve over alpha.

Remark 4.6 makes the in-distribution robustness of any classifier of risk at least alpha
a lower bound on the intrinsic robustness Rob(F_alpha), which Theorem 4.4 bounds from
above. So a classifier whose in-distribution robustness exceeds the bound at its own risk
contradicts the bound. :func:`remark46_test` weighs each point by what it is: a
*measured* robustness is an upper estimate (an attack can miss adversarial examples), so a
measured point above the curve is evidence against the bound or against the attack; a
*certified* robust accuracy (LP-Certify's exact l2 certificate) is a proven lower bound on
image-space, hence in-distribution, robustness, so a certified point above the curve, by
more than the sampling error of a finite test set, proves the bound invalid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn as nn
from scipy.stats import beta as beta_distribution

from intrinsic_rob import paper
from intrinsic_rob.attacks import (
    InDistributionResult,
    in_distribution_attack,
    in_distribution_robustness,
    latent_min_norm_attack,
    robust_outcomes,
)
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.core.progress import progress_bar
from intrinsic_rob.core.validation import Checked, bounded, check_value

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd


#: The in-distribution attacks a setting can name: the augmented Lagrangian in latent space
#: (the default; built to converge) and (5.2) with Appendix B.2's schedule (the paper's).
IN_DIST_METHODS: Mapping[str, str] = {
    "alm": "augmented Lagrangian in latent space (latent_min_norm_attack)",
    "cw": "(5.2) with Appendix B.2's schedule (in_distribution_attack)",
}


@dataclass(frozen=True)
class InDistSettings(Checked):
    """The in-distribution attack's settings.

    ``method`` picks the attack (:data:`IN_DIST_METHODS`): ``"alm"``,
    :func:`~intrinsic_rob.attacks.latent_min_norm_attack` with ``budget`` propagations per
    example, or ``"cw"``, :func:`~intrinsic_rob.attacks.in_distribution_attack` with
    ``search_steps`` rounds of at most ``max_iterations`` Adam steps at rate ``lr`` from
    ``lambda_init`` (Appendix B.2). Both start from the latents fitted with ``fit_steps``
    and ``fit_restarts``.

    Example:
        >>> InDistSettings(max_iterations=500).search_steps
        5
        >>> InDistSettings(method="pgd")
        Traceback (most recent call last):
        ...
        intrinsic_rob.core.errors.InputError: method must be one of alm, cw, got 'pgd'
    """

    method: str = "alm"
    budget: int = bounded(1000, low=1, integer=True)
    lr: float = bounded(0.01, low=0, low_open=True)
    search_steps: int = bounded(5, low=1, integer=True)
    max_iterations: int = bounded(10000, low=1, integer=True)
    lambda_init: float = bounded(1.0, low=0, low_open=True)
    fit_steps: int = bounded(1000, low=1, integer=True)
    fit_restarts: int = bounded(3, low=1, integer=True)
    loss: str = "cw"
    early_stop: bool = True

    def __post_init__(self) -> None:
        if self.method not in IN_DIST_METHODS:
            raise InputError(f"method must be one of {', '.join(IN_DIST_METHODS)}, got {self.method!r}")
        super().__post_init__()

    def attack_kwargs(self) -> dict:
        """Keyword arguments of the chosen attack for these settings (the latent start aside)."""
        if self.method == "alm":
            return dict(budget=self.budget)
        return dict(lr=self.lr, search_steps=self.search_steps, max_iterations=self.max_iterations,
                    lambda_init=self.lambda_init, fit_steps=self.fit_steps, fit_restarts=self.fit_restarts,
                    loss=self.loss, early_stop=self.early_stop)

    def describe(self) -> dict:
        """The settings that decide the attack's result, for provenance (``method`` first)."""
        return {"method": self.method, **self.attack_kwargs()}

    def attack(self) -> Callable[..., InDistributionResult]:
        """The attack function ``method`` names."""
        return latent_min_norm_attack if self.method == "alm" else in_distribution_attack


def attack_in_batches(
    generator: nn.Module,
    classifier: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    z_init: torch.Tensor,
    settings: InDistSettings,
    *,
    batch_size: int = 256,
    seed: int = 0,
    progress: bool = False,
) -> InDistributionResult:
    """The attack ``settings`` name over (x, y) in batches of ``batch_size``, results on the CPU.

    Only one batch is on the device at a time. ``z_init`` (N, z_dim) are the initial
    latents (the recorded z* or :func:`~intrinsic_rob.attacks.fit_latent`'s). Since the
    search is per example, the result does not depend on the batch size (up to floating
    point).
    """
    check_value("batch_size", batch_size, low=1, integer=True)
    if z_init.shape[0] != x.shape[0]:
        raise InputError(f"z_init must hold one latent per image ({x.shape[0]}), got {z_init.shape[0]}")
    parts, attack = [], settings.attack()
    starts = range(0, x.shape[0], batch_size)
    for k, start in enumerate(progress_bar(starts, desc="in-distribution attack", enabled=progress, unit="batch")):
        part = slice(start, start + batch_size)
        parts.append(attack(generator, classifier, x[part], y[part], z_init=z_init[part], seed=seed + k,
                            **settings.attack_kwargs()))
    return InDistributionResult(
        distance=torch.cat([p.distance.cpu() for p in parts]), z=torch.cat([p.z.cpu() for p in parts]),
        x_adv=torch.cat([p.x_adv.cpu() for p in parts]), evaluations=sum(p.evaluations for p in parts),
        lam=torch.cat([p.lam.cpu() for p in parts]))


def fitted_latents(generator: nn.Module, x: torch.Tensor, y: torch.Tensor, settings: InDistSettings, *,
                   seed: int, description: str, group: str, artifacts: "Path | None" = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`~intrinsic_rob.attacks.fit_latent` for (x, y), solved once and cached.

    Appendix B.2's MNIST start does not depend on the classifier, so every model of a
    chapter, and every point of a sweep, shares it. The cache key is the generator's
    ``description`` (its own cache key), the sha256 of (x, y), the fit's settings and
    ``seed`` (:mod:`intrinsic_rob.core.artifacts`: written atomically, checked on load, built once
    when several processes ask at once).

    Returns:
        (z, distance) on the generator's device: (N, z_dim) latents and (N,) distances.
    """
    from intrinsic_rob.attacks import fit_latent
    from intrinsic_rob.core.artifacts import artifact_dir, load_or_build, load_tensors, save_tensors
    from intrinsic_rob.core.devices import device_of
    from intrinsic_rob.pipeline.results import tensors_digest

    config = {"generator": description, "data_sha256": tensors_digest({"x": x, "y": y}),
              "steps": settings.fit_steps, "restarts": settings.fit_restarts, "lr": settings.lr, "seed": seed}
    folder = artifact_dir("latent-fit", config, group, artifacts)
    path = folder / "latents.safetensors"
    device = device_of(generator)

    def load():
        found = load_tensors(path)
        return None if found is None else (found["z"].to(device), found["distance"].to(device))

    def build():
        z, distance = fit_latent(generator, x.to(device), y.to(device), steps=settings.fit_steps,
                                 restarts=settings.fit_restarts, lr=settings.lr, seed=seed)
        save_tensors(path, {"z": z.detach().cpu(), "distance": distance.detach().cpu()})
        return z, distance

    return load_or_build(folder, load, build)


def measure_model(
    generator: nn.Module,
    classifier: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    z_init: torch.Tensor,
    *,
    eps_values: Sequence[float],
    pgd_steps: int,
    settings: InDistSettings,
    seed: int = 0,
    batch_size: int = 256,
    progress: bool = False,
) -> tuple["pd.DataFrame", InDistributionResult, "pd.DataFrame"]:
    """One model's point of Figure 2 at each eps: risk, unconstrained and in-distribution robustness.

    The risk is the fraction of (x, y) misclassified; the unconstrained robustness the
    fraction still correct under :func:`~intrinsic_rob.attacks.pgd_l2` with Table 5's step
    for eps and ``pgd_steps`` steps; the in-distribution robustness the fraction with no
    in-distribution adversarial example within eps (:func:`attack_in_batches`, which runs
    once for all eps: it finds each example's minimal perturbation).

    Returns:
        (frame with columns eps, risk, unconstrained, in_distribution; the attack's result;
        the outcomes digit by digit, columns digit, eps, unconstrained, in_distribution
        (bool: robust under each attack), for :func:`paired_test`).
    """
    import pandas as pd

    from intrinsic_rob.estimators.certify import natural_accuracy

    risk = 1.0 - natural_accuracy(classifier, x, y)
    result = attack_in_batches(generator, classifier, x, y, z_init, settings, batch_size=batch_size, seed=seed,
                               progress=progress)
    rows, outcomes = [], []
    n = x.shape[0]
    for eps in eps_values:
        step_size = paper.table5_step_size(eps)
        robust = robust_outcomes(classifier, x, y, eps=float(eps), step_size=step_size, steps=pgd_steps, seed=seed,
                                 batch_size=batch_size).numpy()
        in_dist = (result.distance > float(eps)).cpu().numpy()
        rows.append({"eps": float(eps), "risk": risk, "unconstrained": 1.0 - int((~robust).sum()) / n,
                     "in_distribution": in_distribution_robustness(result, float(eps))})
        outcomes.append(pd.DataFrame({"digit": np.arange(n), "eps": float(eps), "unconstrained": robust,
                                      "in_distribution": in_dist}))
    return pd.DataFrame(rows), result, pd.concat(outcomes, ignore_index=True)


def paired_test(outcomes: "pd.DataFrame", *, by: Sequence[str] = ("eps",), confidence: float = 0.95,
                bonferroni: bool = True) -> "pd.DataFrame":
    """Section 5.4's claim, in-distribution robustness above unconstrained, tested digit by digit.

    Both attacks ran on the same digits, so the comparison is paired (McNemar's): only
    the digits on which they disagree carry information. With b digits robust in
    distribution but fooled by PGD and c the other way round, the difference of the two
    robustnesses is (b - c) / n; given b + c discordant digits, b is Binomial(b + c, p)
    with p = 1/2 when the two robustnesses are equal. The interval for the difference is
    the exact (Clopper-Pearson) interval for p mapped through (b + c)(2p - 1) / n, and the
    p-value McNemar's exact two-sided one. With ``bonferroni`` the level is
    1 - (1 - confidence) / m over the m groups tested.

    Args:
        outcomes: one row per digit and group, with columns ``by`` and the bools
            ``unconstrained`` and ``in_distribution`` (robust under each attack), as
            :func:`measure_model` returns (plus any columns naming the model).
        by: the columns that name a group (a model and an eps).

    Returns:
        One row per group: the ``by`` columns, n, unconstrained, in_distribution,
        only_in_distribution (b), only_unconstrained (c), difference, low, high, p_value,
        level, verdict ("in-distribution higher", "unconstrained higher" or "no
        difference": whether the interval excludes 0).

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"eps": 1.0, "unconstrained": [False] * 30 + [True] * 70,
        ...                       "in_distribution": [True] * 100})
        >>> row = paired_test(frame).iloc[0]
        >>> int(row.only_in_distribution), int(row.only_unconstrained), float(row.difference), row.verdict
        (30, 0, 0.3, 'in-distribution higher')
    """
    import pandas as pd
    from scipy.stats import binomtest

    by = list(by)
    missing = [c for c in (*by, "unconstrained", "in_distribution") if c not in outcomes.columns]
    if missing:
        raise InputError(f"outcomes must have the column {missing[0]!r} (has: {', '.join(map(str, outcomes.columns))})")
    if outcomes.empty:
        raise InputError("outcomes holds no digits")
    check_value("confidence", confidence, low=0, high=1, low_open=True, high_open=True)
    groups = list(outcomes.groupby(by, sort=False))
    level = 1.0 - (1.0 - confidence) / len(groups) if bonferroni else confidence
    rows = []
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        pgd, ind = group["unconstrained"].to_numpy(bool), group["in_distribution"].to_numpy(bool)
        n, b, c = len(group), int((ind & ~pgd).sum()), int((pgd & ~ind).sum())
        if b + c == 0:
            low = high = 0.0
            p_value = 1.0
        else:
            p_low, p_high = clopper_pearson(b, b + c, level)
            low, high = (b + c) * (2 * p_low - 1) / n, (b + c) * (2 * p_high - 1) / n
            p_value = float(binomtest(b, b + c, 0.5).pvalue)
        verdict = ("in-distribution higher" if low > 0 else "unconstrained higher" if high < 0 else "no difference")
        rows.append({**dict(zip(by, key)), "n": n, "unconstrained": float(pgd.mean()),
                     "in_distribution": float(ind.mean()), "only_in_distribution": b, "only_unconstrained": c,
                     "difference": (b - c) / n, "low": low, "high": high, "p_value": p_value, "level": level,
                     "verdict": verdict})
    return pd.DataFrame(rows)


def clopper_pearson(successes: int, n: int, confidence: float) -> tuple[float, float]:
    """The two-sided Clopper-Pearson interval for a binomial proportion at ``confidence``.

    Example:
        >>> low, high = clopper_pearson(50, 100, 0.95)
        >>> round(low, 3), round(high, 3)
        (0.398, 0.602)
        >>> clopper_pearson(0, 10, 0.95)[0]
        0.0
    """
    check_value("n", n, low=1, integer=True)
    check_value("successes", successes, low=0, high=n, integer=True)
    check_value("confidence", confidence, low=0, high=1, low_open=True, high_open=True)
    tail = (1.0 - confidence) / 2.0
    low = 0.0 if successes == 0 else float(beta_distribution.ppf(tail, successes, n - successes + 1))
    high = 1.0 if successes == n else float(beta_distribution.ppf(1.0 - tail, successes + 1, n - successes))
    return low, high


#: A bound curve: (alpha, eps) -> Theorem 4.4's upper bound on Rob(F_alpha).
BoundCurve = Callable[[float, float], float]


def bound_curve(lipschitz: np.ndarray | float, *, radius: float | None, delta: float,
                class_probs: np.ndarray, per_class_risk: bool = False) -> BoundCurve:
    """Theorem 4.4's bound on Rob^eps(F_alpha) as a function of (alpha, eps), for any alpha.

    Solves (A.4) exactly (:func:`~intrinsic_rob.theory.bounds.robustness_bound_a4`), so alpha may
    exceed min p_i (a short run's models have large risks). With ``radius`` the constants
    are local, L(r), and eps / L is capped at r (Theorem 4.3's hypothesis); ``radius=None``
    treats them as global constants, with no cap (the paper's reading). ``class_probs``
    (p_i, shape (K,)) is required: with a single L_max and no probabilities the
    distribution would read as one class, whose bound is far lower. At alpha = 0 the
    bound is vacuous (1 + delta). With ``per_class_risk`` the curve is Theorem 4.4's bound on
    Rob(F~_alpha), the classifiers of per-class risk at least alpha (alpha < 1).

    Example:
        >>> curve = bound_curve([7.9, 11.0], radius=0.5, delta=0.001, class_probs=np.array([0.5, 0.5]))
        >>> 0.0 < curve(0.1, 2.0) < curve(0.05, 2.0) < 1.0
        True
    """
    from intrinsic_rob.theory.bounds import robustness_bound, robustness_bound_a4

    def curve(alpha: float, eps: float) -> float:
        if alpha <= 0.0:
            return 1.0 + delta
        alpha = min(float(alpha), 1.0 - 1e-12)
        if per_class_risk:
            return float(robustness_bound(alpha, float(eps), lipschitz, radius=radius, delta=delta,
                                          class_probs=class_probs, per_class_risk=True).value)
        return float(robustness_bound_a4(alpha, float(eps), lipschitz, radius=radius, delta=delta,
                                         class_probs=class_probs))

    return curve


@dataclass(frozen=True)
class GeneratorBound:
    """Theorem 4.4's bound for one Lipschitz estimate of a generator: L_max at the radius, the delta its sample
    of latents supports, and the bound's curve (capped at the radius: Theorem 4.3's hypothesis)."""

    estimate: str
    lmax: float
    radius: float
    delta: float
    curve: BoundCurve


def generator_bounds(table: "pd.DataFrame", radius: float, class_probs: np.ndarray, confidence: float = 0.95,
                     per_class_risk: bool = False) -> dict[str, GeneratorBound]:
    """Theorem 4.4's bound per Lipschitz estimate (method) in ``table``: rows of
    :func:`~intrinsic_rob.estimators.lipschitz.lipschitz_table` at several radii, ``radius`` among them.

    L_max is :func:`~intrinsic_rob.estimators.lipschitz.lmax_at_radius`'s, delta the one its
    latents support at ``confidence`` (:func:`~intrinsic_rob.estimators.lipschitz.supported_delta_at_radius`);
    ``per_class_risk``: the bound on Rob(F~_alpha) (:func:`bound_curve`).

    Example:
        >>> import pandas as pd
        >>> t = pd.DataFrame({"method": "sample", "class": [0, 1], "radius": 0.5, "value": [3.0, 4.0],
        ...                   "num_samples": 1000, "delta": 0.001})
        >>> b = generator_bounds(t, 0.5, np.array([0.5, 0.5]))["sample"]
        >>> b.lmax, round(b.delta, 4), 0 < b.curve(0.015, 1.0) < 1  # one latent a class above its percentile
        (4.0, 0.0047, True)
    """
    from intrinsic_rob.estimators.lipschitz import lmax_at_radius, supported_delta_at_radius

    lmax, deltas = lmax_at_radius(table, radius), supported_delta_at_radius(table, radius, confidence)
    out = {}
    for estimate, value in lmax.items():
        delta = deltas[estimate]
        out[estimate] = GeneratorBound(estimate, value, radius, delta,
                                       bound_curve(value, radius=radius, delta=delta, class_probs=class_probs,
                                                   per_class_risk=per_class_risk))
    return out


#: What a point above a bound curve (beyond the sampling error) means, by kind of point; and one that is not.
VERDICTS = {
    "certified": "proves the bound invalid",
    "measured": "above the bound: evidence against the bound or against the attack",
}
NOT_ABOVE = "not above the bound beyond the sampling error"
#: A classifier no better than chance lies on the bound's curve by construction (a constant
#: classifier is the tight corner of (A.4)): its point is reported, never counted.
AT_CHANCE = "at chance: on the curve by construction, not counted"


def figure2_points(figure2: "pd.DataFrame", names: Mapping[str, str], *, attacked: int,
                   certified_on: int) -> "pd.DataFrame":
    """Figure 2's measurements as :func:`remark46_test`'s points: each kept model's in-distribution robustness
    ("measured", on ``attacked`` digits) and, for LP-Certify's models, its certified robust accuracy
    ("certified", on the first ``certified_on`` of them), at its risk.

    ``figure2`` has one row per model and eps (columns method, epoch, eps, risk, in_distribution,
    certified); ``names`` maps a method to the name in the labels.

    Example:
        >>> import pandas as pd
        >>> f = pd.DataFrame({"method": ["lp"], "epoch": [5], "eps": [1.0], "risk": [0.1],
        ...                   "in_distribution": [0.8], "certified": [0.5]})
        >>> pts = figure2_points(f, {"lp": "LP-Certify"}, attacked=400, certified_on=100)
        >>> pts["kind"].tolist(), pts["value_n"].tolist(), pts["label"].iloc[0]
        (['measured', 'certified'], [400, 100], 'LP-Certify, epoch 5')
    """
    import pandas as pd

    rows = []
    for row in figure2.itertuples(index=False):
        label = f"{names[row.method]}, epoch {row.epoch}"
        rows.append({"label": label, "eps": row.eps, "kind": "measured", "risk": row.risk, "risk_n": attacked,
                     "value": row.in_distribution, "value_n": attacked})
        if row.method == "lp":
            rows.append({"label": label, "eps": row.eps, "kind": "certified", "risk": row.risk, "risk_n": attacked,
                         "value": row.certified, "value_n": certified_on})
    return pd.DataFrame(rows)


def remark46_test(points: "pd.DataFrame", curves: Mapping[str, BoundCurve], *,
                  confidence: float = 0.95, chance_risk: float | None = None,
                  bonferroni: bool = True) -> "pd.DataFrame":
    """Remark 4.6 as a test: each classifier's robustness against each bound curve at its risk.

    ``points`` has one row per (classifier, eps, kind of robustness) with columns
    ``label``, ``eps``, ``kind`` ("certified" or "measured"), ``risk`` and ``risk_n`` (the
    misclassified fraction and the examples it was measured on), ``value`` and ``value_n``
    (the robustness and its examples). Both are estimates from a finite test set, so a
    point counts as above a curve only beyond the sampling error: Theorem 4.4 bounds
    Rob(F_alpha) at the classifier's true risk, which is at least the lower end of its
    confidence interval, and the bound falls as alpha grows, so the curve is read there;
    the robustness compared is the lower end of its own interval. The two intervals are
    Clopper-Pearson, each one-sided at ``1 - (1 - level) / 2``, so both hold together
    with probability at least ``level``. What a point above a curve means depends on
    its kind (:data:`VERDICTS`): a certified robust accuracy is a proven lower bound on the
    model's in-distribution robustness, a measured one an upper estimate.

    Many points are tested against several curves. With ``bonferroni`` (the default) each
    comparison is made at level ``1 - (1 - confidence) / m``, m the number of points
    counted times the number of curves, so that all the verdicts hold together at
    ``confidence``. Where the curve, read at the risk's lower end, is at or above 1, no
    robustness can lie above it: such a comparison is made and reported, but its
    ``testable`` column is False, so that a reader can count the comparisons that could
    have found the bound wrong.

    A point whose classifier is not better than chance (``chance_risk``, for example
    1 - 1/K for K balanced classes, lies within the upper end of its risk's interval) is
    reported with the verdict :data:`AT_CHANCE` and neither counted nor tested: a classifier
    that has not learned meets the curve by construction and supports nothing.

    Returns:
        ``points`` with, per curve, the columns curve, bound and margin (at the measured
        risk, value - bound), bound_conservative and margin_conservative (from the
        intervals, NaN at chance), testable (bound_conservative below 1), level (the
        confidence of each comparison) and verdict.

    Example:
        >>> import pandas as pd
        >>> pts = pd.DataFrame([{"label": "f", "eps": 1.0, "kind": "certified", "risk": 0.5, "risk_n": 1000,
        ...                      "value": 0.45, "value_n": 1000},
        ...                     {"label": "g", "eps": 1.0, "kind": "measured", "risk": 0.9, "risk_n": 1000,
        ...                      "value": 0.1, "value_n": 1000}])
        >>> remark46_test(pts, {"flat": lambda alpha, eps: 0.3}, chance_risk=0.9)["verdict"].tolist()
        ['proves the bound invalid', 'at chance: on the curve by construction, not counted']
    """
    import pandas as pd

    check_value("confidence", confidence, low=0, high=1, low_open=True, high_open=True)
    check_value("chance_risk", chance_risk, low=0, high=1, optional=True)
    missing = {"label", "eps", "kind", "risk", "risk_n", "value", "value_n"} - set(points.columns)
    if missing:
        raise InputError(f"points must have the columns {sorted(missing)}")
    for kind in points["kind"]:
        if kind not in VERDICTS:
            raise InputError(f"kind must be one of {', '.join(map(repr, VERDICTS))}, got {kind!r}")

    def errors(point) -> int:  # noqa: ANN001 - a row of points
        return int(round(point.risk * point.risk_n))

    def at_chance(point) -> bool:  # noqa: ANN001
        if chance_risk is None:
            return False
        return clopper_pearson(errors(point), int(point.risk_n), confidence)[1] >= chance_risk

    chance = [at_chance(p) for p in points.itertuples(index=False)]
    comparisons = max(1, (len(chance) - sum(chance)) * len(curves))
    level = 1.0 - (1.0 - confidence) / comparisons if bonferroni else confidence
    rows = []
    for point, is_chance in zip(points.itertuples(index=False), chance):
        # the lower end of a two-sided interval at `level` is one-sided at 1 - (1 - level) / 2
        risk_low = clopper_pearson(errors(point), int(point.risk_n), level)[0]
        value_low = clopper_pearson(int(round(point.value * point.value_n)), int(point.value_n), level)[0]
        for name, curve in curves.items():
            bound = curve(point.risk, point.eps)
            if is_chance:
                rows.append({**point._asdict(), "curve": name, "bound": bound, "margin": point.value - bound,
                             "bound_conservative": np.nan, "margin_conservative": np.nan, "testable": False,
                             "level": level, "verdict": AT_CHANCE})
                continue
            conservative = curve(risk_low, point.eps)
            rows.append({**point._asdict(), "curve": name, "bound": bound, "margin": point.value - bound,
                         "bound_conservative": conservative, "margin_conservative": value_low - conservative,
                         "testable": bool(conservative < 1.0), "level": level,
                         "verdict": VERDICTS[point.kind] if value_low > conservative else NOT_ABOVE})
    return pd.DataFrame(rows)



@dataclass(frozen=True)
class Remark46Summary:
    """What :func:`remark46_test`'s rows say, points at chance left out.

    Attributes:
        verdicts: one row per curve and kind: points (counted), testable (of them, where
            the curve is below 100%, so that a point could lie above it), above (beyond the
            sampling error) and largest_margin (from the intervals).
        per_curve: points counted per curve.
        chance_labels: the classifiers no better than chance (reported, never counted).
        chance_points: their (classifier, eps) points.
        above_any: (classifier, eps, kind) points above at least one curve beyond the sampling error.
        nearest: the largest margin at the measured values (NaN with nothing counted).
        proven_points: the rows (certified point and curve) above their curve beyond the sampling error.
        proven_curves: the curves a certified point lies above beyond the sampling error.
        comparisons: the (point, curve) comparisons counted.
        testable: of them, those where the curve is below 100% (a point could lie above it).
    """

    verdicts: "pd.DataFrame"
    per_curve: int
    chance_labels: list[str]
    chance_points: int
    above_any: int
    nearest: float
    proven_points: int
    proven_curves: list[str]
    comparisons: int = 0
    testable: int = 0

    def count(self, curve: str, kind: str) -> str:
        """'a of b (c below 100%)': the points of ``kind`` above ``curve``, of those counted, and how many of
        those met the curve below 100%, where a point could lie above it."""
        row = self.verdicts[(self.verdicts["curve"] == curve) & (self.verdicts["kind"] == kind)]
        if row.empty:
            return "0 of 0"
        r = row.iloc[0]
        return f"{int(r['above'])} of {int(r['points'])} ({int(r['testable'])} where the curve is below 100%)"


def summarise_remark46(tested: "pd.DataFrame") -> Remark46Summary:
    """:func:`remark46_test`'s verdicts counted per curve and kind, and its headline numbers.

    Example:
        >>> import pandas as pd
        >>> pts = pd.DataFrame([{"label": "f", "eps": 1.0, "kind": "certified", "risk": 0.5, "risk_n": 1000,
        ...                      "value": 0.45, "value_n": 1000}])
        >>> s = summarise_remark46(remark46_test(pts, {"flat": lambda alpha, eps: 0.3}))
        >>> s.count("flat", "certified"), s.proven_curves, round(s.nearest, 2)
        ('1 of 1 (1 where the curve is below 100%)', ['flat'], 0.15)
    """
    above = tested["verdict"].isin(list(VERDICTS.values()))
    chance = tested["verdict"] == AT_CHANCE
    counted = tested[~chance].assign(above=above[~chance])
    verdicts = (counted.groupby(["curve", "kind"])
                .agg(points=("above", "size"), testable=("testable", "sum"), above=("above", "sum"),
                     largest_margin=("margin_conservative", "max"))
                .reset_index())
    chance_rows = tested[chance][["label", "eps"]].drop_duplicates()
    proven = counted[(counted["kind"] == "certified") & counted["above"]]
    return Remark46Summary(
        verdicts=verdicts, per_curve=int(len(counted) // max(1, tested["curve"].nunique())),
        chance_labels=sorted(set(chance_rows["label"])), chance_points=len(chance_rows),
        above_any=len(counted[counted["above"]][["label", "eps", "kind"]].drop_duplicates()),
        nearest=float(counted["margin"].max()) if len(counted) else float("nan"),
        proven_points=len(proven), proven_curves=sorted(set(proven["curve"])), comparisons=len(counted),
        testable=int(counted["testable"].sum()))

__all__ = ["AT_CHANCE", "BoundCurve", "InDistSettings", "NOT_ABOVE", "VERDICTS", "attack_in_batches", "bound_curve",
           "GeneratorBound", "generator_bounds",
           "Remark46Summary", "clopper_pearson", "figure2_points", "measure_model", "paired_test", "remark46_test",
           "summarise_remark46"]
