"""The paper's bounds (Section 4, Appendix A) as small, vectorised, validated functions.

Notation follows the paper: ``alpha`` is the risk threshold, ``eps`` the l2 perturbation
radius in image space, ``lipschitz`` the local Lipschitz constants L_i(r) of the class
generators, ``class_probs`` the class probabilities p_i and ``delta`` the probability that
the local Lipschitz condition (Condition 4.1) fails.

Theorem 4.3 holds only where r * L_i(r) >= eps: a constant measured on balls of radius r
says nothing about larger perturbations. A generator that is L-locally Lipschitz on such
balls is also L'-locally Lipschitz for every L' >= L, so the bounds here use
L_i' = max(L_i, eps / r), that is eps / L capped at r, and report per eps where the cap
applied. The radius is therefore part of every call: ``radius=r`` for constants measured
on balls of radius r, ``radius=None`` for global constants (valid for every eps), or
constants that carry their radius (:class:`LocalLipschitz`, or the results of
:func:`intrinsic_rob.estimators.lipschitz.estimate_local_lipschitz`).

Every function accepts ``eps`` as a scalar or a 1-D array and returns values of the same
shape. Tail probabilities are computed from ``scipy.special.ndtr`` of the appropriate sign,
so results stay accurate for alpha near 0 or 1 and for huge eps/L.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtr, ndtri

from intrinsic_rob.core.errors import InputError, as_float_array, check_range

if TYPE_CHECKING:
    import pandas as pd

    from intrinsic_rob.paper import BoundSetting

#: Largest number of classes for which :func:`solve_a4` enumerates vertices exhaustively.
A4_ENUMERATION_MAX_CLASSES = 16


def gaussian_expansion(measure: float | np.ndarray, r: float | np.ndarray) -> np.ndarray:
    """Lower bound of Lemma 4.2 (Gaussian isoperimetry): Phi(Phi^-1(measure) + r).

    The r-expansion of any set of Gaussian measure ``measure`` has measure at least this;
    half-spaces attain it. ``measure`` in [0, 1], ``r`` >= 0; arrays broadcast.

    Example:
        >>> round(float(gaussian_expansion(0.5, 1.0)), 12)  # Phi(1)
        0.841344746069
    """
    measure = as_float_array("measure", measure)
    r = as_float_array("r", r)
    check_range("measure", measure, low=0.0, high=1.0)
    check_range("r", r, low=0.0)
    return ndtr(ndtri(measure) + r)


def gaussian_expansion_complement(measure: float | np.ndarray, r: float | np.ndarray) -> np.ndarray:
    """1 - Phi(Phi^-1(measure) + r), computed without cancellation.

    Example:
        >>> float(gaussian_expansion_complement(0.5, 10.0)) < 1e-22
        True
    """
    measure = as_float_array("measure", measure)
    r = as_float_array("r", r)
    check_range("measure", measure, low=0.0, high=1.0)
    check_range("r", r, low=0.0)
    return ndtr(-(ndtri(measure) + r))


# ---------------------------------------------------------------------------------------
# Input handling shared by the bounds
# ---------------------------------------------------------------------------------------


def _eps(eps: float | np.ndarray) -> np.ndarray:
    arr = as_float_array("eps", eps)
    if arr.ndim > 1:
        raise InputError(f"eps must be a number or a 1-D list, got an array of shape {arr.shape}")
    check_range("eps", arr, low=0.0, high=math.inf, high_open=True)
    return arr


def _delta(delta: float) -> float:
    arr = as_float_array("delta", delta)
    if arr.ndim != 0:
        raise InputError("delta must be a single number")
    check_range("delta", arr, low=0.0, high=1.0, high_open=True)
    return float(arr)


def _alpha(alpha: float) -> float:
    arr = as_float_array("alpha", alpha)
    if arr.ndim != 0:
        raise InputError("alpha must be a single number")
    check_range("alpha", arr, low=0.0, high=1.0, low_open=True, high_open=True)
    return float(arr)


class _Unset:
    """Marks an argument the caller must give explicitly (``None`` is a meaningful value)."""

    def __repr__(self) -> str:
        return "<required>"


_UNSET = _Unset()


@dataclass(frozen=True)
class LocalLipschitz:
    """Local Lipschitz constants L_i(r) together with the radius r they were measured at.

    Passing one as ``lipschitz`` to the bounds supplies the radius. ``radius=None`` marks
    global constants (valid on balls of every radius).

    Example:
        >>> LocalLipschitz([7.9, 8.6], radius=0.5).values
        array([7.9, 8.6])
    """

    values: np.ndarray
    radius: float | None

    def __post_init__(self) -> None:
        values = np.atleast_1d(as_float_array("lipschitz", self.values))
        object.__setattr__(self, "values", values)
        if self.radius is not None:
            check_range("radius", self.radius, low=0.0, high=math.inf, low_open=True, high_open=True)
            object.__setattr__(self, "radius", float(self.radius))


def _carried(lipschitz: object) -> tuple[object, float | None | _Unset]:
    """Split ``lipschitz`` into plain constants and the radius it carries (or _UNSET).

    Accepts a :class:`LocalLipschitz`, one object with ``value`` and ``radius`` attributes
    (a Lipschitz estimate), a sequence of such objects (one per class), or plain numbers.
    """
    if isinstance(lipschitz, LocalLipschitz):
        return lipschitz.values, lipschitz.radius
    if hasattr(lipschitz, "value") and hasattr(lipschitz, "radius"):
        return getattr(lipschitz, "value"), getattr(lipschitz, "radius")
    if isinstance(lipschitz, (list, tuple)) and lipschitz and all(
        hasattr(item, "value") and hasattr(item, "radius") for item in lipschitz
    ):
        radii = {item.radius for item in lipschitz}
        if len(radii) != 1:
            raise InputError(f"lipschitz: the estimates were measured at different radii {sorted(radii)}; "
                             "the bound needs one radius r for all classes")
        return [item.value for item in lipschitz], radii.pop()
    return lipschitz, _UNSET


def _radius(carried: float | None | _Unset, radius: float | None | _Unset) -> float | None:
    """The radius r of Condition 4.1 for this call, or None for global constants."""
    if isinstance(carried, _Unset) and isinstance(radius, _Unset):
        raise InputError(
            "radius is required: give the radius r at which the Lipschitz constants were measured "
            "(Theorem 4.3 needs r * L >= eps), or radius=None if they are global constants"
        )
    if isinstance(radius, _Unset):
        radius = carried
    elif not isinstance(carried, _Unset) and carried != radius:
        raise InputError(f"radius={radius!r} differs from the radius {carried!r} the constants were measured at")
    if radius is None:
        return None
    arr = as_float_array("radius", radius)
    if arr.ndim != 0:
        raise InputError("radius must be a single number (or None for global constants)")
    check_range("radius", arr, low=0.0, high=math.inf, low_open=True, high_open=True)
    return float(arr)


def _classes(
    lipschitz: float | np.ndarray, class_probs: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class Lipschitz constants (K,) and class probabilities (K,).

    A single L with no class probabilities means one class (K = 1); a single L with K
    class probabilities is shared by all classes; K constants with no probabilities
    means the uniform distribution over K classes.
    """
    lip = as_float_array("lipschitz", lipschitz)
    if lip.ndim > 1:
        raise InputError(f"lipschitz must be a number or a 1-D list, got shape {lip.shape}")
    check_range("lipschitz", lip, low=0.0, high=math.inf, low_open=True, high_open=True)
    lip = np.atleast_1d(lip)
    if class_probs is None:
        probs = np.full(lip.shape, 1.0 / lip.size)
    else:
        probs = np.atleast_1d(as_float_array("class_probs", class_probs))
        if probs.ndim != 1:
            raise InputError(f"class_probs must be a 1-D list, got shape {probs.shape}")
        check_range("class_probs", probs, low=0.0, high=1.0, low_open=True)
        if abs(probs.sum() - 1.0) > 1e-6:
            raise InputError(f"class_probs must sum to 1, got {probs.sum():.6g}")
        if lip.size == 1:
            lip = np.full(probs.shape, lip[0])
        elif lip.size != probs.size:
            raise InputError(
                f"lipschitz has {lip.size} entries but class_probs has {probs.size}; "
                "give one constant per class or a single constant"
            )
    return lip, probs


