"""PGD with the l2 norm (Madry et al., 2018): the attack behind Section 5.3's robust accuracy.

Each step moves every image along its normalised loss gradient and projects back onto the
l2 ball of radius eps around the clean image and onto [0, 1]
(:func:`intrinsic_rob.theory.geometry.project_ball_and_box`). Two choices differ from the
original evaluation (book appendix, defect 5), and both can be switched back to measure
what they change: a random start, uniform in the ball; and the best iterate per example
rather than the last, so an example misclassified at any step stays adversarial.
Restarts are tiled into the batch (one forward and backward pass per step for all of
them); the best over restarts is kept per example.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from intrinsic_rob.core.devices import device_of, eval_mode, frozen_parameters
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.core.progress import progress_bar
from intrinsic_rob.core.validation import Checked, bounded, check_value
from intrinsic_rob.theory.geometry import normalized_step, project_ball_and_box, sample_ball_offsets


@dataclass(frozen=True)
class PGDResult:
    """The attack's output for a batch of B images.

    Attributes:
        x_adv: (B, ...) adversarial images in [0, 1], each within eps of its clean image.
        fooled: (B,) bool, whether the model misclassifies ``x_adv``.
    """

    x_adv: torch.Tensor
    fooled: torch.Tensor


@dataclass(frozen=True)
class PGDSettings(Checked):
    """One PGD-L2 attack's settings (see :func:`pgd_l2`); checked when built.

    Example:
        >>> PGDSettings(eps=2.0, step_size=0.3, steps=100).restarts
        1
    """

    eps: float = bounded(low=0, low_open=True)
    step_size: float = bounded(low=0, low_open=True)
    steps: int = bounded(low=1, integer=True)
    random_start: bool = True
    restarts: int = bounded(1, low=1, integer=True)
    seed: int = bounded(0, low=0, integer=True)
    best_iterate: bool = True


def l2_ascent_step(x_adv: torch.Tensor, grad: torch.Tensor, x: torch.Tensor, eps: float,
                   step_size: float) -> torch.Tensor:
    """One projected l2 ascent step: x_adv moved ``step_size`` along its normalised gradient, then brought back
    onto B(x, eps) and the box [0, 1] (:func:`~intrinsic_rob.theory.geometry.project_ball_and_box`).

    The step of PGD-L2 (Madry et al., 2018) and of the robust-training losses' inner
    maximisation. Shapes: ``x_adv``, ``grad`` and ``x`` are (B, ...); returns (B, ...),
    without a graph.

    Example:
        >>> x = torch.zeros(1, 2)
        >>> l2_ascent_step(x, torch.tensor([[3.0, 4.0]]), x, eps=1.0, step_size=0.5)
        tensor([[0.3000, 0.4000]])
    """
    with torch.no_grad():
        moved = normalized_step(x_adv.detach().flatten(1), grad.flatten(1), step_size).view_as(x_adv)
        return project_ball_and_box(moved, x, eps)


def projected_ascent(objective: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, start: torch.Tensor,
                     eps: float, step_size: float, steps: int) -> torch.Tensor:
    """Projected normalised-gradient ascent of a scalar ``objective`` over B(x, eps) intersected with [0, 1]^D.

    ``start`` (B, ...) is the initial offset; the start and every step
    (:func:`l2_ascent_step`) are brought back onto the ball and the box. Gradients are
    taken with respect to the input only (``torch.autograd.grad``): no parameter's
    ``.grad`` is touched. Returns the last iterate (B, ...), detached; with eps = 0 every
    iterate is exactly x.

    Example:
        >>> x = torch.full((2, 3), 0.5)
        >>> x_adv = projected_ascent(lambda xa: xa.sum(), x, torch.zeros_like(x), eps=0.3, step_size=0.2, steps=5)
        >>> [round(v, 4) for v in (x_adv - x).norm(dim=1).tolist()]
        [0.3, 0.3]
    """
    x = x.detach()
    x_adv = project_ball_and_box(x + start, x, eps)
    with torch.enable_grad():
        for _ in range(steps):
            x_adv.requires_grad_(True)
            (grad,) = torch.autograd.grad(objective(x_adv), x_adv)
            x_adv = l2_ascent_step(x_adv, grad, x, eps, step_size)
    return x_adv.detach()


def _step(model: nn.Module, x_adv: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, eps: float,
          step_size: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One PGD-L2 step from x_adv: (the next iterate, the logits at x_adv, the loss per row at x_adv)."""
    x_adv = x_adv.detach().requires_grad_(True)
    logits = model(x_adv)
    loss = F.cross_entropy(logits, ys, reduction="none")
    (grad,) = torch.autograd.grad(loss.sum(), x_adv)
    return l2_ascent_step(x_adv, grad, xs, eps, step_size), logits.detach(), loss.detach()


