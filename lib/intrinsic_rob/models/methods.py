"""The robust-training methods of Section 5.3, one record each: the registry that configurations, commands,
floors and tables read.

A :class:`Method` is its name, the paper's name for it, the datasets it runs on, its
architecture (and the name the cache key gives that architecture), its training loss
and its floor (:mod:`intrinsic_rob.pipeline.floors`). :data:`METHODS` holds them in Table 3's
order. Adding a robust-training method is adding one record here, with its loss in
:mod:`intrinsic_rob.models.robust_losses` and its tests; ``RobustConfig(method=...)`` accepts it
and the floors check it from then on (``intrinsic-rob robust|in-dist --method`` list it, but
run from Table 4's settings, so they refuse a method without a row there).
Table 4's settings (:func:`~intrinsic_rob.models.robust.table4_config`) exist only for the
paper's three (:data:`PAPER_METHODS`, which the book's chapters train): a new method is
configured with :class:`~intrinsic_rob.models.robust.RobustConfig` directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Callable, Mapping

import torch.nn as nn

from intrinsic_rob import paper
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.data.datasets import DATASETS, get_dataset
from intrinsic_rob.models.classifiers import lp_certify_net
from intrinsic_rob.models.robust_losses import AdvTrainLoss, LPCertifyLoss, TradesLoss
from intrinsic_rob.models.training import LossFn

if TYPE_CHECKING:
    from intrinsic_rob.models.robust import RobustConfig


@dataclass(frozen=True)
class Floor:
    """A trained classifier's floor: natural accuracy at least ``natural`` and, when
    ``certified_eps`` is set, certified accuracy above 0 at that epsilon."""

    natural: float
    certified_eps: float | None = None


@dataclass(frozen=True)
class Method:
    """One robust-training method.

    Attributes:
        name: the name settings, commands and tables use ("adv").
        paper_name: the paper's name for it ("Adv-Train").
        datasets: the datasets it trains on.
        make_model: dataset -> the architecture, freshly initialised from the global generator.
        model_id: dataset -> the architecture's name in the cache key.
        make_loss: (config, steps per epoch) -> the training loss with the config's settings.
        floor: what a model trained with it must reach before a conclusion rests on it.
        lengths: which field of a profile's training lengths (:class:`~intrinsic_rob.models.robust.RobustTraining`)
            sets each :class:`~intrinsic_rob.models.robust.RobustConfig` field, as (config field, lengths field) pairs
            (("epochs", "lp_epochs"), say).
        train_size: the field of the training lengths that limits the training examples (None: all are used).
        certified: evaluated with the exact l2 certificate too (its network is certifiable).
        loss_revision: raised when the loss's numerics change, so that a model cached under the old loss is
            trained again rather than reused (0 leaves the cache key as it was before revisions existed).
    """

    name: str
    paper_name: str
    datasets: tuple[str, ...]
    make_model: Callable[[str], nn.Module]
    model_id: Callable[[str], str]
    make_loss: Callable[["RobustConfig", int], LossFn]
    floor: Floor
    lengths: tuple[tuple[str, str], ...] = (("epochs", "epochs"), ("steps", "inner_steps"),
                                            ("eps_ramp_epochs", "ramp_epochs"))
    train_size: str | None = None
    certified: bool = False
    loss_revision: int = 0


def _dataset_classifier(dataset: str) -> nn.Module:
    return get_dataset(dataset).make_classifier()


def _dataset_classifier_id(dataset: str) -> str:
    return get_dataset(dataset).classifier_id


LP = Method(
    name="lp", paper_name="LP-Certify", datasets=("mnist",),
    make_model=lambda dataset: lp_certify_net(), model_id=lambda dataset: "lp_certify_net",
    make_loss=lambda c, steps_per_epoch: LPCertifyLoss(c.eps, c.lp_start_eps, c.lp_ramp_epochs, c.lp_proj,
                                                       steps_per_epoch=steps_per_epoch),
    floor=Floor(natural=0.70, certified_eps=1.0),
    lengths=(("epochs", "lp_epochs"), ("lp_ramp_epochs", "lp_ramp_epochs"), ("lp_proj", "lp_proj")),
    train_size="lp_train_size", certified=True)
ADV = Method(
    name="adv", paper_name="Adv-Train", datasets=tuple(DATASETS),
    make_model=_dataset_classifier, model_id=_dataset_classifier_id,
    make_loss=lambda c, steps_per_epoch: AdvTrainLoss(c.eps, c.step_size, c.steps, ramp_epochs=c.eps_ramp_epochs,
                                                      steps_per_epoch=steps_per_epoch),
    floor=Floor(natural=0.90))
TRADES = Method(
    name="trades", paper_name="TRADES", datasets=tuple(DATASETS),
    make_model=_dataset_classifier, model_id=_dataset_classifier_id,
    make_loss=lambda c, steps_per_epoch: TradesLoss(c.eps, c.step_size, c.steps, c.beta,
                                                    ramp_epochs=c.eps_ramp_epochs, steps_per_epoch=steps_per_epoch),
    floor=Floor(natural=0.90),
    loss_revision=1)  # 1: the KL term from log-probabilities on both sides (an underflowing softmax gave NaN)

#: Every method, by name, in Table 3's order.
METHODS: Mapping[str, Method] = MappingProxyType({m.name: m for m in (LP, ADV, TRADES)})

#: The methods the paper ran (those with a row of Table 4), in Table 3's order: the ones the book's chapters
#: train and tabulate beside the paper's numbers.
PAPER_METHODS: tuple[str, ...] = tuple(name for name in METHODS
                                       if any(method == name for _, method in paper.TABLE4_ROBUST_TRAINING))


def get_method(name: str, dataset: str | None = None) -> Method:
    """The method called ``name``; with ``dataset``, one that trains on it. A one-line error otherwise.

    Example:
        >>> get_method("trades").paper_name
        'TRADES'
        >>> get_method("lp", "imagenet10")
        Traceback (most recent call last):
        ...
        intrinsic_rob.core.errors.InputError: method 'lp' is available for dataset 'mnist' only, got dataset 'imagenet10'
    """
    method = METHODS.get(name)
    if method is None:
        raise InputError(f"method must be one of {', '.join(map(repr, METHODS))}, got {name!r}")
    if dataset is not None and dataset not in method.datasets:
        allowed = " and ".join(map(repr, method.datasets))
        only = " only" if len(method.datasets) == 1 else ""
        raise InputError(f"method {name!r} is available for dataset {allowed}{only}, got dataset {dataset!r}")
    return method