def valid_lipschitz(eps: np.ndarray, lipschitz: np.ndarray, radius: float | None) -> np.ndarray:
    """The constants Theorem 4.3 may use at each eps: L_i' = max(L_i, eps / r), shape (E, K).

    A generator that is L-locally Lipschitz on balls of radius r is L'-locally Lipschitz
    for every L' >= L, and r * L' >= eps is Theorem 4.3's hypothesis. So eps / L' never
    exceeds r. With ``radius=None`` (global constants) nothing changes.

    Example:
        >>> valid_lipschitz(np.array([1.0, 3.0]), np.array([4.0]), 0.5)
        array([[4.],
               [6.]])
    """
    eps = np.asarray(eps, dtype=np.float64).reshape(-1, 1)
    lip = np.atleast_1d(np.asarray(lipschitz, dtype=np.float64))[None, :]
    if radius is None:
        return np.broadcast_to(lip, (eps.shape[0], lip.shape[1])).copy()
    return np.maximum(lip, eps / radius)


@dataclass(frozen=True)
class BoundResult:
    """A bound evaluated at each eps, with what Theorem 4.3's hypothesis required.

    Attributes:
        value: the bound, shape of ``eps``.
        eps: the perturbation radii, shape (E,).
        lipschitz: the constants used per eps and class after the cap, shape (E, K).
        capped: shape of ``eps``; True where some class's constant was raised to eps / r,
            because the measured one had r * L_i < eps.
        radius: r, or None for global constants.

    ``float(result)`` and ``numpy.asarray(result)`` give ``value``.
    """

    value: np.ndarray
    eps: np.ndarray
    lipschitz: np.ndarray
    capped: np.ndarray
    radius: float | None

    def __float__(self) -> float:
        if np.size(self.value) != 1:
            raise TypeError(f"only a bound at one eps converts to float, this one has {np.size(self.value)}")
        return float(np.asarray(self.value).reshape(()))

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.asarray(self.value, dtype=dtype)