def _ascend_best(model: nn.Module, x_adv: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, best: torch.Tensor,
                 best_loss: torch.Tensor, best_fooled: torch.Tensor, eps: float, step_size: float,
                 steps: int) -> None:
    """PGD keeping each row's best iterate in ``best``/``best_loss``/``best_fooled`` (updated in place).

    A row is dropped from the batch as soon as one of its iterates is misclassified: that
    iterate is kept and no later step can improve on it, so the remaining steps run on the
    rows still correctly classified only (the result is the same as attacking every row
    to the end; the model must treat the rows of a batch independently, as any classifier
    in eval mode does). The clean image is an iterate too: a row the model already
    misclassifies keeps it (it is in the ball) and takes no step.
    """
    with torch.no_grad():
        clean_fooled = model(xs).argmax(1) != ys
    best[clean_fooled] = xs[clean_fooled]
    best_fooled |= clean_fooled
    active = torch.nonzero(~clean_fooled).flatten()
    if active.numel() == 0:
        return
    current = x_adv[active]
    for t in range(steps + 1):
        if t < steps:
            following, logits, loss = _step(model, current, xs[active], ys[active], eps, step_size)
        else:
            with torch.no_grad():
                logits = model(current)
                loss = F.cross_entropy(logits, ys[active], reduction="none")
        with torch.no_grad():
            fooled = logits.argmax(1) != ys[active]
            # misclassified beats not; among equals, the higher loss
            better = fooled | (loss > best_loss[active])
            rows = active[better]
            best[rows] = current[better]
            best_loss[rows] = loss[better]
            best_fooled[active[fooled]] = True
            if t == steps:
                return
            keep = ~fooled
            if not bool(keep.any()):
                return
            active, current = active[keep], following[keep]


def pgd_l2_detailed(model: nn.Module, x: torch.Tensor, y: torch.Tensor, settings: PGDSettings) -> PGDResult:
    """:func:`pgd_l2` with whether each example was fooled (see there for what it does).

    Example:
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        >>> res = pgd_l2_detailed(model, torch.rand(3, 1, 2, 2), torch.tensor([0, 1, 0]),
        ...                       PGDSettings(eps=0.5, step_size=0.1, steps=10))
        >>> tuple(res.x_adv.shape), res.fooled.dtype
        ((3, 1, 2, 2), torch.bool)
    """
    eps, step_size, steps, restarts = settings.eps, settings.step_size, settings.steps, settings.restarts
    if x.shape[0] != y.shape[0]:
        raise InputError(f"x and y must hold the same number of examples, got {x.shape[0]} and {y.shape[0]}")
    device = device_of(model)
    x = x.to(device)
    y = y.to(device)
    b = x.shape[0]
    xs = x.repeat(restarts, *([1] * (x.dim() - 1)))  # restart k of example i is row k * B + i
    ys = y.repeat(restarts)
    if settings.random_start:
        # From a CPU generator of its own: the same starts on every device, the caller's state untouched.
        rng = torch.Generator().manual_seed(settings.seed)
        start = sample_ball_offsets(1, xs.shape[0], xs[0].numel(), eps, rng)[0].to(device, xs.dtype)
        x_adv = project_ball_and_box(xs + start.view_as(xs), xs, eps)
    else:
        x_adv = xs.clone()
    best = x_adv.clone()
    best_loss = torch.full((xs.shape[0],), -float("inf"), device=device)
    best_fooled = torch.zeros(xs.shape[0], dtype=torch.bool, device=device)
    # no graph for the parameters: only the input's gradient is needed
    with frozen_parameters(model), eval_mode(model), torch.enable_grad():
        if settings.best_iterate:
            _ascend_best(model, x_adv, xs, ys, best, best_loss, best_fooled, eps, step_size, steps)
        else:
            for t in range(steps):
                x_adv = _step(model, x_adv, xs, ys, eps, step_size)[0]
            best = x_adv
            with torch.no_grad():
                best_fooled = model(best).argmax(1) != ys
    # The best restart per example: fooled first, then the highest loss.
    if restarts > 1:
        score = best_fooled.float() * 1e30 + torch.nan_to_num(best_loss, neginf=-1e30)
        pick = score.view(restarts, b).argmax(0)
        rows = pick * b + torch.arange(b, device=device)
        best, best_fooled = best[rows], best_fooled[rows]
    return PGDResult(best.detach(), best_fooled)


