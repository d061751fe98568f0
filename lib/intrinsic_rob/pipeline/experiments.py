"""Chapters 4 and 5's experiments, written once for the chapters, the commands and the sweep points.

A robust classifier of Section 5.3 is trained (or found in the cache) on a generated
training split (:func:`robust_model`), evaluated on the generated test split as Table 3
evaluates it (:func:`evaluate_trial`: natural accuracy, PGD-L2 robust accuracy with Table
5's step sizes and, for a certifiable network, certified accuracy), and read back at an
intermediate epoch for Figure 2 (:func:`model_at_epoch`). :func:`imagenet10_model` is the
ImageNet10 pipeline, which falls back to a pipeline check without BigGAN's weights.

Every function takes typed settings, passed whole: the training lengths
(:class:`~intrinsic_rob.models.robust.RobustTraining`), the evaluation (:class:`Evaluation`) and
the data (:class:`~intrinsic_rob.data.datasets.GeneratedData`); :mod:`intrinsic_rob.pipeline.profiles`
builds them from a profile's values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import torch
import torch.nn as nn

from intrinsic_rob import paper
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.core.validation import Checked, bounded
from intrinsic_rob.data.datasets import GeneratedData, GeneratedSet, GeneratorSource, cached_splits, make_generator
from intrinsic_rob.models.classifiers import TrainedClassifier, load_or_train_classifier
from intrinsic_rob.models.methods import get_method
from intrinsic_rob.models.robust import RobustTraining, make_robust_model
from intrinsic_rob.models.training import load_snapshots

if TYPE_CHECKING:
    import pandas as pd

    from intrinsic_rob.pipeline.run import Run


@dataclass(frozen=True)
class Evaluation(Checked):
    """How a trained classifier is evaluated: PGD-L2 with ``pgd_steps`` steps (Table 5: 100) on the
    first ``eval_size`` test images (None: all), certificates on the first ``certify_size`` of those
    (None: all of them).

    Example:
        >>> Evaluation(pgd_steps=20, eval_size=500, certify_size=100).counts(1000)
        (500, 100)
        >>> Evaluation(pgd_steps=20).counts(1000)
        (1000, 1000)
    """

    pgd_steps: int = bounded(100, low=1, integer=True)
    eval_size: int | None = bounded(None, low=1, integer=True, optional=True)
    certify_size: int | None = bounded(None, low=1, integer=True, optional=True)

    def counts(self, available: int) -> tuple[int, int]:
        """(images evaluated, images certified) out of ``available`` test images."""
        evaluated = available if self.eval_size is None else min(self.eval_size, available)
        certified = evaluated if self.certify_size is None else min(self.certify_size, evaluated)
        return evaluated, certified


@dataclass(frozen=True)
class Trial:
    """One evaluated classifier: ``rows`` (columns eps, metric, value; see :func:`evaluate_robustness`)
    over the first ``evaluated`` test images, certificates over the first ``certified_on``."""

    rows: "pd.DataFrame"
    evaluated: int
    certified_on: int


def robust_model(training: RobustTraining, dataset: str, method: str, seed: int, data: GeneratedData, run: Run, *,
                 device: torch.device | str | None = None, progress: bool = False) -> TrainedClassifier:
    """The classifier of ``method`` trained with ``seed`` on ``data``'s training split (Table 4's settings at
    ``training``'s lengths), from ``run``'s cache (its profile's folder) or trained into it.

    A method that trains on fewer examples (:meth:`~intrinsic_rob.models.robust.RobustTraining.train_size`)
    takes the first ones. The chapters, the commands and the sweep points call this with the
    same settings and data, so they share one cached model and its intermediate states.

    Example (trains the quick Adv-Train model on first use, about a minute on a CPU)::

        from pathlib import Path

        from intrinsic_rob.data.datasets import generated_mnist
        from intrinsic_rob.pipeline.profiles import QUICK, mnist_data, robust_training
        from intrinsic_rob.pipeline.run import Run
        values, run = QUICK.parameters("04_robust"), Run.from_environment(Path("."), "quick")
        mnist = generated_mnist(mnist_data(values), run)
        trained = robust_model(robust_training(values), "mnist", "adv", 0, mnist, run)
        trained.model, trained.history[-1]["loss"], trained.folder
    """
    x, y = _training_split(training, method, data)
    return load_or_train_classifier(training.config(dataset, method, seed), x, y, data_id=data.data_id,
                                    group=run.profile, artifacts=run.artifacts, device=device, progress=progress)


def robust_models(training: RobustTraining, dataset: str, methods: Sequence[str], seed: int, data: GeneratedData,
                  run: Run, *, device: torch.device | str | None = None) -> dict[str, TrainedClassifier]:
    """:func:`robust_model` for each of ``methods``, by method.

    On the CPU the models not yet in the cache train at once, one process of one thread per
    model (:func:`~intrinsic_rob.core.parallel.in_parallel`), with the weights training them
    in turn gives: every training runs on one thread
    (:data:`~intrinsic_rob.core.kernels.TRAINING_THREADS`). A process per model rather than
    per core, since the trainings' lengths differ: on two cores, three processes sharing them
    leave no core idle until the first finishes, where two would leave one idle while the
    third model trained alone.

    Example (the quick profile's three classifiers, trained at once on first use)::

        trained = robust_models(robust_training(values), "mnist", ["lp", "adv", "trades"], 0, mnist, run)
        trained["adv"].model
    """
    from functools import partial

    from intrinsic_rob.core.parallel import in_parallel
    from intrinsic_rob.models.classifiers import classifier_cached

    if torch.device(device or "cpu").type == "cpu":
        missing = [m for m in methods if not classifier_cached(training.config(dataset, m, seed),
                                                               *_training_split(training, m, data),
                                                               data_id=data.data_id, group=run.profile,
                                                               artifacts=run.artifacts)]
        in_parallel([partial(_train_only, training, dataset, m, seed, data, run) for m in missing],
                    workers=max(len(missing), 1))
    return {m: robust_model(training, dataset, m, seed, data, run, device=device) for m in methods}


def _training_split(training: RobustTraining, method: str, data: GeneratedData) -> tuple[torch.Tensor, torch.Tensor]:
    """The examples ``method`` trains on: the first :meth:`RobustTraining.train_size` of the training split."""
    limit = training.train_size(method)
    x, y = data.train.x, data.train.y
    return (x, y) if limit is None else (x[:limit], y[:limit])


def _train_only(training: RobustTraining, dataset: str, method: str, seed: int, data: GeneratedData, run: Run) -> None:
    robust_model(training, dataset, method, seed, data, run)


def model_at_epoch(trained: TrainedClassifier, dataset: str, method: str, epoch: int, *,
                   name: str = "epoch") -> nn.Module:
    """``trained``'s state after ``epoch`` epochs, from the intermediate models its training kept
    (in eval mode on the CPU); the final model when ``epoch`` is its last. ``name``: the parameter
    that gave ``epoch``, for the error a missing epoch raises.
    """
    kept = dict(load_snapshots(trained.folder))
    if epoch not in kept:
        raise InputError(f"{name} must be one of the kept epochs {sorted(kept)} of {method}, got {epoch}")
    model = make_robust_model(dataset, method)
    model.load_state_dict(kept[epoch])
    return model.eval()


def evaluate_robustness(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps_values: Sequence[float],
    pgd_steps: int,
    seed: int = 0,
    certify: tuple[torch.Tensor, torch.Tensor] | None = None,
    progress: bool = False,
) -> "pd.DataFrame":
    """Natural accuracy and, per eps, PGD-L2 robust accuracy (and certified accuracy) as tidy rows.

    The attack is :func:`intrinsic_rob.attacks.pgd_l2` with Table 5's step size for
    each eps (0.1, 0.3 and 0.5 at eps 1, 2 and 3; any other eps takes eps / 6) and
    ``pgd_steps`` steps, a random start and the best iterate.
    ``certify`` = (x, y) adds the exact l2 certificate's accuracy on those images
    (:func:`intrinsic_rob.estimators.certify.certified_accuracy`; LP-Certify's network only).

    Returns:
        A frame with columns eps (0 for natural accuracy), metric ("natural", "pgd",
        "certified") and value (a fraction).
    """
    import pandas as pd

    from intrinsic_rob.attacks import robust_accuracy
    from intrinsic_rob.estimators.certify import certified_accuracy, natural_accuracy

    rows = [{"eps": 0.0, "metric": "natural", "value": natural_accuracy(model, x, y)}]
    for eps in eps_values:
        step_size = paper.table5_step_size(eps)
        rows.append({"eps": float(eps), "metric": "pgd",
                     "value": robust_accuracy(model, x, y, eps=float(eps), step_size=step_size, steps=pgd_steps,
                                              seed=seed, progress=progress)})
        if certify is not None:
            rows.append({"eps": float(eps), "metric": "certified",
                         "value": certified_accuracy(model, certify[0], certify[1], float(eps))})
    return pd.DataFrame(rows)


def evaluate_trial(model: nn.Module, test: GeneratedSet, evaluation: Evaluation, *, method: str, seed: int,
                   eps_values: Sequence[float] = paper.TABLE3_EPSILONS, device: torch.device | str | None = None,
                   progress: bool = False) -> Trial:
    """``model`` (trained with ``method``) evaluated on ``test`` as ``evaluation`` says, at each of
    ``eps_values`` (Table 3's by default), the attack's random starts drawn from ``seed``: one
    trial of Table 3. The certificate is computed for the methods whose network is certifiable
    (:attr:`~intrinsic_rob.models.methods.Method.certified`)."""
    evaluated, certified_on = evaluation.counts(len(test))
    x, y = test.x[:evaluated], test.y[:evaluated]
    certify = (x[:certified_on], y[:certified_on]) if get_method(method).certified else None
    rows = evaluate_robustness(model if device is None else model.to(device), x, y, eps_values=list(eps_values),
                               pgd_steps=evaluation.pgd_steps, seed=seed, certify=certify, progress=progress)
    return Trial(rows, evaluated, certified_on)


@dataclass(frozen=True)
class ImageNet10Run:
    """A robust classifier on generated ImageNet10 with its data (:func:`imagenet10_model`).

    ``pipeline_check`` is True when no BigGAN weights were found: the data come from a
    randomly initialised BigGAN and nothing computed from them is an ImageNet result.
    """

    source: GeneratorSource
    train: GeneratedSet
    test: GeneratedSet
    model: nn.Module
    pipeline_check: bool


def imagenet10_model(training: RobustTraining, method: str, seed: int, sizes: Sequence[int], run: Run, *,
                     random_width: int = 4, device: torch.device | str | None = None) -> ImageNet10Run:
    """The ImageNet10 classifier of ``method``, or, without BigGAN weights, a pipeline check.

    Generates the (train, test) splits of ``sizes`` from BigGAN-deep (``run``'s weights, or,
    when they are absent, a randomly initialised one of width ``random_width``) and loads or trains
    the classifier with :func:`robust_model`; a pipeline check trains one epoch only, since
    it exercises code rather than measuring anything.
    """
    source = make_generator("imagenet10", seed=seed, artifacts=run.artifacts, biggan_dir=run.biggan_dir,
                            allow_random_biggan=True, random_width=random_width)
    pipeline_check = not source.pretrained
    train, test = cached_splits(source.generator, tuple(sizes), seed, group=run.profile, artifacts=run.artifacts,
                                batch_size=32)
    data = GeneratedData(source, train, test, f"{source.description}; seed {seed}")
    lengths = training.with_epochs(method, 1) if pipeline_check else training
    trained = robust_model(lengths, "imagenet10", method, seed, data, run, device=device)
    return ImageNet10Run(source, train, test, trained.model, pipeline_check)


__all__: list[Any] = ["Evaluation", "ImageNet10Run", "Trial", "evaluate_robustness", "evaluate_trial",
                      "imagenet10_model", "model_at_epoch", "robust_model"]
