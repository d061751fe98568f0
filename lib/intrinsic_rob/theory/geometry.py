"""Geometry of l2 balls: uniform sampling, ratios, gradient steps and projections.

One home for the l2-ball arithmetic that several parts of the project share:

* Algorithm 1 (Section 5.2) draws neighbours uniformly from the latent ball B(z, r)
  (:func:`sample_ball_offsets`) and takes the ratio ||g(z') - g(z)|| / ||z' - z||
  (:func:`safe_ratio`);
* the gradient-based strengthening of Algorithm 1 in :mod:`intrinsic_rob.estimators.lipschitz` takes
  normalised gradient steps (:func:`normalized_step`), projects back into the ball
  (:func:`project_ball`) and keeps away from the centre (:func:`keep_off_centre`);
* a PGD-L2 attack (the empirical robustness the paper compares the intrinsic robustness
  with) and a latent-space attack use the same steps and project onto the l2 ball around
  the clean input intersected with the image box (:func:`project_box`,
  :func:`project_ball_and_box`).

Tensors of points are ``(..., d)``: one point per row, the l2 norm taken over the last
dimension, except :func:`project_ball_and_box`, which works on whole images ``(B, ...)``.
The arithmetic of each function is fixed (the Lipschitz estimates are reproducible to the
bit), so change it only together with the recorded results.
"""

from __future__ import annotations

from typing import Literal

import torch

from intrinsic_rob.core.errors import InputError

Directions = Literal["uniform", "orthant"]

#: Smallest norm divided by in the steps and projections (keeps 0 / 0 finite).
_TINY_NORM = 1e-30