def pgd_l2(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    step_size: float,
    steps: int,
    random_start: bool = True,
    restarts: int = 1,
    seed: int = 0,
    best_iterate: bool = True,
) -> torch.Tensor:
    """PGD-L2 (Madry et al., 2018): adversarial images within eps (l2) of x, in [0, 1].

    Maximises the cross-entropy by ``steps`` normalised gradient steps of length
    ``step_size``, each projected onto the l2 ball of radius ``eps`` around x and onto
    [0, 1]. ``random_start`` starts from a point uniform in the ball (from a generator
    seeded with ``seed``; the caller's random state is untouched); ``restarts`` runs that
    many starts at once, tiled into the batch, and keeps the best per example. With
    ``best_iterate`` (the default) the iterate kept for each example is a misclassified
    one if any step found one (else the one of highest loss), so an example fooled at any
    step stays fooled, and an example already misclassified is returned unchanged;
    ``best_iterate=False, random_start=False`` is the original
    evaluation (book appendix, defect 5). The model runs in eval mode and gets its mode back;
    no gradient is computed or graph built for its parameters.

    Args:
        model: a classifier, (B, ...) images in [0, 1] -> (B, K) logits.
        x: (B, ...) clean images in [0, 1]. y: (B,) labels.
        eps: l2 radius (> 0). step_size: length of each step (> 0). steps: >= 1.
        restarts: random starts per example (>= 1); seed: seeds them.

    Returns:
        (B, ...) adversarial images on the model's device, ``||x_adv - x||_2 <= eps`` per example.

    Example:
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        >>> x, y = torch.rand(3, 1, 2, 2), torch.tensor([0, 1, 0])
        >>> x_adv = pgd_l2(model, x, y, eps=0.5, step_size=0.1, steps=10)
        >>> bool(((x_adv - x).flatten(1).norm(dim=1) <= 0.5 + 1e-6).all()), bool(x_adv.min() >= 0)
        (True, True)
    """
    settings = PGDSettings(eps, step_size, steps, random_start, restarts, seed, best_iterate)
    return pgd_l2_detailed(model, x, y, settings).x_adv


def robust_outcomes(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    step_size: float,
    steps: int,
    batch_size: int = 256,
    progress: bool = False,
    **options: Any,
) -> torch.Tensor:
    """Per example, whether the model still classifies it correctly under :func:`pgd_l2`.

    ``options`` are :func:`pgd_l2`'s others (``random_start``, ``restarts``, ``seed``,
    ``best_iterate``). Works through the data in batches of ``batch_size`` (only one
    batch is on the device at a time); batch k uses seed ``seed + k``, so an example's
    outcome does not depend on how many batches ran before. An example the model already
    misclassifies counts as not robust. The outcomes, digit by digit, are what a paired
    comparison with another attack on the same examples needs.

    Returns:
        (B,) bool on the CPU: True where no adversarial example was found within eps.

    Example:
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        >>> x, y = torch.rand(8, 1, 2, 2), torch.randint(0, 2, (8,))
        >>> robust_outcomes(model, x, y, eps=0.5, step_size=0.1, steps=5).shape
        torch.Size([8])
    """
    check_value("batch_size", batch_size, low=1, integer=True)
    settings = PGDSettings(eps=eps, step_size=step_size, steps=steps, **options)
    outcomes = []
    starts = range(0, x.shape[0], batch_size)
    for k, start in enumerate(progress_bar(starts, desc=f"PGD-L2 eps={eps:g}", enabled=progress, unit="batch")):
        res = pgd_l2_detailed(model, x[start : start + batch_size], y[start : start + batch_size],
                              replace(settings, seed=settings.seed + k))
        outcomes.append(~res.fooled.cpu())
    return torch.cat(outcomes) if outcomes else torch.zeros(0, dtype=torch.bool)


def robust_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, **settings: Any) -> float:
    """The fraction of (x, y) the model still classifies correctly under :func:`pgd_l2`.

    The mean of :func:`robust_outcomes`, which takes the same ``settings`` (``eps``,
    ``step_size``, ``steps``, ``batch_size``, ``progress`` and :func:`pgd_l2`'s options).
    An example the model already misclassifies counts as not robust.

    Example:
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        >>> x, y = torch.rand(8, 1, 2, 2), torch.randint(0, 2, (8,))
        >>> 0.0 <= robust_accuracy(model, x, y, eps=0.5, step_size=0.1, steps=5) <= 1.0
        True
    """
    outcomes = robust_outcomes(model, x, y, **settings)
    return 1.0 - int((~outcomes).sum()) / x.shape[0]
