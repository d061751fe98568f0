"""One training loop for every model of the project: :func:`fit` and its cache, :func:`load_or_fit`.

What is trained and how is a :class:`Task`: its modules and optimisers, and ``step``, one
optimisation step on a batch. A classifier's task is :class:`SupervisedTask`, whose loss
is a plug-in (:data:`LossFn`: plain cross-entropy here; adversarial training, TRADES or
certified training are other losses, not other loops); the ACGAN's task lives with the
ACGAN (:class:`intrinsic_rob.generators.acgan.ACGANTask`).

The loop owns what every training needs:

* seeding per epoch: each epoch's shuffling, noise and dropout come from a seed derived
  from (seed, epoch), so a run resumed after epoch e replays epoch e + 1 exactly;
* an atomic checkpoint after every epoch in the run's folder, and resumption from it to
  weights identical to those of an uninterrupted run;
* snapshots of the trained module every k epochs when asked;
* a progress bar in optimisation steps;
* caching of the finished model under a hash of its configuration (:func:`load_or_fit`).
"""

from __future__ import annotations

import functools
import json
import math
import re
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, TypeVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from intrinsic_rob.core.artifacts import (
    load_checkpoint,
    load_or_build,
    load_tensors,
    load_tensors_and_metadata,
    save_checkpoint,
    save_tensors,
)
from intrinsic_rob.core.devices import device_of
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.core.kernels import TRAINING_THREADS  # one thread: see there
from intrinsic_rob.core.progress import progress_bar
from intrinsic_rob.core.validation import Checked, bounded

#: A training loss: (model, x (B, ...), y (B,), rng) -> scalar loss to minimise. ``rng``
#: is the epoch's generator, for losses that draw (random starts of an attack, say).
LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]

CHECKPOINT = "checkpoint.pt"
T = TypeVar("T")


@dataclass(frozen=True)
class FitConfig(Checked):
    """How long and in which order to train: epochs, batch size, seed, snapshot interval."""

    epochs: int = bounded(5, low=1, integer=True)
    batch_size: int = bounded(128, low=1, integer=True)
    seed: int = bounded(0, low=0, integer=True)
    #: Save the trained module every this many epochs (``snapshot-epochNNN.safetensors``); None: never.
    snapshot_every: int | None = bounded(None, low=1, integer=True, optional=True)


def seeded(make: Callable[[], T], seed: int) -> T:
    """``make()`` run with the global generator seeded with ``seed``, the caller's random state left as it was.

    How every model of the project is initialised reproducibly.

    Example:
        >>> a, b = seeded(lambda: nn.Linear(2, 2), 3), seeded(lambda: nn.Linear(2, 2), 3)
        >>> torch.equal(a.weight, b.weight)
        True
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of every random draw of ``epoch`` (0-based) of a run seeded with ``seed``.

    Example:
        >>> epoch_seed(0, 3), epoch_seed(1, 0)
        (3, 1000003)
    """
    return seed * 1_000_003 + epoch


class Task(Protocol):
    """What :func:`fit` trains.

    ``modules`` and ``optimizers`` are checkpointed by name; ``extra_state`` holds any
    other state that must survive a resume (an average of weights, say). ``step`` makes
    one optimisation step on a batch and returns its metrics as batch means.
    ``trained()`` is the module the run produces (snapshots, cache). A task may also
    define ``begin_epoch(epoch)``, called before each epoch (0-based) with everything
    that depends on the epoch alone (a learning-rate schedule, an epsilon ramp), so a
    resumed run sets it exactly as an uninterrupted one.
    """

    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]

    def step(self, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator, step: int) -> dict[str, float]: ...

    def extra_state(self) -> dict[str, Any]: ...

    def load_extra_state(self, state: dict[str, Any]) -> None: ...

    def trained(self) -> nn.Module: ...


