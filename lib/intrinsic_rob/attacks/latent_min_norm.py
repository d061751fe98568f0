"""A minimum-norm in-distribution attack built to converge: an augmented Lagrangian in latent space.

Section 5.4's attack solves (5.2), min_z ||G(z, y) - x||_2 + lambda * loss, with a binary
search on lambda in which every round restarts from the initial latent (Appendix B.2).
Most of its budget goes into rounds at lambdas that are then discarded. The field's
minimum-norm attacks instead solve the constrained problem once,

    min_z  d(z) = ||G(z, y) - x||_2   subject to   c(z) = f_y(G(z, y)) - max_{j != y} f_j(G(z, y)) + tau <= 0,

learning the multiplier as they go. This module does so as ALMA does in image space
(Rony et al., 2021), with the perturbation replaced by the latent z, which needs no
projection: each step takes the gradient of the augmented Lagrangian
d(z) + P(c(z); rho, mu) with the Powell-Hestenes-Rockafellar penalty
P(c; rho, mu) = (max(0, mu + rho c)^2 - mu^2) / (2 rho), moves z by RMSProp with a
learning rate that decays exponentially over the budget, moves each example's multiplier
mu towards max(0, mu + rho c) (an exponential average), and every few steps raises its
penalty rho where the constraint is violated and not shrinking. Every iterate that is misclassified (by a
margin ``tau``, so that re-evaluating its image in another batch cannot flip it) and
closer than the best so far is kept, with the exact image its distance was measured on.

The distance is not convex in z, and one descent ends at the boundary point it reaches
first: on the quick profile's ACGAN and TRADES model, runs that differ only in their
starting multiplier end more than a quarter apart on some digits. A budget larger than
``run_length`` is therefore spent in several runs (:func:`run_plan`): most of it in
exploring runs from the initial latent, each with its own starting multiplier and step
schedule, and a share ``refine_share`` in refining runs that start from the best point
found so far with smaller steps, since an exploring run's last point still lies a
percent or so short of the boundary point it was descending to. The best point of all
runs is kept.

One step is one propagation per example: a forward and a backward pass of generator and
classifier. ``budget`` is the number of steps, and :class:`LatentMinNormResult` carries
each example's best-so-far distance at the budgets asked for (``trace_at``), the field's
way to compare attacks (AttackBench; adv-lib's ``run_attack``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn as nn

from intrinsic_rob.attacks.in_distribution import InDistributionResult, _check_inputs, _resolve_z_init
from intrinsic_rob.core.devices import device_of, eval_mode, frozen_parameters
from intrinsic_rob.core.validation import check_value


@dataclass(frozen=True)
class LatentMinNormResult(InDistributionResult):
    """:class:`~intrinsic_rob.attacks.InDistributionResult` with the best-so-far trace.

    Attributes:
        trace_budgets: the budgets (propagations per example) of ``trace``'s rows.
        trace: (len(trace_budgets), B) each example's best distance after that many
            propagations (inf until one was found; 0 for one already misclassified).
    """

    trace_budgets: tuple[int, ...] = ()
    trace: torch.Tensor | None = None


#: Run k of :func:`latent_min_norm_attack` multiplies ``mu_init``, ``lr_init`` and
#: ``lr_reduction`` by ``RUN_SCHEDULE[k % len(RUN_SCHEDULE)]`` (the reduction capped at 1):
#: the default run first, then a slower, less decaying one with a larger starting
#: multiplier, then other pairs. Runs that differ so end at different points of the boundary.
RUN_SCHEDULE: tuple[tuple[float, float, float], ...] = (
    (1.0, 1.0, 1.0), (10.0, 0.3, 10.0), (10.0, 1.0, 1.0), (1.0, 0.3, 10.0), (0.1, 1.0, 1.0))
#: The refining runs' factors, as :data:`RUN_SCHEDULE`'s: steps ten, thirty and a hundred
#: times smaller than an exploring run's, from the best point found.
REFINE_SCHEDULE: tuple[tuple[float, float, float], ...] = ((1.0, 0.1, 0.1), (1.0, 0.03, 1.0), (1.0, 0.01, 1.0))


@dataclass(frozen=True)
class PlannedRun:
    """One run of :func:`latent_min_norm_attack`: its steps, its factors on ``mu_init``,
    ``lr_init`` and ``lr_reduction``, and whether it starts from the best point found."""

    steps: int
    mu_factor: float
    lr_factor: float
    reduction_factor: float
    from_best: bool


def run_plan(budget: int, run_length: int = 1500, refine_share: float = 0.3) -> tuple[PlannedRun, ...]:
    """How :func:`latent_min_norm_attack` spends ``budget`` steps.

    A budget of at most ``run_length`` is one exploring run. A larger one keeps
    ``refine_share`` of it (rounded) for the :data:`REFINE_SCHEDULE` runs from the best
    point, in equal parts, and spends the rest in ceil(rest / run_length) exploring runs
    of near-equal length with :data:`RUN_SCHEDULE`'s factors (cycling). The steps sum to
    ``budget``.

    Example:
        >>> [(r.steps, r.from_best) for r in run_plan(1000)]
        [(1000, False)]
        >>> [r.steps for r in run_plan(10_000)], sum(r.from_best for r in run_plan(10_000))
        ([1400, 1400, 1400, 1400, 1400, 1000, 1000, 1000], 3)
    """
    check_value("budget", budget, low=1, integer=True)
    check_value("run_length", run_length, low=1, integer=True)
    check_value("refine_share", refine_share, low=0, high=1, high_open=True)
    refine = int(round(budget * refine_share)) if budget > run_length else 0
    refine_runs = min(len(REFINE_SCHEDULE), refine)
    explore = budget - refine
    runs = -(-explore // run_length)
    plan = [PlannedRun(explore // runs + (k < explore % runs), *RUN_SCHEDULE[k % len(RUN_SCHEDULE)], False)
            for k in range(runs)]
    plan += [PlannedRun(refine // refine_runs + (k < refine % refine_runs), *REFINE_SCHEDULE[k], True)
             for k in range(refine_runs)]
    return tuple(plan)


def phr_penalty(c: torch.Tensor, rho: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """The Powell-Hestenes-Rockafellar penalty for an inequality constraint c <= 0, elementwise.

    P(c; rho, mu) = (max(0, mu + rho c)^2 - mu^2) / (2 rho); its derivative in c is
    max(0, mu + rho c), the multiplier estimate the method moves towards.

    Example:
        >>> c = torch.tensor([-1.0, 0.0, 2.0])
        >>> phr_penalty(c, torch.ones(3), torch.ones(3)).tolist()
        [-0.5, 0.0, 4.0]
    """
    return (torch.relu(mu + rho * c).square() - mu.square()) / (2 * rho)


def margin_constraint(logits: torch.Tensor, y: torch.Tensor, tau: float) -> torch.Tensor:
    """c = f_y - max_{j != y} f_j + tau: at most 0 exactly when the image is misclassified by ``tau``.

    Example:
        >>> margin_constraint(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0]), 0.5).tolist()
        [1.5, -2.5]
    """
    true = logits.gather(1, y[:, None])[:, 0]
    other = logits.scatter(1, y[:, None], -math.inf).max(1).values
    return true - other + tau


def latent_min_norm_attack(
    generator: nn.Module,
    classifier: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    z_init: torch.Tensor | str,
    budget: int = 1000,
    run_length: int = 1500,
    refine_share: float = 0.3,
    lr_init: float = 0.1,
    lr_reduction: float = 0.01,
    mu_init: float = 1.0,
    rho_init: float = 1.0,
    rho_growth: float = 1.2,
    rho_every: int = 10,
    mu_decay: float = 0.9,
    rms_decay: float = 0.99,
    tau: float = 1e-5,
    trace_at: Sequence[int] = (),
    seed: int = 0,
    recorded_z: torch.Tensor | None = None,
    fit_steps: int = 1000,
    fit_restarts: int = 3,
    fit_lr: float = 0.01,
) -> LatentMinNormResult:
    """Minimal in-distribution adversarial examples by an augmented Lagrangian in latent space.

    See the module's docstring for the method. The budget (propagations per example) is
    spent in the runs of :func:`run_plan` (``run_length``, ``refine_share``), one after
    another, each with a fresh multiplier, penalty and optimiser: exploring runs from the
    initial latent, run k scaling ``mu_init``, ``lr_init`` and ``lr_reduction`` by the
    k-th entry of :data:`RUN_SCHEDULE` so that the runs descend to different points of
    the decision boundary, then refining runs from each example's best point so far
    (:data:`REFINE_SCHEDULE`; an example with none starts from the initial latent). The
    best over all runs is kept. Within a run the learning rate
    decays exponentially from its initial value by its reduction; every ``rho_every`` steps ``rho_growth`` multiplies the
    penalty where the constraint is violated and has not fallen below 95% of its value at
    the previous check; ``mu_decay`` is the multiplier's averaging factor and
    ``rms_decay`` RMSProp's (with bias correction, so the first step moves every latent
    coordinate by the learning rate). An image counts as misclassified when another logit
    beats the true one by more than ``tau``. The best distance read at budget b
    (``trace_at``) is this run's best after b steps; a run given budget b plans its
    steps for b, and usually ends closer.
    ``z_init`` is as for :func:`~intrinsic_rob.attacks.in_distribution_attack` (a tensor,
    "recorded" or "optimised" with ``fit_steps``, ``fit_restarts``, ``fit_lr`` and
    ``seed``). An example the classifier already misclassifies has distance 0 and is not
    attacked. Both networks run in eval mode and get their modes back; no graph is built
    for their parameters; the caller's random state is untouched.

    Args:
        generator: a conditional generator on the classifier's device.
        classifier: (B, C, H, W) images in [0, 1] -> (B, K) logits.
        x: (B, C, H, W) images in [0, 1]. y: (B,) labels in the generator's classes.
        trace_at: budgets (each in 1..budget) at which to record the best-so-far distances.

    Returns:
        :class:`LatentMinNormResult` (distances, latents, images, propagations used, the
        final multipliers as ``lam``, the trace).

    Example:
        >>> from intrinsic_rob.generators.affine import AffineGenerator
        >>> gen = AffineGenerator(z_dim=2, image_shape=(1, 2, 2), num_classes=2, seed=0)
        >>> clf = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        >>> z0, y = torch.zeros(3, 2), torch.tensor([0, 1, 0])
        >>> res = latent_min_norm_attack(gen, clf, gen(z0, y), y, z_init=z0, budget=200, trace_at=(100, 200))
        >>> tuple(res.distance.shape), tuple(res.trace.shape)
        ((3,), (2, 3))
    """
    plan = run_plan(budget, run_length, refine_share)  # checks budget, run_length and refine_share
    _check_settings(lr_init=lr_init, mu_init=mu_init, rho_init=rho_init, lr_reduction=lr_reduction,
                    rho_growth=rho_growth, rho_every=rho_every, mu_decay=mu_decay, rms_decay=rms_decay, tau=tau,
                    seed=seed)
    marks = _trace_marks(trace_at, budget)
    _check_inputs(generator, x, y)
    device = device_of(classifier)
    x, y = x.to(device, torch.float32), y.to(device)
    b = x.shape[0]
    with frozen_parameters(generator, classifier), eval_mode(generator), eval_mode(classifier):
        z0, used = _resolve_z_init(generator, x, y, z_init, None if recorded_z is None else recorded_z.to(device),
                                   {"steps": fit_steps, "restarts": fit_restarts, "lr": fit_lr}, seed)
        best = _Best.start(generator, classifier, x, y, z0)
        trace = torch.empty((len(marks), b), device=device)
        rows = torch.nonzero(~best.wrong).flatten()
        xa, ya = x[rows], y[rows]
        steps_done = 0
        mu = torch.full((rows.numel(),), float(mu_init), device=device)  # returned as is if nothing is attacked
        with torch.enable_grad():
            for planned in plan:
                z = _start_of(planned, best, rows, z0)
                record = _recorder(marks, trace, best, steps_done)
                mu = _run(generator, classifier, z, xa, ya, rows, best, steps=planned.steps,
                          lr_init=lr_init * planned.lr_factor,
                          lr_reduction=min(1.0, lr_reduction * planned.reduction_factor),
                          mu_init=float(mu_init) * planned.mu_factor, rho_init=float(rho_init),
                          rho_growth=rho_growth, rho_every=rho_every, mu_decay=mu_decay, rms_decay=rms_decay,
                          tau=tau, after_step=record)
                used += int(rows.numel()) * planned.steps
                steps_done += planned.steps
    lam = torch.zeros(b, device=device)
    lam[rows] = mu
    return LatentMinNormResult(best.distance, best.z.detach(), best.image.detach(), used, lam, tuple(marks), trace)


def _trace_marks(trace_at: Sequence[int], budget: int) -> list[int]:
    """The budgets at which the best distances are recorded: sorted, distinct, each in 1..budget."""
    marks = sorted({int(b) for b in trace_at})
    for b in marks:
        check_value("trace_at", b, low=1, high=budget, integer=True)
    return marks


def _start_of(planned: PlannedRun, best: _Best, rows: torch.Tensor, z0: torch.Tensor) -> torch.Tensor:
    """Where a run starts: the best latent found so far (where one was found) for a refining run, else z0."""
    if planned.from_best:
        found = torch.isfinite(best.distance[rows])[:, None]
        return torch.where(found, best.z[rows], z0[rows]).clone()
    return z0[rows].clone()


def _recorder(marks: list[int], trace: torch.Tensor, best: _Best, steps_done: int) -> Callable[[int], None]:
    """A run's ``after_step``: copies the best distances into ``trace`` at the marked budgets."""

    def record(step: int) -> None:
        for k, mark in enumerate(marks):
            if mark == steps_done + step:
                trace[k] = best.distance

    return record


