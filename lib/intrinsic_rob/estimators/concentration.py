"""Intrinsic robustness estimated from below: how concentrated a distribution is, measured with half-spaces.

By Definition 3.1 a classifier's adversarial risk is the measure of the epsilon-expansion
of its error region E: AdvRisk(f) = mu(E_eps). Any set E of measure at least alpha is the
error region of a classifier of risk at least alpha (one that errs exactly on E and is
right elsewhere, which exists when there are at least two classes and the generator's
label is the ground truth f* of its image, the classes not overlapping), so for every
such E

    1 - mu(E_eps) <= Rob(F_alpha)            (Definition 3.2),

and a well-chosen E gives a lower estimate of the intrinsic robustness that Theorem 4.4
bounds from above. Half-spaces H = {x : <w, x> >= b} (||w||_2 = 1) are the natural sets to
try: their l2 expansion is the half-space H_eps = {x : <w, x> >= b - eps}, so both measures
are read off the projections <w, x>, and for a Gaussian they are the optimal sets
(Lemma 4.2). This is how Prescott, Zhang and Evans (2021) measure the concentration of
image distributions: directions from the principal components of a sample, refined by
optimising a smooth surrogate of the expansion's measure.

A generator can be sampled without limit, so the estimate here is honest: the half-space
is fitted on one sample and both measures are counted on a fresh one, with one-sided
Clopper-Pearson bounds, each at half the error rate ((1 + confidence) / 2), so that the
classifier's membership in F_alpha and the lower bound on its robustness hold together at
the stated confidence, for each eps (the rows of several eps share one evaluation
sample). The fitted half-space holds a little more than alpha of the fit sample, enough
that the evaluation sample's lower bound on mu(E) usually clears alpha. An estimate whose
lower bound does not (:attr:`ConcentrationEstimate.in_class` False) bounds only the
robustness of the classes of a smaller risk (``alpha_shown``), which is larger than
Rob(F_alpha): it is reported, not a lower estimate of Rob(F_alpha).

With ``per_class`` the error region must hold at least alpha of every class, so that its
classifier is in F~_alpha (per-class risk at least alpha, Table 3's form). It is then a
union of half-spaces, one per class: H_c holds alpha of class c and is fitted, on the
directions of class c's own principal components, to take in as little of the whole
distribution within eps as it can; the union's expansion is the union of the H_c's
expansions, again read off projections. (One half-space that holds alpha of every class
at once must cut across all of them, and expands far more.) Each class's share of the
union is counted, and the K class bounds share the membership's half of the error rate
(:func:`class_confidence`), so that all of them and the expansion's bound hold together at
the stated confidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from scipy.stats import norm

from intrinsic_rob.core.errors import InputError
from intrinsic_rob.core.progress import progress_bar
from intrinsic_rob.core.validation import check_value
from intrinsic_rob.estimators.in_dist import clopper_pearson

#: Draws ``n`` labelled examples from the distribution: (x (n, ...) float, y (n,) int), from ``generator``.
Sampler = Callable[[int, torch.Generator], "tuple[torch.Tensor, torch.Tensor]"]


@dataclass(frozen=True, eq=False)
class HalfSpace:
    """H = {x : <direction, x> >= offset}, with a unit l2 direction over the flattened image."""

    direction: np.ndarray
    offset: float

    def projections(self, x: torch.Tensor) -> torch.Tensor:
        """<direction, x> for each of the (n, ...) examples: (n,)."""
        w = torch.as_tensor(self.direction, dtype=torch.float64, device=x.device)
        return x.reshape(len(x), -1).to(torch.float64) @ w


@dataclass(frozen=True, eq=False)
class ConcentrationEstimate:
    """One epsilon's lower estimate of Rob(F_alpha) from an error region E, measured on a fresh sample.

    E is the union of ``halfspaces`` (one for F_alpha, one per class for F~_alpha).
    ``robustness`` = 1 - mu(E_eps) and its one-sided lower bound ``robustness_lower``;
    ``measure`` = mu(E) (per class: the smallest class's share) and its lower bound
    ``measure_lower``; ``expansion`` = mu(E_eps).
    """

    eps: float
    alpha: float
    robustness: float
    robustness_lower: float
    measure: float
    measure_lower: float
    expansion: float
    halfspaces: tuple[HalfSpace, ...]
    n_fit: int
    n_eval: int
    confidence: float
    per_class: bool

    @property
    def in_class(self) -> bool:
        """Whether the region's classifier is in F_alpha (F~_alpha per class) at the stated confidence."""
        return self.measure_lower >= self.alpha

    def contains(self, x: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
        """Whether each of the (n, ...) examples lies in E (with ``eps``: in its l2 eps-expansion E_eps): (n,) bool."""
        return torch.stack([s.projections(x) >= s.offset - eps for s in self.halfspaces], 1).any(1)

    def as_row(self) -> dict[str, float | int | bool]:
        """The estimate as one row of a tidy table (the half-spaces' directions and offsets left out)."""
        return {"eps": self.eps, "alpha": self.alpha, "alpha_shown": self.measure_lower, "per_class": self.per_class,
                "robustness": self.robustness,
                "robustness_lower": self.robustness_lower, "measure": self.measure,
                "measure_lower": self.measure_lower, "expansion": self.expansion, "in_class": self.in_class,
                "halfspaces": len(self.halfspaces), "n_fit": self.n_fit, "n_eval": self.n_eval,
                "confidence": self.confidence}


def gaussian_halfspace_robustness(alpha: float, eps: float, sigma: float) -> float:
    """1 - mu(H_eps) for the half-space of measure alpha orthogonal to a direction of standard deviation sigma
    of a Gaussian: 1 - Phi(Phi^-1(alpha) + eps / sigma), the exact value the estimator must find there.

    Example:
        >>> round(gaussian_halfspace_robustness(0.5, 1.0, 1.0), 4)
        0.1587
    """
    check_value("sigma", sigma, low=0, low_open=True)
    return float(1.0 - norm.cdf(norm.ppf(alpha) + eps / sigma))


def fit_measure(alpha: float, n_fit: int, n_eval: int, confidence: float) -> float:
    """The share of the fit sample a fitted half-space holds: alpha plus the fit quantile's and the evaluation's
    sampling errors at each bound's one-sided level, so that the evaluation's lower bound on mu(E) usually
    clears alpha.

    Example:
        >>> round(fit_measure(0.015, 20_000, 100_000, 0.95), 4)
        0.0174
    """
    check_value("alpha", alpha, low=0, high=1, low_open=True, high_open=True)
    check_value("n_fit", n_fit, low=1, integer=True)
    check_value("n_eval", n_eval, low=1, integer=True)
    z = float(norm.ppf((1 + confidence) / 2))  # each bound is one-sided at (1 + confidence) / 2
    spread = math.sqrt(alpha * (1 - alpha))
    return min(1.0, alpha + z * spread * (1 / math.sqrt(n_fit) + 1 / math.sqrt(n_eval)))


def halfspace_robustness(sampler: Sampler, alpha: Sequence[float] | float, eps: Sequence[float] | float, *,
                         n_fit: int = 20_000, n_eval: int = 100_000, seed: int = 0, per_class: bool = False,
                         confidence: float = 0.95, components: int = 20, refine_steps: int = 200,
                         batch: int = 10_000, progress: bool = False) -> list[ConcentrationEstimate]:
    """Lower estimates of the intrinsic robustness Rob(F_alpha) (Definition 3.2) at each alpha and eps, from
    half-spaces (with ``per_class``, of Rob(F~_alpha) from a union of one half-space per class).

    For each alpha and eps an error region of measure at least alpha is fitted on ``n_fit``
    examples of ``sampler``: each half-space's direction on two thirds of them (the best of
    the top ``components`` principal directions and their opposites, refined within their
    span by ``refine_steps`` Adam steps on a smoothed expansion measure; per class, the
    principal directions of that class), its offset on the other third; the measures of all
    of them are then counted on the same ``n_eval`` fresh examples (drawn ``batch`` at a
    time), so that further alphas cost fitting, not images. Returns one
    :class:`ConcentrationEstimate` per (alpha, eps), alpha by alpha, each in the order
    given. Random draws come from generators seeded from ``seed``; the caller's random
    state is untouched.

    Example:
        >>> sigma = torch.tensor([2.0, 0.5, 0.5])
        >>> def gaussian(n, g):
        ...     return torch.randn(n, 3, generator=g) * sigma, torch.zeros(n, dtype=torch.long)
        >>> est, = halfspace_robustness(gaussian, 0.05, 1.0, n_fit=4000, n_eval=40_000, refine_steps=50)
        >>> est.in_class, round(est.measure, 3)
        (True, 0.063)
        >>> abs(est.robustness - gaussian_halfspace_robustness(est.measure, 1.0, 2.0)) < 0.01  # the exact value
        True
        >>> [e.alpha for e in halfspace_robustness(gaussian, [0.05, 0.2], [1.0, 2.0], n_fit=900, n_eval=3000)]
        [0.05, 0.05, 0.2, 0.2]
    """
    alphas, eps_values = check_alphas(alpha), check_settings(alpha, eps, confidence)
    _check_sizes(n_fit, n_eval, seed, components, refine_steps, batch)
    fit_gen, eval_gen = (torch.Generator().manual_seed(int(s)) for s in np.random.SeedSequence(seed).generate_state(2))
    x_fit, y_fit = _draw(sampler, n_fit, fit_gen)
    classes = torch.unique(y_fit)
    # directions from the first two thirds of the fit sample, offsets from the rest: an offset set on the
    # sample its direction was optimised on holds less than it seems of fresh data
    split = (2 * n_fit) // 3
    x_dir, y_dir, x_cal, y_cal = x_fit[:split], y_fit[:split], x_fit[split:], y_fit[split:]
    if per_class:
        _check_classes(classes, y_dir, y_cal, n_fit)
    targets = {a: _target(a, n_fit, n_eval, confidence, y_cal, per_class) for a in alphas}
    # what each half-space must hold alpha of: the whole sample, or one class (per class)
    parts = [(y_dir == c, y_cal == c) for c in classes] if per_class else [(None, None)]
    bases = [_principal_basis(x_dir if rows is None else x_dir[rows], components) for rows, _ in parts]
    settings = [(a, e) for a in alphas for e in eps_values]
    regions = []
    for a, e in progress_bar(settings, desc="fitting half-spaces", enabled=progress, unit="region"):
        region = []
        for basis, (rows, cal_rows) in zip(bases, parts):
            w = basis @ _fit_halfspace(x_dir @ basis, rows, targets[a], e, refine_steps)
            w = w / w.norm()
            held = x_cal @ w if cal_rows is None else x_cal[cal_rows] @ w
            region.append(HalfSpace(w.numpy().copy(), float(_offset(held, targets[a]))))
        regions.append(tuple(region))
    counts = _count(sampler, eval_gen, n_eval, batch, regions, [e for _, e in settings], classes, per_class,
                    progress)
    if per_class and (counts[3] == 0).any():
        raise InputError(f"n_eval = {n_eval} drew no example of class(es) "
                         f"{[int(c) for c, t in zip(classes, counts[3]) if t == 0]}: raise n_eval")
    return [_estimate(k, a, e, region, counts, n_fit, n_eval, confidence, per_class)
            for k, (region, (a, e)) in enumerate(zip(regions, settings))]


def _estimate(k: int, alpha: float, eps: float, region: tuple[HalfSpace, ...], counts: tuple[np.ndarray, ...],
              n_fit: int, n_eval: int, confidence: float, per_class: bool) -> ConcentrationEstimate:
    """The k-th region's estimate from :func:`_count`'s counts, with one-sided bounds at half the error rate
    each (the ends of two-sided intervals at ``confidence``)."""
    inside, expanded, per_class_counts, totals = counts
    if per_class:  # every class must hold alpha: the smallest share, and the smallest of K joint lower bounds
        measure = min(int(per_class_counts[k, c]) / int(totals[c]) for c in range(len(totals)))
        joint = class_confidence(confidence, len(totals))
        measure_lower = min(clopper_pearson(int(per_class_counts[k, c]), int(totals[c]), joint)[0]
                            for c in range(len(totals)))
    else:
        measure = int(inside[k]) / n_eval
        measure_lower = clopper_pearson(int(inside[k]), n_eval, confidence)[0]
    expansion = int(expanded[k]) / n_eval
    robustness_lower = 1.0 - clopper_pearson(int(expanded[k]), n_eval, confidence)[1]
    return ConcentrationEstimate(eps, alpha, 1.0 - expansion, robustness_lower, measure, measure_lower, expansion,
                                 region, n_fit, n_eval, confidence, per_class)


def class_confidence(confidence: float, classes: int) -> float:
    """The two-sided level of each class's interval when all ``classes`` of them must hold together with the
    expansion's bound at ``confidence`` (Bonferroni: each lower end errs with (1 - confidence) / (2 classes)).

    Example:
        >>> round(class_confidence(0.95, 10), 4)
        0.995
    """
    return 1.0 - (1.0 - confidence) / classes


def check_alphas(alpha: Sequence[float] | float) -> list[float]:
    """One-line errors for the classifiers' risk(s) alpha; the distinct values, in the order given.

    Example:
        >>> check_alphas([0.015, 0.05, 0.015])
        [0.015, 0.05]
    """
    alphas = list(dict.fromkeys(float(a) for a in np.atleast_1d(np.asarray(alpha, dtype=float))))
    if not alphas:
        raise InputError("alpha must hold at least one value")
    for a in alphas:
        check_value("alpha", a, low=0, high=1, low_open=True, high_open=True)
    return alphas


def check_settings(alpha: Sequence[float] | float, eps: Sequence[float] | float, confidence: float) -> list[float]:
    """One-line errors for alpha, eps and the confidence; the distinct eps values, in the order given.

    Example:
        >>> check_settings(0.015, [1, 2, 2, 3], 0.95)
        [1.0, 2.0, 3.0]
    """
    check_alphas(alpha)
    eps_values = list(dict.fromkeys(float(e) for e in np.atleast_1d(np.asarray(eps, dtype=float))))
    if not eps_values:
        raise InputError("eps must hold at least one value")
    for e in eps_values:
        check_value("eps", e, low=0)
    check_value("confidence", confidence, low=0.5, high=1, high_open=True)
    return eps_values


def _check_sizes(n_fit: int, n_eval: int, seed: int, components: int, refine_steps: int, batch: int) -> None:
    """One-line errors for :func:`halfspace_robustness`'s sizes and seed."""
    check_value("seed", seed, low=0, integer=True)
    check_value("components", components, low=1, integer=True)
    check_value("refine_steps", refine_steps, low=0, integer=True)
    check_value("batch", batch, low=1, integer=True)
    check_value("n_fit", n_fit, low=3, integer=True)
    check_value("n_eval", n_eval, low=2, integer=True)


def _check_classes(classes: torch.Tensor, y_dir: torch.Tensor, y_cal: torch.Tensor, n_fit: int) -> None:
    """Refuses a fit sample in which some class has no example to fit its half-space's direction or offset on."""
    short = [int(c) for c in classes if int((y_dir == c).sum()) < 2 or int((y_cal == c).sum()) < 1]
    if short:
        raise InputError(f"n_fit = {n_fit} leaves class(es) {short} too few examples to fit a half-space on: "
                         "raise n_fit")


def _target(alpha: float, n_fit: int, n_eval: int, confidence: float, y_cal: torch.Tensor,
            per_class: bool) -> float:
    """The share of the calibration sample ``y_cal`` (of each class, per class) the half-space holds
    (:func:`fit_measure`, with the sizes of the smallest class per class); refuses samples too small to show a
    measure of alpha."""
    share = 1.0
    if per_class:
        counts = torch.unique(y_cal, return_counts=True)[1]
        share = float(counts.min()) / len(y_cal)
        confidence = class_confidence(confidence, len(counts))
    fit_n, eval_n = max(1, int(share * len(y_cal))), max(1, int(share * n_eval))
    target = fit_measure(alpha, fit_n, eval_n, confidence)
    expected = math.ceil(target * eval_n)
    if target * fit_n < 1 or expected > eval_n or clopper_pearson(expected, eval_n, confidence)[0] < alpha:
        where = " in its smallest class" if per_class else ""
        raise InputError(f"n_fit = {n_fit} and n_eval = {n_eval} are too small to show a measure of alpha = "
                         f"{alpha:g}{where} at confidence {confidence:g}")
    return target


def _draw(sampler: Sampler, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n examples of ``sampler``, flattened to (n, D) float64, and their (n,) labels."""
    x, y = sampler(n, generator)
    if len(x) != n or len(y) != n:
        raise InputError(f"the sampler returned {len(x)} images and {len(y)} labels for n = {n}")
    return x.reshape(n, -1).to(torch.float64).cpu(), y.reshape(n).long().cpu()


def _principal_basis(x: torch.Tensor, components: int) -> torch.Tensor:
    """The top ``components`` principal directions of the (n, D) sample, as the columns of a (D, k) matrix."""
    centred = x - x.mean(0)
    covariance = centred.T @ centred / len(x)
    _, vectors = torch.linalg.eigh(covariance)  # ascending eigenvalues
    return vectors[:, -min(components, x.shape[1]):].flip(1)


def _offset(p: torch.Tensor, target: float) -> torch.Tensor:
    """The largest b with at least ``target`` of the projections p >= b."""
    return torch.quantile(p, 1 - target, interpolation="lower")


def _expansion(p: torch.Tensor, held: torch.Tensor, target: float, eps: float) -> float:
    """The share of the projections p within eps of the half-space that holds ``target`` of the projections
    ``held``."""
    return float((p >= _offset(held, target) - eps).double().mean())


def _fit_halfspace(reduced: torch.Tensor, rows: torch.Tensor | None, target: float, eps: float,
                   refine_steps: int) -> torch.Tensor:
    """The unit direction (k,) in the sample's principal coordinates ``reduced`` (n, k) whose half-space, holding
    ``target`` of the sample (of its ``rows``, where given), has the smallest eps-expansion over the whole
    sample: the best of the coordinate axes and their opposites, refined (k coefficients, not the image's D,
    so that the sample cannot be fitted by its noise) by Adam on the expansion's measure smoothed by a
    sigmoid."""
    held = reduced if rows is None else reduced[rows]
    eye = torch.eye(reduced.shape[1], dtype=reduced.dtype)
    candidates = [sign * eye[i] for i in range(reduced.shape[1]) for sign in (1.0, -1.0)]
    shares = [_expansion(reduced @ c, held @ c, target, eps) for c in candidates]
    best_share = min(shares)
    best = candidates[shares.index(best_share)]
    c = best.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([c], lr=0.02)
    scale = float((reduced @ best).std())
    scale = scale if math.isfinite(scale) and scale > 0 else 1.0
    for step in range(refine_steps):
        u = c / c.norm()
        smooth = torch.sigmoid((reduced @ u - (_offset(held @ u, target) - eps)) / (0.05 * scale + 0.1 * eps)).mean()
        optimiser.zero_grad()
        smooth.backward()
        optimiser.step()
        if (step + 1) % 10 == 0 or step + 1 == refine_steps:
            with torch.no_grad():
                u = c / c.norm()
                share = _expansion(reduced @ u, held @ u, target, eps)
                if share < best_share:
                    best, best_share = u.detach().clone(), share
    return best


def _count(sampler: Sampler, generator: torch.Generator, n: int, batch: int, regions: list[tuple[HalfSpace, ...]],
           eps_values: list[float], classes: torch.Tensor, per_class: bool,
           progress: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Counts over n fresh examples: in each region (a union of half-spaces), in its expansion; per class (with
    ``per_class``), in it and examples drawn."""
    spaces = [s for region in regions for s in region]
    directions = torch.as_tensor(np.stack([s.direction for s in spaces]), dtype=torch.float64).T  # (D, m)
    offsets = torch.tensor([s.offset for s in spaces], dtype=torch.float64)
    margins = torch.tensor([e for region, e in zip(regions, eps_values) for _ in region], dtype=torch.float64)
    ends = np.cumsum([len(region) for region in regions]).tolist()
    index = {int(c): i for i, c in enumerate(classes)}
    inside, expanded = np.zeros(len(regions), dtype=np.int64), np.zeros(len(regions), dtype=np.int64)
    by_class, totals = np.zeros((len(regions), len(classes)), dtype=np.int64), np.zeros(len(classes), dtype=np.int64)
    for start in progress_bar(range(0, n, batch), desc="measuring half-spaces", enabled=progress, unit="batch"):
        x, y = _draw(sampler, min(batch, n - start), generator)
        p = x @ directions  # (b, m)
        hit = torch.stack([part.any(1) for part in torch.tensor_split(p >= offsets, ends[:-1], dim=1)], 1)
        near = torch.stack([part.any(1) for part in torch.tensor_split(p >= offsets - margins, ends[:-1], dim=1)], 1)
        inside += hit.sum(0).numpy()
        expanded += near.sum(0).numpy()
        for label in torch.unique(y).tolist() if per_class else []:
            if label not in index:
                raise InputError(f"the sampler drew label {label}, absent from the fit sample's {sorted(index)}")
            rows = y == label
            totals[index[label]] += int(rows.sum())
            by_class[:, index[label]] += hit[rows].sum(0).numpy()
    return inside, expanded, by_class, totals


def generator_sampler(generator: torch.nn.Module, device: torch.device | str = "cpu", batch: int = 1024) -> Sampler:
    """A :data:`Sampler` of a conditional generator's distribution: y uniform over its classes, z ~ N(0, I),
    x = generator(z, y) (Section 5.1), drawn on the CPU generator given and computed on ``device``.

    Example:
        >>> from intrinsic_rob.generators.affine import AffineGenerator
        >>> sample = generator_sampler(AffineGenerator(z_dim=2, image_shape=(1, 2, 2), num_classes=3, seed=0))
        >>> x, y = sample(5, torch.Generator().manual_seed(0))
        >>> tuple(x.shape), tuple(y.shape)
        ((5, 1, 2, 2), (5,))
    """

    def sample(n: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(0, generator.num_classes, (n,), generator=rng)
        z = torch.randn(n, generator.z_dim, generator=rng)
        with torch.inference_mode():
            x = torch.cat([generator(z[s:s + batch].to(device), y[s:s + batch].to(device)).float().cpu()
                           for s in range(0, n, batch)])
        return x, y

    return sample


__all__ = ["ConcentrationEstimate", "HalfSpace", "Sampler", "check_alphas", "check_settings", "class_confidence",
           "fit_measure",
           "gaussian_halfspace_robustness", "generator_sampler", "halfspace_robustness"]