def sample_ball_offsets(
    batch: int, count: int, dim: int, radius: float, generator: torch.Generator,
    directions: Directions = "uniform", device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Offsets (batch, count, dim) uniform in the l2 ball of the given radius around 0.

    ``directions="uniform"`` takes a Gaussian direction (uniform on the sphere) and radius
    r U^(1/d), U uniform on [0, 1), which makes the point uniform in the ball.
    ``"orthant"`` reproduces the original implementation's defect: directions from a
    uniform [0, 1) cube, normalised, so all lie in the positive orthant. The draws come
    from ``generator`` on the CPU (directions first, then radii), so results do not depend
    on ``device``, where the offsets are moved at the end.

    Used by Algorithm 1 (Section 5.2) for the N neighbours z' of each latent z, and by the
    gradient estimator for its random starting points.

    Args:
        batch: leading dimension (independent groups of offsets).
        count: offsets per group.
        dim: d, the dimension of the space (the latent dimension).
        radius: r, the ball's radius.
        generator: the random generator (a CPU ``torch.Generator``).
        directions: ``"uniform"`` or ``"orthant"``.
        device: where the returned tensor lives.

    Returns:
        (batch, count, dim) offsets, each of norm at most r.

    Example:
        >>> rng = torch.Generator().manual_seed(0)
        >>> d = sample_ball_offsets(2, 5, 3, 0.5, rng)
        >>> tuple(d.shape), bool((d.norm(dim=-1) <= 0.5).all())
        ((2, 5, 3), True)
        >>> bool((sample_ball_offsets(1, 5, 3, 0.5, rng, directions="orthant") >= 0).all())
        True
    """
    shape = (batch, count, dim)
    if directions == "uniform":
        raw = torch.randn(shape, generator=generator)
    elif directions == "orthant":
        raw = torch.rand(shape, generator=generator)
    else:
        raise InputError(f"directions must be 'uniform' or 'orthant', got {directions!r}")
    unit = raw / raw.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(raw.dtype).tiny)
    radii = radius * torch.rand(batch, count, 1, generator=generator).pow(1.0 / dim)
    return (unit * radii).to(device)


def safe_ratio(diff_norm: torch.Tensor, step_norm: torch.Tensor) -> torch.Tensor:
    """diff_norm / step_norm elementwise, defined as 0 where the step is 0 (never NaN or inf).

    Algorithm 1's ratio ||g(z') - g(z)|| / ||z' - z|| (Section 5.2), for both the sampled and
    the gradient estimator: a neighbour at distance 0 contributes 0 rather than NaN.

    Args:
        diff_norm: (...) norms of the output differences.
        step_norm: (...) norms of the input steps (same shape, or broadcastable).

    Returns:
        (...) the ratios.

    Example:
        >>> safe_ratio(torch.tensor([1.0, 2.0, 0.0]), torch.tensor([0.5, 0.0, 0.0]))
        tensor([2., 0., 0.])
    """
    ok = step_norm > 0
    return torch.where(ok, diff_norm / torch.where(ok, step_norm, torch.ones_like(step_norm)),
                       torch.zeros_like(diff_norm))


def normalized_step(x: torch.Tensor, grad: torch.Tensor, size: float) -> torch.Tensor:
    """x + size * grad / ||grad|| per row: a step of length ``size`` along the gradient.

    A zero gradient gives no step (its norm is clamped at 1e-30 before dividing). This is
    the ascent step of the gradient estimator of the local Lipschitz constant
    (:mod:`intrinsic_rob.estimators.lipschitz`, ``method="gradient"``) and of PGD-L2.

    Args:
        x: (..., d) current points.
        grad: (..., d) gradients at ``x``.
        size: step length.

    Returns:
        (..., d) the moved points.

    Example:
        >>> step = normalized_step(torch.zeros(2, 2), torch.tensor([[3.0, 4.0], [0.0, 0.0]]), 0.5)
        >>> step
        tensor([[0.3000, 0.4000],
                [0.0000, 0.0000]])
    """
    direction = grad / grad.norm(dim=-1, keepdim=True).clamp_min(_TINY_NORM)
    return x + size * direction


def project_ball(offsets: torch.Tensor, radius: float) -> torch.Tensor:
    """Rows of ``offsets`` projected onto the l2 ball of radius r around the origin.

    offsets * min(1, r / ||offsets||) per row: rows inside the ball are unchanged, rows
    outside are scaled back to the sphere. Used by the gradient estimator of the local
    Lipschitz constant to stay in B(z, r) (Condition 4.1), and by PGD-L2 (through
    :func:`project_ball_and_box`).

    Args:
        offsets: (..., d) offsets from the ball's centre.
        radius: r.

    Returns:
        (..., d) offsets of norm at most r.

    Example:
        >>> project_ball(torch.tensor([[3.0, 4.0], [0.3, 0.4]]), 1.0)
        tensor([[0.6000, 0.8000],
                [0.3000, 0.4000]])
    """
    norms = offsets.norm(dim=-1, keepdim=True)
    return offsets * torch.clamp(radius / norms.clamp_min(_TINY_NORM), max=1.0)


def keep_off_centre(offsets: torch.Tensor, floor: float) -> torch.Tensor:
    """Rows of ``offsets`` shorter than ``floor`` scaled up to length ``floor``; others unchanged.

    The gradient estimator of the local Lipschitz constant keeps its points at least
    1e-3 r from z, where the ratio ||g(z') - g(z)|| / ||z' - z|| is well defined. A zero row
    stays zero (no direction to scale along).

    Args:
        offsets: (..., d) offsets from the centre.
        floor: the smallest allowed norm.

    Returns:
        (..., d) offsets.

    Example:
        >>> keep_off_centre(torch.tensor([[0.03, 0.04], [3.0, 4.0], [0.0, 0.0]]), 0.5)
        tensor([[0.3000, 0.4000],
                [3.0000, 4.0000],
                [0.0000, 0.0000]])
    """
    norms = offsets.norm(dim=-1, keepdim=True)
    return torch.where(norms < floor, offsets * floor / norms.clamp_min(_TINY_NORM), offsets)


def project_box(x: torch.Tensor, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    """x clamped elementwise to [low, high], the projection onto the box (images in [0, 1]).

    Keeps an adversarial example a valid image (PGD-L2, latent-space attacks).

    Args:
        x: (...) any tensor.
        low, high: the box's bounds.

    Returns:
        (...) the clamped tensor.

    Example:
        >>> project_box(torch.tensor([-0.5, 0.25, 1.5]))
        tensor([0.0000, 0.2500, 1.0000])
    """
    return x.clamp(low, high)


def project_ball_and_box(
    x_adv: torch.Tensor, x: torch.Tensor, radius: float, low: float = 0.0, high: float = 1.0,
) -> torch.Tensor:
    """A perturbed point brought back into B(x, r) intersected with the box [low, high]^D.

    First the perturbation x_adv - x is projected onto the l2 ball of radius r (its norm
    taken over all but the first dimension, one image per row), then the result is
    clamped to the box; this is PGD-L2's projection. Clamping a point of B(x, r) with x in
    the box never moves it further from x, so the result lies in both sets (it is not the
    exact Euclidean projection onto the intersection, which PGD-L2 does not use either).

    Args:
        x_adv: (B, ...) perturbed points (e.g. images (B, C, H, W)).
        x: (B, ...) the clean points, in the box.
        radius: r, the l2 budget per point.
        low, high: the box's bounds.

    Returns:
        (B, ...) points within distance r of ``x`` and in the box.

    Example:
        >>> x = torch.tensor([[0.5, 0.5], [0.9, 0.5]])
        >>> project_ball_and_box(x + torch.tensor([[0.3, 0.4], [0.6, 0.0]]), x, 0.25)
        tensor([[0.6500, 0.7000],
                [1.0000, 0.5000]])
    """
    delta = project_ball((x_adv - x).flatten(1), radius).reshape_as(x)
    return project_box(x + delta, low, high)