def _result(value: np.ndarray, eps: np.ndarray, used: np.ndarray, measured: np.ndarray,
            radius: float | None) -> BoundResult:
    capped = (used > measured[None, :]).any(axis=1).reshape(eps.shape)
    return BoundResult(value=value.reshape(eps.shape), eps=np.atleast_1d(eps), lipschitz=used,
                       capped=capped, radius=radius)


# ---------------------------------------------------------------------------------------
# Theorem 4.3
# ---------------------------------------------------------------------------------------


def adversarial_risk_lower_bound(
    class_risks: float | np.ndarray,
    eps: float | np.ndarray,
    lipschitz: float | np.ndarray | LocalLipschitz,
    *,
    radius: float | None | _Unset = _UNSET,
    class_probs: np.ndarray | None = None,
    delta: float = 0.0,
) -> BoundResult:
    """Theorem 4.3: In-AdvRisk >= sum_i p_i Phi(Phi^-1(Risk_i) + eps / L_i') - delta.

    L_i' = max(L_i, eps / r) (:func:`valid_lipschitz`), so the hypothesis r * L_i' >= eps
    holds at every eps.

    Args:
        class_risks: Risk_{mu_i}(f) per class, shape (K,) or a scalar shared by all classes.
        eps: perturbation radius, scalar or shape (E,).
        lipschitz: L_i(r), shape (K,) or a scalar; or constants that carry their radius.
        radius: the r of Condition 4.1 the constants were measured at; None for global
            constants. Required unless ``lipschitz`` carries it.
        class_probs: p_i, shape (K,); uniform when omitted.
        delta: failure probability of the local Lipschitz condition.

    Returns:
        :class:`BoundResult`; its ``value`` (shape of ``eps``) lower-bounds AdvRisk too.

    Example:
        >>> round(float(adversarial_risk_lower_bound(0.05, 1.0, 1.0, radius=None)), 4)
        0.2595
        >>> adversarial_risk_lower_bound(0.05, 1.0, 1.0, radius=0.5).capped  # L raised to 2
        array(True)
    """
    lipschitz, carried = _carried(lipschitz)
    r = _radius(carried, radius)
    eps_arr = _eps(eps)
    lip, probs = _classes(lipschitz, class_probs)
    risks = np.atleast_1d(as_float_array("class_risks", class_risks))
    check_range("class_risks", risks, low=0.0, high=1.0)
    if risks.size == 1:
        risks = np.full(lip.shape, risks[0])
    elif risks.size != lip.size:
        raise InputError(f"class_risks has {risks.size} entries but there are {lip.size} classes")
    delta = _delta(delta)
    used = valid_lipschitz(eps_arr, lip, r)
    shifted = ndtri(risks)[None, :] + eps_arr.reshape(-1, 1) / used
    value = ndtr(shifted) @ probs - delta
    return _result(value, eps_arr, used, lip, r)