def step_decay(base: float, milestones: tuple[int, ...], factors: tuple[float, ...]) -> Callable[[int], float]:
    """A learning rate of ``base * factors[i]`` from epoch ``milestones[i]`` on (0-based), ``base`` before.

    The factors are relative to the base rate, not to each other: the original
    implementation's schedule meant x0.1, x0.01, x0.001 at epochs 50, 70, 90 but
    compounded them (book appendix, defect 7).

    Example:
        >>> lr = step_decay(0.05, (50, 70, 90), (0.1, 0.01, 0.001))
        >>> [round(lr(e), 8) for e in (0, 49, 50, 70, 99)]
        [0.05, 0.05, 0.005, 0.0005, 5e-05]
    """
    if len(milestones) != len(factors) or list(milestones) != sorted(milestones):
        raise InputError("milestones must be increasing and match factors one to one")

    def lr_at(epoch: int) -> float:
        rate = base
        for milestone, factor in zip(milestones, factors):
            if epoch >= milestone:
                rate = base * factor
        return rate

    return lr_at


def cross_entropy_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Standard training's loss: the mean cross-entropy of the model's logits."""
    return F.cross_entropy(model(x), y)


class SupervisedTask:
    """One model, one optimiser, a plug-in loss: every classifier's training.

    ``lr_at(epoch)`` (optional) gives each epoch's learning rate, a pure function of the
    epoch (see :func:`step_decay`). A loss with a ``begin_epoch(epoch)`` method (an
    epsilon ramp, say) is told each epoch before it starts.

    Example:
        >>> model = nn.Linear(4, 3)
        >>> task = SupervisedTask(model, torch.optim.SGD(model.parameters(), lr=0.1))
        >>> history = fit(task, torch.randn(20, 4), torch.randint(0, 3, (20,)), FitConfig(epochs=2, batch_size=8),
        ...               progress=False)
        >>> [sorted(h) for h in history]
        [['epoch', 'loss'], ['epoch', 'loss']]
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, loss: LossFn = cross_entropy_loss,
                 lr_at: Callable[[int], float] | None = None) -> None:
        self.model = model
        self.loss = loss
        self.lr_at = lr_at
        self.modules = {"model": model}
        self.optimizers = {"optimizer": optimizer}

    def begin_epoch(self, epoch: int) -> None:
        if self.lr_at is not None:
            for group in self.optimizers["optimizer"].param_groups:
                group["lr"] = self.lr_at(epoch)
        begin = getattr(self.loss, "begin_epoch", None)
        if callable(begin):
            begin(epoch)

    def step(self, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator, step: int) -> dict[str, float]:
        loss = self.loss(self.model, x, y, rng)
        opt = self.optimizers["optimizer"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def trained(self) -> nn.Module:
        return self.model


def _on_training_threads(train: Callable[..., list[dict[str, float]]]) -> Callable[..., list[dict[str, float]]]:
    """Run ``train(task, ...)`` on :data:`TRAINING_THREADS` CPU threads and portable kernels
    (:func:`~intrinsic_rob.core.kernels.portable_cpu_kernels`), when it trains on the CPU."""
    from intrinsic_rob.core.devices import fixed_cpu_threads
    from intrinsic_rob.core.kernels import portable_cpu_kernels

    @functools.wraps(train)
    def wrapper(task: "Task", *args: Any, device: torch.device | str | None = None,
                **kwargs: Any) -> list[dict[str, float]]:
        where = torch.device(device) if device is not None else device_of(next(iter(task.modules.values())))
        if where.type != "cpu":
            return train(task, *args, device=device, **kwargs)
        with fixed_cpu_threads(TRAINING_THREADS), portable_cpu_kernels():
            return train(task, *args, device=device, **kwargs)

    return wrapper


@_on_training_threads
def fit(
    task: Task,
    x: torch.Tensor,
    y: torch.Tensor,
    config: FitConfig,
    *,
    folder: Path | None = None,
    progress: bool = True,
    desc: str = "training",
    on_batch: Callable[[int, int], None] | None = None,
    device: torch.device | str | None = None,
) -> list[dict[str, float]]:
    """Train ``task`` on (x, y) for ``config.epochs`` epochs; returns each epoch's mean metrics.

    With a ``folder``, the state after every epoch is checkpointed there atomically
    (``checkpoint.pt``) and a later call resumes from it, ending with the same weights as
    an uninterrupted run; snapshots of ``task.trained()`` are written every
    ``config.snapshot_every`` epochs and after the last. Epoch e's shuffling, the task's
    draws and dropout all come from :func:`epoch_seed` (seed, e); the caller's global
    random state is left as it was. ``on_batch(epoch, step)`` runs after every step (tests use it to interrupt
    a run). The modules are left in train mode; ``task.trained()`` is put in eval mode.

    Args:
        task: what to train (:class:`Task`).
        x: (N, ...) inputs. y: (N,) labels.
        config: epochs, batch size, seed, snapshot interval.
        device: where the modules and batches go (default: where the modules are). The
            shuffling and the task's draws stay on the CPU generator, so a run draws the
            same numbers on every device.

    Example:
        >>> model = nn.Linear(3, 2)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> x, y = torch.randn(10, 3), torch.randint(0, 2, (10,))
        >>> [h["epoch"] for h in fit(SupervisedTask(model, opt), x, y, FitConfig(epochs=2, batch_size=4),
        ...                          progress=False)]
        [1.0, 2.0]

    On the CPU the run uses :data:`TRAINING_THREADS` threads whatever its caller set
    (a chapter's kernel, a sweep's worker with OMP_NUM_THREADS=1, a command): float sums
    depend on the thread count, and with it the trained weights, so a model trained by
    one caller must be the model another caller would train. For the same reason oneDNN
    runs in its deterministic mode and NNPACK, whose sums follow the processor's caches,
    is off (:func:`~intrinsic_rob.core.kernels.portable_cpu_kernels`); with the package's
    environment (:mod:`intrinsic_rob.core.kernels`), x86-64 machines of other models with AVX2
    train the same weights.
    """
    n = int(x.shape[0])
    if n < 1 or y.shape[0] != n:
        raise InputError(f"x and y must hold the same number (>= 1) of examples, got {n} and {int(y.shape[0])}")
    if config.snapshot_every is not None and folder is None:
        raise InputError("folder is required when snapshot_every is set (snapshots are written there)")
    if device is not None:
        for module in task.modules.values():
            module.to(device)
    ckpt_path = folder / CHECKPOINT if folder is not None else None
    history, start = _resume(task, config, ckpt_path)
    steps = math.ceil(n / config.batch_size)
    for module in task.modules.values():
        module.train()
    where = device_of(next(iter(task.modules.values()))) if device is None else torch.device(device)
    bar = progress_bar(total=config.epochs * steps, initial=start * steps, desc=desc, enabled=progress, unit="step")
    # Every device's generator is forked: the per-epoch seeding must not leak to the caller.
    with torch.random.fork_rng(), _closing(bar):
        for epoch in range(start, config.epochs):
            seed = epoch_seed(config.seed, epoch)
            torch.manual_seed(seed)  # dropout and any other draw from the global generator
            rng = torch.Generator().manual_seed(seed)
            begin = getattr(task, "begin_epoch", None)
            if callable(begin):
                begin(epoch)
            sums = _run_epoch(task, x, y, epoch, rng, config.batch_size, where, bar, on_batch)
            record = {"epoch": float(epoch + 1), **{k: v / n for k, v in sums.items()}}
            history.append(record)
            bar.set_postfix({k: f"{v:.3f}" for k, v in list(record.items())[1:3]})
            if ckpt_path is not None:
                _save_epoch(task, config, epoch, history, ckpt_path)
    task.trained().eval()
    return history


def _resume(task: Task, config: FitConfig, ckpt_path: Path | None) -> tuple[list[dict[str, float]], int]:
    """The history and first epoch to run: from the checkpoint at ``ckpt_path`` (restored into ``task``) where
    one of this configuration exists, else ([], 0)."""
    state = load_checkpoint(ckpt_path) if ckpt_path is not None else None
    if state is None:
        return [], 0
    if state.get("config", asdict(config)) != asdict(config):
        raise InputError(f"folder {ckpt_path.parent} holds a checkpoint of another configuration "
                         f"({state['config']}); use another folder or remove it")
    _restore(task, state)
    return list(state["history"]), int(state["epoch"]) + 1


def _run_epoch(task: Task, x: torch.Tensor, y: torch.Tensor, epoch: int, rng: torch.Generator, batch_size: int,
               where: torch.device, bar: Any, on_batch: Callable[[int, int], None] | None) -> dict[str, float]:
    """One pass over (x, y) in the epoch's shuffled order; the sums over examples of the task's metrics."""
    n = int(x.shape[0])
    steps = math.ceil(n / batch_size)
    order = torch.randperm(n, generator=rng)
    sums: dict[str, float] = {}
    for step in range(steps):
        idx = order[step * batch_size : (step + 1) * batch_size]
        xb, yb = x[idx].to(where, non_blocking=True), y[idx].to(where, non_blocking=True)
        metrics = task.step(xb, yb, rng, epoch * steps + step + 1)
        _check_finite(metrics, epoch, step, steps)
        b = int(idx.numel())
        for key, value in metrics.items():
            sums[key] = sums.get(key, 0.0) + value * b
        bar.update(1)
        if on_batch is not None:
            on_batch(epoch, step)
    return sums


class TrainingDiverged(InputError):
    """A training step gave a loss or metric that is not finite (the weights are then NaN or infinite too)."""


def _check_finite(metrics: dict[str, float], epoch: int, step: int, steps: int) -> None:
    """Stops the run at the first step whose metrics are not finite: the epoch's checkpoint is not written, so
    the last one kept is the last finite epoch, and no later epoch trains on NaN weights.

    Example:
        >>> _check_finite({"loss": float("nan")}, 0, 118, 157)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        intrinsic_rob.models.training.TrainingDiverged: training diverged: loss = nan at epoch 1, step 119 of 157; ...
    """
    bad = {k: v for k, v in metrics.items() if not math.isfinite(v)}
    if bad:
        shown = ", ".join(f"{k} = {v}" for k, v in bad.items())
        raise TrainingDiverged(f"training diverged: {shown} at epoch {epoch + 1}, step {step + 1} of {steps}; "
                               f"the checkpoint keeps the last finite epoch")


def _save_epoch(task: Task, config: FitConfig, epoch: int, history: list[dict[str, float]], ckpt_path: Path) -> None:
    """The checkpoint after ``epoch`` (0-based), and the snapshot of the trained model where one is due."""
    save_checkpoint(ckpt_path, _state(task, epoch, history, config))
    if config.snapshot_every is not None and ((epoch + 1) % config.snapshot_every == 0 or epoch + 1 == config.epochs):
        save_tensors(ckpt_path.parent / f"snapshot-epoch{epoch + 1:03d}.safetensors", task.trained().state_dict(),
                     metadata=history_metadata(history))


_SNAPSHOT = re.compile(r"snapshot-epoch(\d+)\.safetensors$")


def load_snapshots(folder: Path) -> list[tuple[int, dict[str, torch.Tensor]]]:
    """The intermediate models a run saved in ``folder``: [(epoch, state_dict)], by epoch (1-based).

    Only intact files count (each is checked against its sha256 sidecar); a damaged one
    is left out with a warning, as it cannot be rebuilt without retraining.

    Example:
        >>> import tempfile
        >>> load_snapshots(Path(tempfile.mkdtemp()))
        []
    """
    found = []
    for path in Path(folder).glob("snapshot-epoch*.safetensors"):
        match = _SNAPSHOT.search(path.name)
        if match is None:
            continue
        tensors = load_tensors(path)
        if tensors is None:
            warnings.warn(f"snapshot {path} is damaged or incomplete and is left out", RuntimeWarning, stacklevel=2)
            continue
        found.append((int(match.group(1)), tensors))
    return sorted(found, key=lambda item: item[0])


@contextmanager
def _closing(bar: Any) -> Iterator[Any]:
    """Close a progress bar however the block ends (an interrupted run leaves no half-drawn bar)."""
    try:
        yield bar
    finally:
        bar.close()


def _state(task: Task, epoch: int, history: list[dict[str, float]], config: FitConfig) -> dict[str, Any]:
    return {
        "epoch": epoch,
        **{name: m.state_dict() for name, m in task.modules.items()},
        **{name: o.state_dict() for name, o in task.optimizers.items()},
        **task.extra_state(),
        "history": history,
        "config": asdict(config),
    }


def _restore(task: Task, state: dict[str, Any]) -> None:
    for name, module in task.modules.items():
        module.load_state_dict(state[name])
    for name, opt in task.optimizers.items():
        opt.load_state_dict(state[name])
    task.load_extra_state(state)


def history_metadata(history: list[dict[str, float]]) -> dict[str, str]:
    """The safetensors header entry that carries a training history."""
    return {"history": json.dumps(history)}


@dataclass
class Fitted:
    """A finished model's weights, its training history and the folder it is cached in."""

    weights: dict[str, torch.Tensor]
    history: list[dict[str, float]]
    folder: Path


#: The finished model's file in its cache folder (:func:`load_or_fit`'s default).
MODEL_FILE = "model.safetensors"


def load_or_fit(
    make_task: Callable[[], Task],
    x: torch.Tensor,
    y: torch.Tensor,
    config: FitConfig,
    folder: Path,
    *,
    filename: str = MODEL_FILE,
    progress: bool = True,
    desc: str = "training",
    device: torch.device | str | None = None,
) -> Fitted:
    """The cached model in ``folder`` (an :func:`~intrinsic_rob.core.artifacts.artifact_dir`), fitting it when absent.

    The finished model is ``folder/filename`` with its history in the safetensors header,
    usable on its own. A file that is missing or damaged is rebuilt from the last intact
    checkpoint, never silently used. Two processes asking for the same model at once fit
    it once: the second waits and loads (:func:`~intrinsic_rob.core.artifacts.load_or_build`).
    ``make_task`` builds the (seeded) task only when fitting is needed.
    """
    path = folder / filename

    def load() -> Fitted | None:
        loaded = load_tensors_and_metadata(path)
        if loaded is None or "history" not in loaded[1]:
            return None
        return Fitted(loaded[0], json.loads(loaded[1]["history"]), folder)

    def build() -> Fitted:
        task = make_task()
        history = fit(task, x, y, config, folder=folder, progress=progress, desc=desc, device=device)
        weights = task.trained().state_dict()
        save_tensors(path, weights, metadata=history_metadata(history))
        return Fitted({k: v.detach().cpu() for k, v in weights.items()}, history, folder)

    return load_or_build(folder, load, build)


def load_or_fit_model(
    model: nn.Module,
    make_task: Callable[[nn.Module], Task],
    x: torch.Tensor,
    y: torch.Tensor,
    config: FitConfig,
    folder: Path,
    *,
    progress: bool = True,
    desc: str = "training",
    device: torch.device | str | None = None,
) -> tuple[nn.Module, list[dict[str, float]]]:
    """:func:`load_or_fit` for a task that trains ``model``: the cached or freshly fitted
    weights loaded into it, on the CPU and in eval mode, and the training history.

    ``model`` is the freshly initialised model (see :func:`seeded`); ``make_task(model)``
    builds its task (optimiser, loss) only when fitting is needed.
    """
    fitted = load_or_fit(lambda: make_task(model), x, y, config, folder, progress=progress, desc=desc,
                         device=device)
    model.cpu().load_state_dict(fitted.weights)
    model.eval()
    return model, fitted.history
