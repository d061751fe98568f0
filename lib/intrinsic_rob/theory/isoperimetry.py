"""Sets in Gaussian space with exact measures of their r-expansions (Lemma 4.2 checks).

Each set knows its standard-Gaussian measure in dimension d, the exact measure of its
r-expansion E_r = {z : dist(z, E) <= r}, and the distance of a batch of points to it, so
that the expansion can also be measured by Monte Carlo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy.special import ndtr
from scipy.stats import chi2, norm

from intrinsic_rob.core.errors import InputError, check_range


class GaussianSet(Protocol):
    """A subset E of R^d with computable standard-Gaussian measures."""

    name: str

    def measure(self, d: int) -> float:
        """nu_d(E)."""

    def expansion_measure(self, d: int, r: float) -> float:
        """nu_d(E_r), exactly."""

    def distance(self, z: np.ndarray) -> np.ndarray:
        """dist(z, E) for z of shape (N, d); returns (N,)."""


@dataclass(frozen=True)
class HalfSpace:
    """E = {z : z_1 <= a}. Its expansion is {z_1 <= a + r}: Lemma 4.2 holds with equality."""

    a: float
    name: str = "half-space"

    def measure(self, d: int) -> float:
        return float(ndtr(self.a))

    def expansion_measure(self, d: int, r: float) -> float:
        return float(ndtr(self.a + r))

    def distance(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(z[:, 0] - self.a, 0.0)


@dataclass(frozen=True)
class Ball:
    """E = {z : ||z|| <= rho}; nu_d(E) = chi2_d CDF(rho^2)."""

    rho: float
    name: str = "ball"

    def measure(self, d: int) -> float:
        return float(chi2.cdf(self.rho**2, d))

    def expansion_measure(self, d: int, r: float) -> float:
        return float(chi2.cdf((self.rho + r) ** 2, d))

    def distance(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(np.linalg.norm(z, axis=1) - self.rho, 0.0)


@dataclass(frozen=True)
class BallComplement:
    """E = {z : ||z|| >= rho}; its r-expansion is {||z|| >= rho - r}."""

    rho: float
    name: str = "outside of a ball"

    def measure(self, d: int) -> float:
        return float(chi2.sf(self.rho**2, d))

    def expansion_measure(self, d: int, r: float) -> float:
        inner = self.rho - r
        return 1.0 if inner <= 0 else float(chi2.sf(inner**2, d))

    def distance(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(self.rho - np.linalg.norm(z, axis=1), 0.0)


@dataclass(frozen=True)
class HalfSpaceUnion:
    """E = union over j < k of {z : z_j >= a}; nu_d(E) = 1 - Phi(a)^k."""

    a: float
    k: int
    name: str = "union of half-spaces"

    def measure(self, d: int) -> float:
        return float(1.0 - ndtr(self.a) ** self.k)

    def expansion_measure(self, d: int, r: float) -> float:
        return float(1.0 - ndtr(self.a - r) ** self.k)

    def distance(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(self.a - z[:, : self.k], 0.0).min(axis=1)


def with_measure(kind: str, target: float, d: int, k: int = 2) -> GaussianSet:
    """A set of the given kind whose Gaussian measure in dimension d equals ``target``.

    Example:
        >>> round(with_measure("ball", 0.3, 10).measure(10), 12)
        0.3
    """
    check_range("target", target, low=0.0, high=1.0, low_open=True, high_open=True)
    if kind == "half-space":
        return HalfSpace(float(norm.ppf(target)))
    if kind == "ball":
        return Ball(float(np.sqrt(chi2.ppf(target, d))))
    if kind == "outside of a ball":
        return BallComplement(float(np.sqrt(chi2.isf(target, d))))
    if kind == "union of half-spaces":
        if not 1 <= k <= d:
            raise InputError(f"k must be in [1, d={d}], got {k}")
        return HalfSpaceUnion(float(norm.ppf((1.0 - target) ** (1.0 / k))), k)
    raise InputError(
        "kind must be one of 'half-space', 'ball', 'outside of a ball', "
        f"'union of half-spaces', got {kind!r}"
    )


@dataclass(frozen=True)
class MonteCarloEstimate:
    """A Monte Carlo probability with a Wilson score interval."""

    estimate: float
    low: float
    high: float
    n: int


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> MonteCarloEstimate:
    """Wilson score interval for a binomial proportion (95% by default)."""
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    p = successes / n
    denom = 1.0 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return MonteCarloEstimate(p, float(centre - half), float(centre + half), n)


def monte_carlo_expansion(
    gset: GaussianSet,
    d: int,
    r: float,
    n: int,
    rng: np.random.Generator,
    chunk: int = 50_000,
) -> MonteCarloEstimate:
    """Estimate nu_d(E_r) from n standard-Gaussian draws, in chunks of bounded memory."""
    check_range("r", r, low=0.0)
    hits = 0
    remaining = n
    while remaining > 0:
        m = min(chunk, remaining)
        z = rng.standard_normal((m, d))
        hits += int(np.count_nonzero(gset.distance(z) <= r))
        remaining -= m
    return wilson_interval(hits, n)
