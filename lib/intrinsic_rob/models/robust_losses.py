"""The robust-training losses of Section 5.3 and their inner maximisations.

* :class:`AdvTrainLoss` (Madry et al., 2018): cross-entropy at a PGD-L2 adversarial
  example (:func:`adv_train_attack`);
* :class:`TradesLoss` (Zhang et al., 2019): natural cross-entropy plus beta times the KL
  divergence at an adversarial x' (:func:`trades_attack`);
* :class:`LPCertifyLoss` (Wong et al., 2018): convex-adversarial's robust cross-entropy.

Each is a :data:`~intrinsic_rob.models.training.LossFn` ``(model, x, y, rng) -> scalar`` with an
epsilon warm-up (:func:`ramped_eps`); :mod:`intrinsic_rob.models.robust` configures them
(:class:`~intrinsic_rob.models.robust.RobustConfig`) and builds them for a run. The inner
maximisations take the projected ascent step of :mod:`intrinsic_rob.attacks.pgd`.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from intrinsic_rob.attacks.pgd import projected_ascent
from intrinsic_rob.core.devices import eval_mode
from intrinsic_rob.core.validation import check_value
from intrinsic_rob.estimators.certify import check_certifiable
from intrinsic_rob.theory.geometry import sample_ball_offsets

#: LP-Certify: the original's starting epsilon, and convex-adversarial's MNIST l2 example's
#: ramp length and number of random projections for training.
LP_START_EPS = 0.05
LP_RAMP_EPOCHS = 20
LP_PROJ = 50


# --------------------------------------------------------------------------- inner loops


def _check_attack(eps: float, step_size: float, steps: int) -> None:
    check_value("eps", eps, low=0)
    check_value("step_size", step_size, low=0)
    check_value("steps", steps, low=0, integer=True)


def adv_train_attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, step_size: float,
                     steps: int, rng: torch.Generator) -> torch.Tensor:
    """Adv-Train's inner maximisation (Madry et al., 2018): PGD-L2 on the cross-entropy.

    Starts uniformly in the l2 ball of radius eps around x (drawn from ``rng`` on the
    CPU: a Gaussian direction, radius eps U^(1/D)), then ``steps`` steps of length
    ``step_size`` along the normalised gradient of the summed cross-entropy, each
    projected onto B(x, eps) and then the box [0, 1]. Runs in eval mode (the model's
    previous mode is restored). Returns the last iterate (B, ...), detached; with eps = 0,
    exactly x.

    Example:
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> x, y = torch.rand(5, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1])
        >>> x_adv = adv_train_attack(model, x, y, eps=0.5, step_size=0.2, steps=3, rng=torch.Generator().manual_seed(0))
        >>> bool(((x_adv - x).flatten(1).norm(dim=1) <= 0.5 + 1e-6).all()), bool(((0 <= x_adv) & (x_adv <= 1)).all())
        (True, True)
        >>> torch.equal(adv_train_attack(model, x, y, eps=0.0, step_size=0.2, steps=3, rng=torch.Generator()), x)
        True
    """
    _check_attack(eps, step_size, steps)
    b, d = int(x.shape[0]), int(x[0].numel())
    start = sample_ball_offsets(b, 1, d, eps, rng).reshape(x.shape).to(device=x.device, dtype=x.dtype)
    with eval_mode(model):
        return projected_ascent(lambda xa: F.cross_entropy(model(xa), y, reduction="sum"), x, start, eps, step_size, steps)


def trades_attack(model: nn.Module, x: torch.Tensor, *, eps: float, step_size: float, steps: int,
                  rng: torch.Generator) -> torch.Tensor:
    """TRADES' inner maximisation (Zhang et al., 2019): x' in B(x, eps) maximising KL(p(x) || p(x')).

    As the TRADES authors' l2 branch, in eval mode: the start is x + 0.001 N(0, I) (drawn
    from ``rng`` on the CPU), the objective the summed KL divergence between the softmax at
    x (fixed) and at x'. As the paper's original implementation, the steps
    are normalised gradient steps of length ``step_size`` (Table 4: 40 steps of 0.5 on
    MNIST), each projected onto B(x, eps) and then [0, 1] (so is the start). Returns x'
    (B, ...), detached.

    Example:
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> x = torch.rand(5, 1, 2, 2)
        >>> x_adv = trades_attack(model, x, eps=0.5, step_size=0.2, steps=3, rng=torch.Generator().manual_seed(0))
        >>> bool(((x_adv - x).flatten(1).norm(dim=1) <= 0.5 + 1e-6).all())
        True
    """
    _check_attack(eps, step_size, steps)
    start = (0.001 * torch.randn(x.shape, generator=rng)).to(device=x.device, dtype=x.dtype)
    with eval_mode(model):
        with torch.no_grad():
            p_natural = F.softmax(model(x), dim=1)
        return projected_ascent(lambda xa: F.kl_div(F.log_softmax(model(xa), dim=1), p_natural, reduction="sum"),
                       x, start, eps, step_size, steps)


# --------------------------------------------------------------------------- losses


def ramped_eps(eps: float, start_eps: float, ramp_steps: int, step: int) -> float:
    """Epsilon at training step ``step`` (0-based) of a linear warm-up over ``ramp_steps`` steps.

    ``np.linspace(start_eps, eps, ramp_steps)[step]`` during the warm-up, ``eps`` after it
    (and always when ``ramp_steps`` is 0): the first step trains at ``start_eps``, the
    warm-up's last at ``eps``. Robust training from scratch at a large radius can stay at
    chance (the model's best answer to an attack it cannot yet resist is a constant); a
    warm-up lets it learn the task first (Wong et al., 2018, ramp LP-Certify's epsilon;
    Adv-Train and TRADES are warmed up the same way here).

    Example:
        >>> [round(ramped_eps(3.0, 0.0, 4, t), 2) for t in range(6)]
        [0.0, 1.0, 2.0, 3.0, 3.0, 3.0]
        >>> ramped_eps(2.0, 0.05, 0, 0)
        2.0
    """
    if step >= ramp_steps:
        return float(eps)
    if ramp_steps == 1:
        return float(start_eps)
    return float(start_eps + (eps - start_eps) * step / (ramp_steps - 1))


class _EpsilonRamp:
    """The epsilon of each training step under a warm-up of ``ramp_epochs`` epochs (per step).

    The training loop calls ``begin_epoch(epoch)`` before each epoch; each call of the loss
    is one step. ``steps_per_epoch`` turns the ramp's length into steps (1: epsilon changes
    once an epoch). A resumed run calls ``begin_epoch`` with the epoch it resumes at, so
    it continues the schedule exactly.
    """

    def _setup_ramp(self, eps: float, start_eps: float | None, ramp_epochs: int, steps_per_epoch: int) -> None:
        check_value("ramp_epochs", ramp_epochs, low=0, integer=True)
        check_value("steps_per_epoch", steps_per_epoch, low=1, integer=True)
        self.eps = float(eps)
        self.start_eps = None if start_eps is None else float(start_eps)
        self.ramp_epochs, self.steps_per_epoch = int(ramp_epochs), int(steps_per_epoch)
        self._epoch, self._step = 0, 0
        self.current_eps = self.eps_at(0)

    def eps_at(self, epoch: int, step: int = 0) -> float:
        """The epsilon of step ``step`` (0-based) of epoch ``epoch`` (0-based)."""
        ramp = 0 if self.start_eps is None else self.ramp_epochs * self.steps_per_epoch
        return ramped_eps(self.eps, self.start_eps or 0.0, ramp, epoch * self.steps_per_epoch + step)

    def begin_epoch(self, epoch: int) -> None:
        self._epoch, self._step = int(epoch), 0
        self.current_eps = self.eps_at(self._epoch)

    def _next_eps(self) -> float:
        # more calls than steps_per_epoch (a loss built without the epoch's length) stay in the epoch
        self.current_eps = self.eps_at(self._epoch, min(self._step, self.steps_per_epoch - 1))
        self._step += 1
        return self.current_eps


class AdvTrainLoss(_EpsilonRamp):
    """Adv-Train's loss (Madry et al., 2018): cross-entropy at a PGD-L2 adversarial example.

    ``(model, x (B, ...), y (B,), rng) -> scalar``: :func:`adv_train_attack` (eval mode,
    random start from ``rng``) finds x' in B(x, eps) intersected with [0, 1]^D, then the
    mean cross-entropy of ``model(x')`` is taken in the model's own mode (train mode
    during training: dropout applies). eps = 0 is natural training exactly (x' = x, and
    the attack draws nothing from the global generator). Table 4: eps 3.0, 40 steps of
    0.5 on MNIST, 10 on ImageNet10. ``ramp_epochs`` > 0 warms epsilon up linearly from 0,
    step by step (:func:`ramped_eps`); a step at epsilon 0 is a natural step, no attack run.

    Example:
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> loss = AdvTrainLoss(eps=0.5, step_size=0.2, steps=3)
        >>> value = loss(model, torch.rand(5, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1]), torch.Generator().manual_seed(0))
        >>> value.shape, value.requires_grad
        (torch.Size([]), True)
    """

    def __init__(self, eps: float, step_size: float, steps: int, *, ramp_epochs: int = 0,
                 steps_per_epoch: int = 1) -> None:
        _check_attack(eps, step_size, steps)
        self.step_size, self.steps = float(step_size), int(steps)
        self._setup_ramp(eps, 0.0, ramp_epochs, steps_per_epoch)

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        eps = self._next_eps()
        if eps == 0:
            return F.cross_entropy(model(x), y)
        x_adv = adv_train_attack(model, x, y, eps=eps, step_size=self.step_size, steps=self.steps, rng=rng)
        return F.cross_entropy(model(x_adv), y)

    def __repr__(self) -> str:
        return (f"AdvTrainLoss(eps={self.eps:g}, step_size={self.step_size:g}, steps={self.steps}, "
                f"ramp_epochs={self.ramp_epochs})")


class TradesLoss(_EpsilonRamp):
    """TRADES' loss (Zhang et al., 2019): CE(f(x), y) + beta KL(p(x) || p(x')) / B.

    ``(model, x (B, ...), y (B,), rng) -> scalar``: :func:`trades_attack` (eval mode) finds
    x', then, in the model's own mode (train mode during training), the mean natural
    cross-entropy plus beta times the summed KL divergence divided by the batch size (the
    TRADES authors' reduction); gradients flow through both p(x) and p(x'). One forward
    pass at x serves both terms. Table 4: eps 3.0, beta 6.0.

    ``ramp_epochs`` > 0 warms epsilon up from 0 as :class:`AdvTrainLoss` does.

    beta = 0 (or a step at epsilon 0) is natural training exactly: the robust term is then
    skipped, attack and all.
    Computing it and multiplying by 0 would add nothing to the gradient, but its forward
    pass at x' in train mode would draw dropout masks from the global generator and so
    change every later mask of the epoch.

    Example:
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> loss = TradesLoss(eps=0.5, step_size=0.2, steps=3, beta=6.0)
        >>> value = loss(model, torch.rand(5, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1]), torch.Generator().manual_seed(0))
        >>> value.shape, value.requires_grad
        (torch.Size([]), True)
    """

    def __init__(self, eps: float, step_size: float, steps: int, beta: float, *, ramp_epochs: int = 0,
                 steps_per_epoch: int = 1) -> None:
        _check_attack(eps, step_size, steps)
        check_value("beta", beta, low=0)
        self.step_size, self.steps, self.beta = float(step_size), int(steps), float(beta)
        self._setup_ramp(eps, 0.0, ramp_epochs, steps_per_epoch)

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        eps = self._next_eps()
        if self.beta == 0 or eps == 0:
            return F.cross_entropy(model(x), y)
        x_adv = trades_attack(model, x, eps=eps, step_size=self.step_size, steps=self.steps, rng=rng)
        logits = model(x)
        natural = F.cross_entropy(logits, y)
        # log-probabilities on both sides: the same value and gradient, but a class whose softmax at x underflows
        # to 0 gave kl_div's target a gradient of log 0 = -inf, and the weights NaN (measured: cpu profile, seed 0)
        robust = F.kl_div(F.log_softmax(model(x_adv), dim=1), F.log_softmax(logits, dim=1), reduction="sum",
                          log_target=True)
        return natural + self.beta * robust / x.shape[0]

    def __repr__(self) -> str:
        return (f"TradesLoss(eps={self.eps:g}, step_size={self.step_size:g}, steps={self.steps}, "
                f"beta={self.beta:g}, ramp_epochs={self.ramp_epochs})")


class LPCertifyLoss(_EpsilonRamp):
    """LP-Certify's loss (Wong et al., 2018): convex-adversarial's robust cross-entropy over the l2 ball.

    ``(net, x (B, ...), y (B,), rng) -> scalar``, ``net`` an ``nn.Sequential`` that
    :func:`~intrinsic_rob.estimators.certify.check_certifiable` accepts: the mean
    cross-entropy of the dual network's upper bounds on z_j - z_y over B(x, eps),
    ``robust_loss(net, eps, x, y, norm_type="l2_normal", proj=proj)``, which estimates the
    l2 norms with ``proj`` Gaussian random projections (and the ReLU layers' l1 norms with
    Cauchy ones) as convex-adversarial's MNIST l2 example trains; ``proj=None`` uses the
    exact bound (``norm_type="l2"``), as do inputs with no more than ``proj`` entries
    (convex-adversarial refuses ``l2_normal`` there). The projections draw from the
    global generator of the batch's device, which the training loop seeds per epoch.

    Epsilon ramp: eps grows linearly from ``start_eps`` over the first ``ramp_epochs``
    epochs and stays at eps after (:func:`ramped_eps`, indexed from epoch 0; the paper's
    original indexed from 1). With ``steps_per_epoch`` = 1 it changes once an epoch,
    ``np.linspace(start_eps, eps, ramp_epochs)[epoch]``; with the number of batches an
    epoch holds, at every step, which short runs need: a jump of epsilon between epochs
    made the bound, and the training loss, explode (measured on the quick profile's
    generated digits). ``start_eps=None`` or ``ramp_epochs=0``: no ramp.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        >>> loss = LPCertifyLoss(eps=1.0, start_eps=0.1, ramp_epochs=4, proj=None)
        >>> [round(loss.eps_at(e), 2) for e in range(6)]
        [0.1, 0.4, 0.7, 1.0, 1.0, 1.0]
        >>> loss.begin_epoch(1); loss.current_eps
        0.4
        >>> x, y = torch.rand(5, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1])
        >>> bool(loss(net, x, y, torch.Generator()) >= torch.nn.functional.cross_entropy(net(x), y))
        True
    """

    def __init__(self, eps: float, start_eps: float | None = LP_START_EPS, ramp_epochs: int = LP_RAMP_EPOCHS,
                 proj: int | None = LP_PROJ, *, steps_per_epoch: int = 1) -> None:
        check_value("eps", eps, low=0)
        check_value("start_eps", start_eps, low=0, optional=True)
        check_value("proj", proj, low=1, integer=True, optional=True)
        self.proj = proj
        self._setup_ramp(eps, start_eps, ramp_epochs, steps_per_epoch)

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        from convex_adversarial import robust_loss

        check_certifiable(model, x)
        eps = self._next_eps()
        if self.proj is not None and x[0].numel() > self.proj:
            loss, _ = robust_loss(model, eps, x, y, norm_type="l2_normal", proj=self.proj)
        else:
            loss, _ = robust_loss(model, eps, x, y, norm_type="l2")
        return loss

    def __repr__(self) -> str:
        return (f"LPCertifyLoss(eps={self.eps:g}, start_eps={self.start_eps}, ramp_epochs={self.ramp_epochs}, "
                f"proj={self.proj})")