# ---------------------------------------------------------------------------------------
# Theorem 4.4 and the optimisation (A.4)
# ---------------------------------------------------------------------------------------


def _theorem44_inputs(
    alpha: float,
    eps: float | np.ndarray,
    lipschitz: object,
    class_probs: np.ndarray | None,
    delta: float,
    per_class_lipschitz: bool,
    radius: float | None | _Unset,
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, float | None]:
    """Validated (alpha, eps, p, L measured per class, L used (E, K), delta, r) for Theorem 4.4."""
    lipschitz, carried = _carried(lipschitz)
    r = _radius(carried, radius)
    alpha = _alpha(alpha)
    eps_arr = _eps(eps)
    lip, probs = _classes(lipschitz, class_probs)
    delta = _delta(delta)
    measured = lip if per_class_lipschitz else np.full(lip.shape, lip.max())
    return alpha, eps_arr, probs, measured, valid_lipschitz(eps_arr, measured, r), delta, r


def robustness_bound(
    alpha: float,
    eps: float | np.ndarray,
    lipschitz: float | np.ndarray | LocalLipschitz,
    *,
    radius: float | None | _Unset = _UNSET,
    class_probs: np.ndarray | None = None,
    delta: float = 0.0,
    per_class_risk: bool = False,
    per_class_lipschitz: bool = False,
) -> BoundResult:
    """Theorem 4.4: upper bound on the intrinsic robustness of imperfect classifiers.

    With ``per_class_risk=False`` (classifiers with Risk_mu(f) >= alpha, the class F_alpha):

        Rob <= 1 + delta - min_i p_i Phi(Phi^-1(alpha / p_i) + eps / L'),

    which the paper states only when alpha / p_i <= 1 for every class; otherwise use
    :func:`robustness_bound_a4`, which solves (A.4) exactly for any alpha.

    With ``per_class_risk=True`` (classifiers with Risk_{mu_i}(f) >= alpha for every class,
    the class F~_alpha):

        Rob <= 1 + delta - sum_i p_i Phi(Phi^-1(alpha) + eps / L').

    L is L_max = max_i L_i as in the paper, or each class's own L_i when
    ``per_class_lipschitz=True`` (the first line of (A.3); never looser). Theorem 4.3's
    hypothesis r * L >= eps is met by using L' = max(L, eps / r): at eps > r * L the
    bound is that of eps / L' = r, and ``capped`` says so.

    Values above 1 are vacuous but returned as computed.

    Args:
        alpha: risk threshold in (0, 1).
        eps: perturbation radius, scalar or shape (E,).
        lipschitz: L_i(r), shape (K,) or a scalar; or constants that carry their radius.
        radius: the r of Condition 4.1 the constants were measured at; None for global
            constants. Required unless ``lipschitz`` carries it.
        class_probs: p_i, shape (K,); uniform when omitted.
        delta: in [0, 1).
        per_class_risk: which class of classifiers (see above).
        per_class_lipschitz: use each L_i instead of L_max.

    Returns:
        :class:`BoundResult`: the upper bound on Rob^eps (shape of ``eps``) and the cap.

    Example (Table 3, generated MNIST, eps = 1; Table 1's constants, r = 0.5):
        >>> lip = [7.9, 8.6, 8.3, 7.8, 10.3, 11.0, 9.5, 7.8, 9.3, 10.9]
        >>> res = robustness_bound(0.015, [1.0, 3.0], lip, radius=0.5, delta=0.001, per_class_risk=True)
        >>> res.value.round(4), res.capped
        (array([0.9822, 0.9721]), array([False, False]))
        >>> res = robustness_bound(0.015, 3.0, 2.0, radius=0.5, delta=0.001, per_class_risk=True)
        >>> round(float(res), 4), bool(res.capped)  # eps / L capped at r = 0.5
        (0.9535, True)
    """
    alpha, eps_arr, probs, measured, used, delta, r = _theorem44_inputs(
        alpha, eps, lipschitz, class_probs, delta, per_class_lipschitz, radius
    )
    eta = eps_arr.reshape(-1, 1) / used  # (E, K)
    if per_class_risk:
        # 1 - sum_i p_i Phi(x_i) = sum_i p_i Phi(-x_i), which keeps precision as x_i grows.
        tail = ndtr(-(ndtri(alpha) + eta)) @ probs
        return _result(delta + tail, eps_arr, used, measured, r)
    if alpha > probs.min() * (1 + 1e-12):
        raise InputError(
            f"alpha / class_probs[i] must be <= 1 for every class in the F_alpha form "
            f"(alpha={alpha:g}, min class_probs={probs.min():g}); use per_class_risk=True "
            "or solve (A.4) exactly (robustness_bound_a4; on the command line --per-class-risk or --any-alpha)"
        )
    ratios = np.minimum(alpha / probs, 1.0)
    worst = (probs[None, :] * ndtr(ndtri(ratios)[None, :] + eta)).min(axis=1)
    return _result(1.0 + delta - worst, eps_arr, used, measured, r)


