"""Robust training for Section 5.3: Adv-Train, TRADES and LP-Certify as losses of the one training loop.

The paper compares its intrinsic-robustness bound with three robustly trained classifiers
(Section 5.3, Appendix B.1, Table 4):

* **Adv-Train** (Madry et al., 2018): minimise the cross-entropy at a PGD-L2 adversarial
  example found inside the l2 ball of radius eps
  (:class:`~intrinsic_rob.models.robust_losses.AdvTrainLoss`);
* **TRADES** (Zhang et al., 2019): natural cross-entropy plus beta times the KL divergence
  between the predictions at x and at an adversarial x' that maximises it
  (:class:`~intrinsic_rob.models.robust_losses.TradesLoss`);
* **LP-Certify** (Wong et al., 2018): minimise convex-adversarial's upper bound on the
  worst-case cross-entropy over the l2 ball, with epsilon ramped up over the first epochs
  (:class:`~intrinsic_rob.models.robust_losses.LPCertifyLoss`).

The methods are registered in :mod:`intrinsic_rob.models.methods` (one record each); the losses
and their inner maximisations live in :mod:`intrinsic_rob.models.robust_losses`; each
is a :data:`~intrinsic_rob.models.training.LossFn` plugged into
:class:`~intrinsic_rob.models.training.SupervisedTask`, so every run gets the loop's per-epoch
seeding, checkpoints, exact resumption, snapshots and cache. :class:`RobustConfig` holds
one run's settings (:func:`table4_config` gives the paper's) and is the recipe from which
:func:`~intrinsic_rob.models.classifiers.load_or_train_classifier` trains or loads the model;
:func:`~intrinsic_rob.models.training.load_snapshots` reads the intermediate models.

Random draws: the attacks' random starts come from the ``rng`` the loop passes (the
epoch's CPU generator, which shuffles once at the start of the epoch, so the extra draws
change no shuffle); the inner maximisations run in eval mode, so dropout draws nothing
there. convex-adversarial's random projections (``proj``) draw from the global generator
of the device the batch is on (``X.new(...).normal_()`` for the input layer,
``.cauchy_()`` for the ReLU layers), which :func:`~intrinsic_rob.models.training.fit` seeds per
epoch and forks: LP training is reproducible and resumes exactly, though a GPU run draws
other projections than a CPU run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any, Callable, ClassVar, Sequence

import torch
import torch.nn as nn

from intrinsic_rob import paper
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.core.validation import Checked, bounded, check_value
from intrinsic_rob.data.datasets import get_dataset
from intrinsic_rob.models.methods import get_method
from intrinsic_rob.models.robust_losses import LP_PROJ, LP_RAMP_EPOCHS, LP_START_EPS
from intrinsic_rob.models.training import FitConfig, LossFn, SupervisedTask, step_decay

OPTIMIZERS = ("sgd", "adam")


#: The original implementation's learning-rate schedule for the 100-epoch SGD runs, as it
#: was meant: x0.1, x0.01, x0.001 of the base rate from epochs 50, 70, 90 (it compounded
#: them: book appendix, defect 7).
MEANT_MILESTONES: tuple[int, ...] = (50, 70, 90)
MEANT_FACTORS: tuple[float, ...] = (0.1, 0.01, 0.001)
#: Settings of the original Adv-Train/TRADES runs that the paper does not print.
ORIGINAL_BATCH_SIZE = 128
ORIGINAL_MOMENTUM = 0.9


# --------------------------------------------------------------------------- settings


def steplr_after_ramp(ramp_epochs: int, epochs: int, step: int = 10,
                      gamma: float = 0.5) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """convex-adversarial's schedule, ``StepLR(step, gamma).step(epoch=max(t - ramp, 0))``, as step_decay milestones.

    The rate is base * gamma^k from epoch ramp + k step on (0-based), for those milestones
    before ``epochs``.

    Example:
        >>> steplr_after_ramp(20, 60)
        ((30, 40, 50), (0.5, 0.25, 0.125))
    """
    milestones = tuple(range(ramp_epochs + step, epochs, step))
    return milestones, tuple(gamma ** (k + 1) for k in range(len(milestones)))


def scaled_milestones(milestones: Sequence[int], factors: Sequence[float], from_epochs: int,
                      to_epochs: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """A step schedule of ``from_epochs`` epochs stretched to ``to_epochs``: the same shares of the run.

    Each milestone m becomes round(m * to_epochs / from_epochs) (at least 1); milestones that
    fall on one epoch keep the last factor. Unchanged when the lengths agree.

    Example:
        >>> scaled_milestones((50, 70, 90), (0.1, 0.01, 0.001), 100, 20)
        ((10, 14, 18), (0.1, 0.01, 0.001))
        >>> scaled_milestones((50, 70, 90), (0.1, 0.01, 0.001), 100, 3)
        ((2, 3), (0.01, 0.001))
    """
    check_value("from_epochs", from_epochs, low=1, integer=True)
    check_value("to_epochs", to_epochs, low=1, integer=True)
    scaled: dict[int, float] = {}
    for m, f in zip(milestones, factors):
        scaled[max(1, round(m * to_epochs / from_epochs))] = f
    return tuple(scaled), tuple(scaled.values())


@dataclass(frozen=True)
class RobustConfig(Checked):
    """One robust training run: method, attack or certificate, optimiser, schedule, seed.

    ``method`` is "lp" (LP-Certify, MNIST only), "adv" (Adv-Train) or "trades";
    ``step_size``/``steps`` are the inner attack's (Adv-Train, TRADES), ``beta`` TRADES'
    weight, ``eps_ramp_epochs`` the epochs over which Adv-Train's and TRADES' epsilon
    grows from 0 (step by step; 0, Table 4's, trains at eps from the first step), ``lp_*``
    the LP-Certify epsilon ramp (also step by step) and random projections. ``momentum``
    applies to SGD only. The learning rate is ``lr * factors[i]`` from epoch
    ``milestones[i]`` on (:func:`~intrinsic_rob.models.training.step_decay`: relative to ``lr``,
    not compounded); the defaults are the original implementation's meant schedule for
    the 100-epoch SGD runs. :func:`table4_config` gives the paper's settings.

    Example:
        >>> RobustConfig(method="trades", beta=6.0).fit_config().batch_size
        128
        >>> RobustConfig(method="pgd")
        Traceback (most recent call last):
        ...
        intrinsic_rob.core.errors.InputError: method must be one of 'lp', 'adv', 'trades', got 'pgd'
    """

    dataset: str = "mnist"
    method: str = "adv"
    eps: float = bounded(3.0, low=0)
    step_size: float = bounded(0.5, low=0)
    steps: int = bounded(40, low=0, integer=True)
    beta: float = bounded(6.0, low=0)
    eps_ramp_epochs: int = bounded(0, low=0, integer=True)
    epochs: int = bounded(100, low=1, integer=True)
    batch_size: int = bounded(ORIGINAL_BATCH_SIZE, low=1, integer=True)
    lr: float = bounded(0.05, low=0, low_open=True)
    momentum: float = bounded(ORIGINAL_MOMENTUM, low=0, high=1, high_open=True)
    weight_decay: float = bounded(0.0, low=0)
    optimizer: str = "sgd"
    milestones: tuple[int, ...] = MEANT_MILESTONES
    factors: tuple[float, ...] = MEANT_FACTORS
    lp_start_eps: float | None = bounded(LP_START_EPS, low=0, optional=True)
    lp_ramp_epochs: int = bounded(LP_RAMP_EPOCHS, low=0, integer=True)
    lp_proj: int | None = bounded(LP_PROJ, low=1, integer=True, optional=True)
    seed: int = bounded(0, low=0, integer=True)
    #: Save the model every this many epochs (Figure 2 uses the intermediate models); None: never.
    snapshot_every: int | None = bounded(None, low=1, integer=True, optional=True)

    def __post_init__(self) -> None:
        get_dataset(self.dataset)
        get_method(self.method)
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"optimizer must be one of {', '.join(map(repr, OPTIMIZERS))}, got {self.optimizer!r}")
        super().__post_init__()
        try:
            milestones, factors = tuple(self.milestones), tuple(self.factors)
        except TypeError:
            raise InputError(f"milestones and factors must be sequences, got {self.milestones!r} and "
                             f"{self.factors!r}") from None
        for i, m in enumerate(milestones):
            check_value(f"milestones[{i}]", m, low=0, integer=True)
        if any(b <= a for a, b in zip(milestones, milestones[1:])):
            raise InputError(f"milestones must be strictly increasing, got {list(milestones)}")
        for i, f in enumerate(factors):
            check_value(f"factors[{i}]", f, low=0, low_open=True)
        if len(factors) != len(milestones):
            raise InputError(f"factors must hold one factor per milestone ({len(milestones)}), got {len(factors)}")
        object.__setattr__(self, "milestones", milestones)  # lists (from JSON, say) become tuples
        object.__setattr__(self, "factors", factors)
        get_method(self.method, self.dataset)
        if self.method == "lp" and self.lp_start_eps is not None and self.lp_start_eps > self.eps:
            raise InputError(f"lp_start_eps must be <= eps ({self.eps:g}), got {self.lp_start_eps:g}")

    def fit_config(self) -> FitConfig:
        return FitConfig(epochs=self.epochs, batch_size=self.batch_size, seed=self.seed,
                         snapshot_every=self.snapshot_every)

    def lr_at(self) -> Callable[[int], float]:
        """The learning rate of each epoch (0-based), :func:`~intrinsic_rob.models.training.step_decay`.

        Example:
            >>> lr = RobustConfig(lr=0.05).lr_at()
            >>> [round(lr(e), 8) for e in (49, 50, 70, 90)]
            [0.05, 0.005, 0.0005, 5e-05]
        """
        return step_decay(self.lr, self.milestones, self.factors)

    # A recipe of :func:`~intrinsic_rob.models.classifiers.load_or_train_classifier`: the model of
    # :func:`make_robust_model`, the loss of :func:`make_robust_loss`, the optimiser of
    # :func:`make_optimizer` and the learning rate of :meth:`lr_at` per epoch.
    kind: ClassVar[str] = "robust"

    @property
    def desc(self) -> str:
        return f"{self.method} ({self.dataset})"

    def make_model(self) -> nn.Module:
        return make_robust_model(self.dataset, self.method)

    def make_task(self, model: nn.Module, steps_per_epoch: int) -> SupervisedTask:
        return SupervisedTask(model, make_optimizer(self, model.parameters()),
                              make_robust_loss(self, steps_per_epoch), lr_at=self.lr_at())

    def cache_fields(self, model: nn.Module) -> dict[str, Any]:
        method = get_method(self.method)
        revision = {"loss_revision": method.loss_revision} if method.loss_revision else {}
        return {**asdict(self), "model": method.model_id(self.dataset), **revision}

    def check_data(self, x: torch.Tensor, y: torch.Tensor) -> None:
        shape = get_dataset(self.dataset).input_shape
        if tuple(x.shape[1:]) != shape or y.shape[:1] != x.shape[:1]:
            raise InputError(f"train_x must be (N, {', '.join(map(str, shape))}) images of dataset {self.dataset!r} "
                             f"with N labels in train_y, got {tuple(x.shape)} and {tuple(y.shape)}")


def table4_config(dataset: str, method: str, seed: int = 0, **overrides: object) -> RobustConfig:
    """The paper's settings for one (dataset, method) of Table 4, with optional overrides.

    From Table 4 (:data:`intrinsic_rob.paper.TABLE4_ROBUST_TRAINING`): eps, optimiser,
    learning rate, epochs, attack steps and beta; from the text, LP-Certify's batch 50.
    From the original implementation: batch 128 and momentum 0.9 for SGD, weight decay
    2e-4 on ImageNet10, the x0.1/x0.01/x0.001 schedule at epochs 50/70/90 as meant; for
    LP-Certify convex-adversarial's MNIST l2 example (20-epoch ramp from 0.05, 50
    projections, the rate halved every 10 epochs after the ramp). ``overrides`` replace
    any field (``epochs=20`` for a shorter run, say). A run of another length keeps the
    schedule's shape: its milestones are scaled to its epochs (:func:`scaled_milestones`;
    for LP-Certify the halving interval, after the ramp it is given).

    Example:
        >>> table4_config("mnist", "adv", epochs=20).milestones
        (10, 14, 18)
        >>> c = table4_config("mnist", "lp")
        >>> c.eps, c.optimizer, c.lr, c.batch_size, c.epochs, c.milestones
        (2.0, 'adam', 0.001, 50, 60, (30, 40, 50))
        >>> c = table4_config("imagenet10", "trades", seed=3)
        >>> c.eps, c.lr, c.weight_decay, c.steps, c.step_size, c.beta, c.seed
        (3.0, 0.01, 0.0002, 10, 0.5, 6.0, 3)
    """
    row = paper.TABLE4_ROBUST_TRAINING.get((dataset, method))
    if row is None:
        raise InputError(f"(dataset, method) must be one of Table 4's {sorted(paper.TABLE4_ROBUST_TRAINING)}, "
                         f"got {(dataset, method)!r}")
    fields: dict[str, object] = {"dataset": dataset, "method": method, "seed": seed, "eps": row["eps"],
                                 "optimizer": row["optimizer"], "lr": row["lr"], "epochs": row["epochs"]}
    table_epochs = int(row["epochs"])
    epochs = int(overrides.get("epochs", table_epochs))  # type: ignore[call-overload]
    if method == "lp":
        ramp = int(overrides.get("lp_ramp_epochs", LP_RAMP_EPOCHS))  # type: ignore[call-overload]
        milestones, factors = steplr_after_ramp(ramp, epochs, step=max(1, round(10 * epochs / table_epochs)))
        fields.update(batch_size=paper.TABLE4_LP_BATCH_SIZE, milestones=milestones, factors=factors, steps=0,
                      step_size=0.0, beta=0.0, momentum=0.0)
    else:
        milestones, factors = scaled_milestones(MEANT_MILESTONES, MEANT_FACTORS, table_epochs, epochs)
        fields.update(step_size=row["step_size"], steps=row["steps"], beta=row["beta"] or 0.0,
                      milestones=milestones, factors=factors,
                      weight_decay=get_dataset(dataset).sgd_weight_decay)
    names = {f.name for f in dataclasses.fields(RobustConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise InputError(f"unknown RobustConfig field(s) {unknown}; the fields are {sorted(names)}")
    return RobustConfig(**{**fields, **overrides})  # type: ignore[arg-type]


def make_robust_model(dataset: str, method: str) -> nn.Module:
    """The architecture of (dataset, method) (:data:`~intrinsic_rob.models.methods.METHODS`), freshly initialised from
    the global generator.

    LP-Certify: :func:`~intrinsic_rob.models.classifiers.lp_certify_net`; Adv-Train and TRADES:
    :class:`~intrinsic_rob.models.classifiers.SevenLayerCNN` on MNIST, initialised as the TRADES
    authors initialise it (:func:`~intrinsic_rob.models.classifiers.trades_init`: with PyTorch's
    default initialisation, SGD at Table 4's rate left it at chance for its first epochs),
    :class:`~intrinsic_rob.models.classifiers.ImageNet10CNN` on ImageNet10.
    """
    get_dataset(dataset)
    return get_method(method, dataset).make_model(dataset)


def make_robust_loss(config: RobustConfig, steps_per_epoch: int = 1) -> LossFn:
    """The training loss of ``config.method`` with the config's settings.

    ``steps_per_epoch`` (the number of batches of an epoch) lets the epsilon warm-ups
    change at every step.

    Example:
        >>> make_robust_loss(RobustConfig(method="adv", eps_ramp_epochs=2), steps_per_epoch=40)
        AdvTrainLoss(eps=3, step_size=0.5, steps=40, ramp_epochs=2)
    """
    return get_method(config.method).make_loss(config, steps_per_epoch)


def make_optimizer(config: RobustConfig, parameters) -> torch.optim.Optimizer:  # noqa: ANN001 - an iterable
    """SGD (momentum, weight decay) or Adam (weight decay) at ``config.lr``."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    return torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay)


@dataclass(frozen=True)
class RobustTraining:
    """A profile's training lengths over Table 4's settings, for every method (None keeps Table 4's value).

    Adv-Train and TRADES take ``epochs``, ``inner_steps`` (PGD steps of the inner
    maximisation) and ``ramp_epochs`` (the epsilon warm-up); LP-Certify takes
    ``lp_epochs``, ``lp_ramp_epochs``, ``lp_proj`` and trains on the first
    ``lp_train_size`` examples (its bound is costly; None: all). ``snapshot_every``: the
    interval of the intermediate models kept for Figure 2 (None: none). Which field a
    method reads is its :attr:`~intrinsic_rob.models.methods.Method.lengths`.
    :func:`intrinsic_rob.pipeline.profiles.robust_training` builds one from a profile's values.

    Example:
        >>> RobustTraining(epochs=2, inner_steps=10).config("mnist", "adv", seed=1).epochs
        2
        >>> RobustTraining(lp_epochs=3).config("mnist", "lp", seed=0).epochs
        3
    """

    epochs: int | None = None
    inner_steps: int | None = None
    ramp_epochs: int | None = None
    lp_epochs: int | None = None
    lp_ramp_epochs: int | None = None
    lp_train_size: int | None = None
    lp_proj: int | None = None
    snapshot_every: int | None = None

    def config(self, dataset: str, method: str, seed: int) -> RobustConfig:
        """Table 4's settings for (dataset, method) with these lengths over them: the recipe of one model."""
        lengths = {field: getattr(self, name) for field, name in get_method(method, dataset).lengths}
        return table4_config(dataset, method, seed=seed, snapshot_every=self.snapshot_every,
                             **{k: v for k, v in lengths.items() if v is not None})

    def train_size(self, method: str) -> int | None:
        """How many of the training examples ``method`` trains on (None: all)."""
        name = get_method(method).train_size
        return None if name is None else getattr(self, name)

    def with_epochs(self, method: str, epochs: int) -> RobustTraining:
        """These lengths with ``method``'s number of epochs replaced.

        Example:
            >>> RobustTraining(epochs=6, lp_epochs=2).with_epochs("lp", 5).lp_epochs
            5
        """
        return dataclasses.replace(self, **{dict(get_method(method).lengths)["epochs"]: epochs})


__all__ = [
    "RobustConfig", "RobustTraining", "make_optimizer", "make_robust_loss", "make_robust_model",
    "steplr_after_ramp", "table4_config",
]
