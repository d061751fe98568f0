"""A conditional generative model in which Definitions 3.1-3.3 can be computed exactly.

Class i generates x = c_i + A_i z with z ~ N(0, I_d) (an affine d-dimensional "image
manifold" in R^n). The centres c_i = s e_i occupy the first K coordinates; every A_i maps
into the next d coordinates, so each manifold is orthogonal to the lines joining centres
and the ground truth f*(x) = nearest centre labels manifold i as i everywhere. One more
coordinate is left free so that a classifier's error region can lean off the manifold.

The classifier f agrees with f* except, inside the cell of centre i, on the region where
w_i(x) = <u_i, x - c_i> >= t_i (one-sided: a half-space) or |w_i(x)| >= t_i (two-sided:
the complement of a slab), where it answers (i + 1) mod K. The unit vector u_i has a
component cos(theta_i) * m_i inside the manifold's span and sin(theta_i) off it.

Then, with s_i = ||A_i^T u_i|| and c_i = ||P_i u_i|| (P_i projects on span A_i), for any
eps below half the distance between cells:

    Risk_i       = P(w >= t)              = Phi(-t / s)               (x2 if two-sided)
    AdvRisk_i    = P(w >= t - eps)        = Phi((eps - t) / s)
    In-AdvRisk_i = P(w >= t - eps * c_i)  = Phi((eps c_i - t) / s)

because the nearest point of the error region is eps along u_i in image space, and eps
along P_i u_i / ||P_i u_i|| when the perturbation must stay on the manifold. Each g_i is
globally L_i-Lipschitz with L_i = sigma_max(A_i), so Condition 4.1 holds with delta = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from intrinsic_rob.core.errors import InputError, check_range


@dataclass(frozen=True)
class LinearConditionalModel:
    """K affine class generators with a piecewise-linear classifier (see module docstring).

    Attributes:
        centers: (K, n) class centres c_i.
        maps: (K, n, d) matrices A_i.
        class_probs: (K,) p_i.
        directions: (K, n) unit vectors u_i defining the error regions.
        thresholds: (K,) t_i > 0.
        two_sided: error region |w| >= t (slab complement) instead of w >= t (half-space).
    """

    centers: np.ndarray
    maps: np.ndarray
    class_probs: np.ndarray
    directions: np.ndarray
    thresholds: np.ndarray
    two_sided: bool = False

    @property
    def num_classes(self) -> int:
        return self.centers.shape[0]

    @property
    def z_dim(self) -> int:
        return self.maps.shape[2]

    def generate(self, z: np.ndarray, label: int) -> np.ndarray:
        """g_label(z) = c + A z for z of shape (N, d); returns (N, n)."""
        return self.centers[label] + z @ self.maps[label].T

    def lipschitz(self) -> np.ndarray:
        """L_i = largest singular value of A_i, shape (K,)."""
        return np.array([np.linalg.norm(a, 2) for a in self.maps])

    def max_safe_eps(self) -> float:
        """Radii below this keep every eps-ball inside its own nearest-centre cell."""
        c = self.centers
        gaps = [np.linalg.norm(c[i] - c[j]) for i in range(len(c)) for j in range(i)]
        return 0.5 * min(gaps) if gaps else np.inf

    # ----- the classifier ------------------------------------------------------------

    def ground_truth(self, x: np.ndarray) -> np.ndarray:
        """f*(x): index of the nearest centre, shape (N,)."""
        d2 = ((x[:, None, :] - self.centers[None, :, :]) ** 2).sum(axis=2)
        return d2.argmin(axis=1)

    def _margin(self, x: np.ndarray, cell: np.ndarray) -> np.ndarray:
        return np.einsum("nd,nd->n", x - self.centers[cell], self.directions[cell])

    def classify(self, x: np.ndarray) -> np.ndarray:
        """f(x), shape (N,)."""
        cell = self.ground_truth(x)
        w = self._margin(x, cell)
        w = np.abs(w) if self.two_sided else w
        wrong = w >= self.thresholds[cell]
        return np.where(wrong, (cell + 1) % self.num_classes, cell)

    # ----- exact quantities (Definitions 3.1 and 3.3) -----------------------------------

    def _spread(self) -> tuple[np.ndarray, np.ndarray]:
        """s_i = ||A_i^T u_i|| and c_i = ||P_i u_i||."""
        s = np.einsum("knd,kn->kd", self.maps, self.directions)
        s = np.linalg.norm(s, axis=1)
        c = np.empty(self.num_classes)
        for i, (a, u) in enumerate(zip(self.maps, self.directions)):
            q, _ = np.linalg.qr(a)
            c[i] = np.linalg.norm(q.T @ u)
        return s, c

    def _tail(self, shift: np.ndarray) -> np.ndarray:
        """P(w >= t - shift) (or P(|w| >= t - shift)) per class, shift of shape (K,)."""
        s, _ = self._spread()
        level = (self.thresholds - shift) / s
        one = ndtr(-level)
        if not self.two_sided:
            return one
        return np.where(level > 0, 2.0 * one, 1.0)

    def _check_eps(self, eps: float) -> None:
        check_range("eps", eps, low=0.0, high=self.max_safe_eps(), high_open=True)

    def class_risks(self) -> np.ndarray:
        """Risk_{mu_i}(f), shape (K,)."""
        return self._tail(np.zeros(self.num_classes))

    def class_adv_risks(self, eps: float) -> np.ndarray:
        """AdvRisk_{mu_i}^eps(f), shape (K,)."""
        self._check_eps(eps)
        return self._tail(np.full(self.num_classes, eps))

    def class_in_adv_risks(self, eps: float) -> np.ndarray:
        """In-AdvRisk_{mu_i}^eps(f), shape (K,)."""
        self._check_eps(eps)
        _, c = self._spread()
        return self._tail(eps * c)

    def risk(self) -> float:
        return float(self.class_risks() @ self.class_probs)

    def adv_risk(self, eps: float) -> float:
        return float(self.class_adv_risks(eps) @ self.class_probs)

    def in_adv_risk(self, eps: float) -> float:
        return float(self.class_in_adv_risks(eps) @ self.class_probs)

    # ----- Monte Carlo with the optimal attacks ------------------------------------------

    def monte_carlo(self, eps: float, n: int, rng: np.random.Generator) -> dict[str, float]:
        """Estimate risk, adversarial risk and in-distribution adversarial risk.

        Samples (x, i) ~ mu, then attacks with the worst-case perturbation: eps along
        +-u_i (whichever side is nearer the error region) in image space, and the image of
        z + w with A_i w = eps P_i u_i / ||P_i u_i|| on the manifold. Every attacked point
        is checked to lie within eps of x and is labelled by the classifier itself.
        """
        self._check_eps(eps)
        labels = rng.choice(self.num_classes, size=n, p=self.class_probs)
        err = adv = inadv = 0
        for i in range(self.num_classes):
            m = int(np.count_nonzero(labels == i))
            if m == 0:
                continue
            z = rng.standard_normal((m, self.z_dim))
            x = self.generate(z, i)
            u = self.directions[i]
            side = np.sign(self._margin(x, np.full(m, i))) if self.two_sided else np.ones(m)
            side[side == 0] = 1.0
            x_adv = x + eps * side[:, None] * u[None, :]
            pinv = np.linalg.pinv(self.maps[i])
            proj = self.maps[i] @ (pinv @ u)
            norm = np.linalg.norm(proj)
            step = pinv @ (eps * proj / norm) if norm > 0 else np.zeros(self.z_dim)
            x_in = self.generate(z + side[:, None] * step[None, :], i)
            # Tolerance: x is ~separation in norm, so differences carry ~1e-14 rounding.
            slack = eps * (1 + 1e-9) + 1e-9 * (1 + np.abs(x).max())
            for attacked in (x_adv, x_in):
                if np.linalg.norm(attacked - x, axis=1).max() > slack:
                    raise RuntimeError("an attack left the eps-ball; the model is inconsistent")
            wrong = self.classify(x) != i
            err += int(wrong.sum())
            adv += int((wrong | (self.classify(x_adv) != i)).sum())
            inadv += int((wrong | (self.classify(x_in) != i)).sum())
        return {"risk": err / n, "adv_risk": adv / n, "in_adv_risk": inadv / n}


def make_linear_model(
    num_classes: int,
    z_dim: int,
    *,
    rng: np.random.Generator,
    tilt: float = 0.0,
    risk: float = 0.1,
    align_with_top_singular: bool = False,
    two_sided: bool = False,
    separation: float = 100.0,
    class_probs: np.ndarray | None = None,
) -> LinearConditionalModel:
    """A random :class:`LinearConditionalModel` whose classes all have the given risk.

    Args:
        num_classes: K >= 2.
        z_dim: latent dimension d >= 1.
        rng: source of the random maps and directions.
        tilt: angle theta in [0, pi/2) of the error boundary off the manifold; 0 keeps
            u_i on the manifold, so in-distribution and unconstrained risks coincide.
        risk: Risk_{mu_i}(f) of every class, in (0, 1).
        align_with_top_singular: put the on-manifold part of u_i along the top left
            singular vector of A_i, the case in which Theorem 4.3 is tight.
        two_sided: error regions are slab complements instead of half-spaces.
        separation: distance s between centres and the origin.
        class_probs: p_i; uniform when omitted.
    """
    if num_classes < 2:
        raise InputError(f"num_classes must be >= 2, got {num_classes}")
    if z_dim < 1:
        raise InputError(f"z_dim must be >= 1, got {z_dim}")
    check_range("tilt", tilt, low=0.0, high=np.pi / 2, high_open=True)
    check_range("risk", risk, low=0.0, high=1.0, low_open=True, high_open=True)
    k, d = num_classes, z_dim
    n = k + d + 1
    probs = np.full(k, 1.0 / k) if class_probs is None else np.asarray(class_probs, float)
    centers = np.zeros((k, n))
    centers[np.arange(k), np.arange(k)] = separation
    maps = np.zeros((k, n, d))
    directions = np.zeros((k, n))
    thresholds = np.empty(k)
    for i in range(k):
        a = rng.standard_normal((d, d)) * rng.uniform(0.5, 1.5) / np.sqrt(d)
        maps[i, k : k + d, :] = a
        if align_with_top_singular:
            m = np.linalg.svd(a)[0][:, 0]
        else:
            m = rng.standard_normal(d)
            m /= np.linalg.norm(m)
        directions[i, k : k + d] = np.cos(tilt) * m
        directions[i, k + d] = np.sin(tilt)
        s = np.linalg.norm(maps[i].T @ directions[i])
        # Risk = Phi(-t/s) (one-sided) or 2 Phi(-t/s) (two-sided).
        tail = risk / 2 if two_sided else risk
        thresholds[i] = -s * float(ndtri(tail))
    return LinearConditionalModel(centers, maps, probs, directions, thresholds, two_sided)