@dataclass(frozen=True)
class A4Solution:
    """Minimiser of (A.4).

    Attributes:
        value: the minimum of sum_i p_i Phi(Phi^-1(alpha_i) + eta_i).
        class_risks: the minimising alpha_i, shape (K,).
    """

    value: float
    class_risks: np.ndarray


def table3_bound(setting: "BoundSetting", eps: float | np.ndarray, lipschitz: object, *,
                 radius: float | None | _Unset = _UNSET) -> BoundResult:
    """Theorem 4.4 as Table 3 applies it: the per-class-risk form with a setting's alpha and delta.

    ``setting`` is one of :data:`intrinsic_rob.paper.TABLE3_SETTINGS`; the constants and
    their radius are the caller's (see :func:`robustness_bound`, whose cap keeps every
    value within Theorem 4.3's hypothesis).

    Example:
        >>> from intrinsic_rob import paper
        >>> mnist = paper.TABLE3_SETTINGS[0]
        >>> round(float(table3_bound(mnist, 3.0, mnist.lipschitz_means, radius=mnist.radius)), 4)  # Table 3: 97.2%
        0.9721
    """
    return robustness_bound(setting.alpha, eps, lipschitz, radius=radius, delta=setting.delta, per_class_risk=True)


#: The two classes of classifiers Theorem 4.4 bounds, as tables name them.
FORMS = {"per-class": "F~_alpha (every class's risk >= alpha)", "total": "F_alpha (total risk >= alpha)"}


def theorem44_rows(lmax: "dict[str, float]", *, radius: float, eps: "list[float]", alphas: "dict[str, float]",
                   deltas: "Mapping[str, float | Mapping[str, float]]", class_probs: np.ndarray) -> "pd.DataFrame":
    """Theorem 4.4's bound in both forms, per estimate of L_max, per alpha and per delta, as tidy rows.

    One row per (estimate, form, alpha, delta, eps): the per-class-risk form bounds F~_alpha
    (:func:`robustness_bound` with ``per_class_risk=True``, Table 3's form), the
    total-risk form F_alpha (:func:`robustness_bound_a4`, exact for any alpha). Both use
    L_max of each estimate, measured at ``radius``, and the cap of Theorem 4.3
    (``capped`` marks where eps > r * L_max raised L to eps / r).

    Args:
        lmax: L_max per estimate ("sample", "gradient", ...), measured at ``radius``.
        eps: the perturbation radii. alphas: alpha per name ("paper", "best classifier").
        deltas: Theorem 4.3's failure probability per name ("paper", "supported"): one value,
            or one per estimate (what the number of latents behind each constant supports,
            :func:`intrinsic_rob.estimators.lipschitz.supported_delta`).
        class_probs: p_i, shape (K,).

    Returns:
        Columns estimate, L_max, form, alpha_from, alpha, delta_from, delta, eps, bound, capped.

    Example:
        >>> rows = theorem44_rows({"sample": 2.0}, radius=0.5, eps=[1.0, 3.0], alphas={"paper": 0.015},
        ...                       deltas={"paper": 0.001}, class_probs=np.full(10, 0.1))
        >>> rows[["form", "eps", "capped"]].values.tolist()
        [['per-class', 1.0, False], ['per-class', 3.0, True], ['total', 1.0, False], ['total', 3.0, True]]
    """
    import pandas as pd

    rows = []
    for (estimate, value), form, (alpha_from, alpha), (delta_from, given) in itertools.product(
            lmax.items(), FORMS, alphas.items(), deltas.items()):
        delta = float(given[estimate] if isinstance(given, Mapping) else given)
        if form == "per-class":
            res = robustness_bound(alpha, eps, value, radius=radius, delta=delta, class_probs=class_probs,
                                   per_class_risk=True)
        else:
            res = robustness_bound_a4(alpha, eps, value, radius=radius, delta=delta, class_probs=class_probs)
        rows += [{"estimate": estimate, "L_max": float(value), "form": form, "alpha_from": alpha_from,
                  "alpha": float(alpha), "delta_from": delta_from, "delta": delta, "eps": float(e),
                  "bound": float(bound), "capped": bool(capped)}
                 for e, bound, capped in zip(res.eps, res.value, res.capped)]
    return pd.DataFrame(rows)