def _check_settings(*, lr_init: float, mu_init: float, rho_init: float, lr_reduction: float, rho_growth: float,
                    rho_every: int, mu_decay: float, rms_decay: float, tau: float, seed: int) -> None:
    """One-line errors for the attack's settings (:func:`latent_min_norm_attack`)."""
    for name, value in (("lr_init", lr_init), ("mu_init", mu_init), ("rho_init", rho_init)):
        check_value(name, value, low=0, low_open=True)
    check_value("lr_reduction", lr_reduction, low=0, high=1, low_open=True)
    check_value("rho_growth", rho_growth, low=1)
    check_value("rho_every", rho_every, low=1, integer=True)
    check_value("mu_decay", mu_decay, low=0, high=1, high_open=True)
    check_value("rms_decay", rms_decay, low=0, high=1, high_open=True)
    check_value("tau", tau, low=0)
    check_value("seed", seed, low=0, integer=True)


@dataclass
class _Best:
    """Each example's closest misclassified image so far: (B,) distances (inf: none yet; 0: the classifier
    already misclassifies x), (B, d) latents and (B, C, H, W) images, updated in place by the runs."""

    distance: torch.Tensor
    z: torch.Tensor
    image: torch.Tensor
    wrong: torch.Tensor

    @classmethod
    def start(cls, generator: nn.Module, classifier: nn.Module, x: torch.Tensor, y: torch.Tensor,
              z0: torch.Tensor) -> "_Best":
        with torch.no_grad():
            wrong = classifier(x).argmax(1) != y
            image = generator(z0, y).detach().clone() if x.shape[0] else x.clone()
        distance = torch.full((x.shape[0],), math.inf, device=x.device)
        distance[wrong] = 0.0
        image[wrong] = x[wrong]
        return cls(distance, z0.clone(), image, wrong)

    def update(self, rows: torch.Tensor, closer: torch.Tensor, distance: torch.Tensor, z: torch.Tensor,
               image: torch.Tensor) -> None:
        if bool(closer.any()):
            index = rows[closer]
            self.distance[index] = distance[closer]
            self.z[index] = z.detach()[closer]
            self.image[index] = image.detach()[closer]