def _a4_objective(class_risks: np.ndarray, probs: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """sum_i p_i Phi(Phi^-1(alpha_i) + eta_i) over the last axis (alpha_i = 0 gives 0)."""
    return (probs * ndtr(ndtri(class_risks) + eta)).sum(axis=-1)


def solve_a4(
    alpha: float,
    eta: float | np.ndarray,
    class_probs: np.ndarray,
) -> A4Solution:
    """Exact minimum of the optimisation (A.4) of Appendix A.2.

        minimise   sum_i p_i Phi(Phi^-1(alpha_i) + eta_i)
        subject to sum_i p_i alpha_i >= alpha,  alpha_i in [0, 1].

    Each term h_i(a) = Phi(Phi^-1(a) + eta_i) is increasing and concave on [0, 1] for
    eta_i >= 0 (h_i'(a) = exp(-eta_i Phi^-1(a) - eta_i^2 / 2) decreases in a), so the
    minimum sits at a vertex of the feasible polytope: some classes at alpha_i = 1, at most
    one class fractional, the rest at 0. When alpha <= min_i p_i (the paper's proviso) the
    only such vertices put all the risk on one class, giving min_i p_i h_i(alpha / p_i).
    Otherwise the minimiser fills whole classes and this function finds it in closed form
    for uniform class probabilities, and by enumerating vertices for up to
    ``A4_ENUMERATION_MAX_CLASSES`` classes.

    Args:
        alpha: total risk in (0, 1).
        eta: eps / L_i, a scalar or shape (K,), each >= 0.
        class_probs: p_i, shape (K,), summing to 1.

    Example:
        >>> sol = solve_a4(0.05, 1.0, np.full(10, 0.1))
        >>> int(np.count_nonzero(sol.class_risks)), round(sol.value, 4)
        (1, 0.0841)
    """
    alpha = _alpha(alpha)
    probs = np.atleast_1d(as_float_array("class_probs", class_probs))
    if probs.ndim != 1:
        raise InputError(f"class_probs must be a 1-D list, got shape {probs.shape}")
    check_range("class_probs", probs, low=0.0, high=1.0, low_open=True)
    if abs(probs.sum() - 1.0) > 1e-6:
        raise InputError(f"class_probs must sum to 1, got {probs.sum():.6g}")
    k = probs.size
    eta_arr = np.atleast_1d(as_float_array("eta", eta))
    check_range("eta", eta_arr, low=0.0, high=math.inf, high_open=True)
    if eta_arr.size == 1:
        eta_arr = np.full(k, eta_arr[0])
    elif eta_arr.size != k:
        raise InputError(f"eta has {eta_arr.size} entries but class_probs has {k}")

    if alpha <= probs.min():
        candidates = np.diag(alpha / probs)  # row j: all risk on class j
    elif np.allclose(probs, probs[0], rtol=0, atol=1e-12):
        candidates = _uniform_candidates(alpha, k, eta_arr)
    elif k <= A4_ENUMERATION_MAX_CLASSES:
        candidates = _enumerated_candidates(alpha, probs)
    else:
        raise InputError(
            f"class_probs: an exact solution of (A.4) with alpha > min(class_probs) and "
            f"non-uniform probabilities is enumerated for at most "
            f"{A4_ENUMERATION_MAX_CLASSES} classes, got {k}"
        )
    values = _a4_objective(candidates, probs, eta_arr)
    best = int(np.argmin(values))
    return A4Solution(value=float(values[best]), class_risks=candidates[best].copy())


def _uniform_candidates(alpha: float, k: int, eta: np.ndarray) -> np.ndarray:
    """Vertices for p_i = 1/K: floor(alpha K) full classes plus one fractional class.

    A full class costs p_i h_i(1) = 1/K whatever its eta_i, so only the choice of the
    fractional class matters: one candidate row per class.
    """
    total = alpha * k
    full = min(int(math.floor(total + 1e-12)), k)
    frac = max(total - full, 0.0)
    rows = np.zeros((k, k))
    for j in range(k):
        others = [i for i in range(k) if i != j][:full]
        rows[j, others] = 1.0
        if frac > 0:
            rows[j, j] = frac
    return rows


def _enumerated_candidates(alpha: float, probs: np.ndarray) -> np.ndarray:
    """All vertices of {alpha_i in [0, 1], sum p_i alpha_i = alpha} plus full-class covers."""
    k = probs.size
    masks = np.array(list(itertools.product((0.0, 1.0), repeat=k)))  # (2^K, K)
    filled = masks @ probs
    rows = [masks[filled >= alpha - 1e-15]]  # subsets that already reach alpha
    for j in range(k):
        ok = (masks[:, j] == 0) & (filled < alpha)
        rest = (alpha - filled[ok]) / probs[j]
        keep = rest <= 1.0 + 1e-12
        block = masks[ok][keep].copy()
        block[:, j] = np.minimum(rest[keep], 1.0)
        rows.append(block)
    return np.concatenate(rows, axis=0)


def robustness_bound_a4(
    alpha: float,
    eps: float | np.ndarray,
    lipschitz: float | np.ndarray | LocalLipschitz,
    *,
    radius: float | None | _Unset = _UNSET,
    class_probs: np.ndarray | None = None,
    delta: float = 0.0,
    per_class_lipschitz: bool = False,
) -> BoundResult:
    """Theorem 4.4's F_alpha bound for any alpha: 1 + delta - min (A.4), solved exactly.

    Equals :func:`robustness_bound` (``per_class_risk=False``) whenever alpha <= min p_i,
    and extends it to the case alpha > min p_i that the paper leaves out (for instance
    ImageNet10, alpha = 0.15 with ten classes of probability 0.1). The radius and the cap
    on eps / L are as in :func:`robustness_bound`.

    Example (Table 2's L_max, r = 0.5):
        >>> res = robustness_bound_a4(0.15, 1.0, 14.9, radius=0.5, class_probs=np.full(10, 0.1))
        >>> round(float(res), 4)
        0.8473
    """
    alpha, eps_arr, probs, measured, used, delta, r = _theorem44_inputs(
        alpha, eps, lipschitz, class_probs, delta, per_class_lipschitz, radius
    )
    values = np.array([1.0 + delta - solve_a4(alpha, e / lip, probs).value
                       for e, lip in zip(eps_arr.ravel(), used)])
    return _result(values, eps_arr, used, measured, r)


# ---------------------------------------------------------------------------------------
# Fawzi, Fawzi and Fawzi (2018)
# ---------------------------------------------------------------------------------------


def fawzi_robustness_bound(eps: float | np.ndarray, lipschitz: float) -> np.ndarray:
    """Upper bound on robustness implied by Fawzi et al. (2018) for an L-Lipschitz generator.

    Their Theorem 1 (in the form where no class has probability above 1/2) gives
    P(r(x) <= eps) >= 1 - sqrt(pi / 2) exp(-(eps / L)^2 / 2), so the fraction of points
    that are robust at radius eps is at most sqrt(pi / 2) exp(-(eps / L)^2 / 2). It is
    vacuous (>= 1) while eps / L <= sqrt(ln(pi / 2)) ~= 0.672.

    Example:
        >>> round(float(fawzi_robustness_bound(3.0, 27.01)), 4)
        1.2456
    """
    eps_arr = _eps(eps)
    lip = as_float_array("lipschitz", lipschitz)
    if lip.ndim != 0:
        raise InputError("lipschitz must be a single number for the Fawzi et al. bound")
    check_range("lipschitz", lip, low=0.0, high=math.inf, low_open=True, high_open=True)
    return math.sqrt(math.pi / 2.0) * np.exp(-0.5 * (eps_arr / float(lip)) ** 2)


def fawzi_vacuous_radius(lipschitz: float) -> float:
    """Largest eps for which the Fawzi et al. bound is >= 1: L * sqrt(ln(pi / 2))."""
    check_range("lipschitz", lipschitz, low=0.0, high=math.inf, low_open=True, high_open=True)
    return float(lipschitz) * math.sqrt(math.log(math.pi / 2.0))


def fawzi_robustness_bound_general(
    eps: float | np.ndarray, lipschitz: float, class_probs: np.ndarray
) -> np.ndarray:
    """The general (per-class) form behind :func:`fawzi_robustness_bound`.

    For a single L-Lipschitz generator of a Gaussian latent and a classifier whose
    predicted classes C_i have probabilities p_i, Lemma 4.2 applied to the complement of
    each C_i gives P(r(x) <= eps) >= sum_i [Phi(a_i + eps / L) - Phi(a_i)] with
    Phi(a_i) = 1 - p_i (Fawzi et al., 2018, Theorem 1). The robust fraction is therefore
    at most sum_i [1 - Phi(Phi^-1(1 - p_i) + eps / L)], which equals 1 at eps = 0 and,
    unlike the simplified form, is never vacuous.

    Example:
        >>> round(float(fawzi_robustness_bound_general(3.0, 27.01, np.full(10, 0.1))), 4)
        0.8187
    """
    eps_arr = _eps(eps)
    lip, probs = _classes(lipschitz, class_probs)
    lip_max = float(lip.max())
    return gaussian_expansion_complement(1.0 - probs[None, :], eps_arr.reshape(-1, 1) / lip_max).sum(
        axis=1
    ).reshape(eps_arr.shape)


def minimise_a4_numerically(
    alpha: float,
    eta: float | np.ndarray,
    class_probs: np.ndarray,
    *,
    restarts: int = 20,
    rng: np.random.Generator | None = None,
) -> A4Solution:
    """Solve (A.4) with a general-purpose local optimiser, independently of :func:`solve_a4`.

    Works in the variables x_i = Phi^-1(alpha_i) (so that the objective
    sum_i p_i Phi(x_i + eta_i) is smooth; in alpha_i its gradient is infinite at 0) with
    the constraint sum_i p_i Phi(x_i) >= alpha, by SLSQP from ``restarts`` random starts.
    Being a local method on a concave problem, it can only find values >= the true minimum:
    it serves to check the closed form, not to replace it.
    """
    from scipy.optimize import minimize

    alpha = _alpha(alpha)
    probs = np.atleast_1d(as_float_array("class_probs", class_probs))
    eta_arr = np.broadcast_to(np.atleast_1d(as_float_array("eta", eta)), probs.shape)
    rng = rng or np.random.default_rng(0)
    lim = 12.0  # Phi(-12) ~ 1.8e-33: numerically a class with no risk

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        y = x + eta_arr
        return float(probs @ ndtr(y)), probs * np.exp(-0.5 * y**2) / math.sqrt(2 * math.pi)

    constraint = {
        "type": "ineq",
        "fun": lambda x: float(probs @ ndtr(x)) - alpha,
        "jac": lambda x: probs * np.exp(-0.5 * x**2) / math.sqrt(2 * math.pi),
    }
    best: A4Solution | None = None
    for _ in range(restarts):
        weights = rng.dirichlet(np.full(probs.size, 0.5))
        start = np.clip(weights * alpha / probs, 1e-9, 1 - 1e-9)
        x0 = np.clip(ndtri(start), -lim, lim)
        res = minimize(
            objective, x0, jac=True, method="SLSQP", constraints=[constraint],
            bounds=[(-lim, lim)] * probs.size, options={"maxiter": 500, "ftol": 1e-13},
        )
        x = res.x
        if probs @ ndtr(x) < alpha - 1e-7:  # infeasible end point: discard
            continue
        value = float(probs @ ndtr(x + eta_arr))
        if best is None or value < best.value:
            best = A4Solution(value, ndtr(x))
    if best is None:
        raise RuntimeError("no restart of SLSQP ended at a feasible point")
    return best