def _run(generator: nn.Module, classifier: nn.Module, z: torch.Tensor, xa: torch.Tensor, ya: torch.Tensor,
         rows: torch.Tensor, best: _Best, *, steps: int, lr_init: float, lr_reduction: float, mu_init: float,
         rho_init: float, rho_growth: float, rho_every: int, mu_decay: float, rms_decay: float, tau: float,
         after_step: "Callable[[int], None]") -> torch.Tensor:
    """One run of the augmented Lagrangian from the latents ``z`` (R, d) of the attacked ``rows`` (R,): ``steps``
    RMSProp steps on ||G(z, y) - x|| + P(c; rho, mu), keeping the closest misclassified image in ``best``.
    ``after_step(step)`` runs after each step (1-based). Returns the final multipliers (R,)."""
    device = z.device
    mu = torch.full((rows.numel(),), mu_init, device=device)
    rho = torch.full((rows.numel(),), rho_init, device=device)
    square_avg = torch.zeros_like(z)
    previous = torch.full((rows.numel(),), math.inf, device=device)
    for step in range(1, steps + 1):
        if rows.numel():
            lr = lr_init * lr_reduction ** ((step - 1) / steps)
            z = z.detach().requires_grad_(True)
            image = generator(z, ya)
            logits = classifier(image)
            # the norm's gradient at 0 is undefined; the tiny floor only matters there
            distance = (image - xa).flatten(1).square().sum(1).add(1e-20).sqrt()
            margin = margin_constraint(logits, ya, tau)
            objective = distance + phr_penalty(margin, rho, mu)
            (grad,) = torch.autograd.grad(objective.sum(), z)
            with torch.no_grad():
                c = margin.detach()
                exact = (image - xa).flatten(1).norm(dim=1)
                best.update(rows, (c <= 0) & (exact < best.distance[rows]), exact, z, image)
                mu = mu_decay * mu + (1 - mu_decay) * torch.relu(mu + rho * c)
                if step % rho_every == 0:
                    stalled = (c > 0) & (c > 0.95 * previous)
                    rho = torch.where(stalled, rho * rho_growth, rho)
                    previous = c
                square_avg.mul_(rms_decay).addcmul_(grad, grad, value=1 - rms_decay)
                scale = (square_avg / (1 - rms_decay**step)).sqrt().add_(1e-12)
                z = z.detach() - lr * grad / scale
        after_step(step)
    return mu


__all__ = ["LatentMinNormResult", "PlannedRun", "REFINE_SCHEDULE", "RUN_SCHEDULE", "latent_min_norm_attack",
           "margin_constraint", "phr_penalty", "run_plan"]
