"""Local Lipschitz constants of conditional generators (Condition 4.1, Algorithm 1, Section 5.2).

For a class y and latent z, the local constant on the ball B(z, r) is
sup_{z' in B(z, r)} ||g(z', y) - g(z, y)|| / ||z' - z||. Algorithm 1 estimates it for S
latents z ~ N(0, I) and reports the (1 - delta)-percentile of the S estimates, the L(r)
of Condition 4.1 that holds with probability about 1 - delta.

Two estimators of the per-sample supremum, both lower estimates of it:

* ``method="sample"`` (Algorithm 1): N neighbours drawn uniformly from the ball (a
  Gaussian direction and radius r U^(1/d)), the largest ratio. g(z) is computed once per z,
  many z share a batch, and no autograd graph is built.
* ``method="gradient"``: projected gradient ascent of the ratio over the ball from several
  random starts, within the same budget of generator evaluations (a forward and backward
  pass count as three).

A generator may provide ``for_inference()``, returning an equivalent module that is faster
to evaluate (the ACGAN folds its batch norms); the estimators use it when present. That
module may in turn offer ``ball_evaluator(z, label)``, an exact evaluator of
g(z + offsets, label) specialised to one centre (the ACGAN's skips most of its second
layer, see :meth:`intrinsic_rob.generators.acgan.FoldedACGAN.ball_evaluator`); Algorithm 1 uses it for N >= 64. Either
way the neighbours are drawn in the same order, so the estimate depends on the seed, S,
N, r and the directions, not on ``max_batch`` or the path taken.

``certified_lipschitz_bound`` (from :mod:`intrinsic_rob.estimators.spectral`, re-exported here) gives
an upper bound on the global constant from the layers' spectral norms, which bounds every
local constant from above (for the ACGAN:
:meth:`intrinsic_rob.generators.acgan.ACGANGenerator.certified_lipschitz_bound`).

The l2-ball geometry (sampling, ratios, steps, projections) lives in
:mod:`intrinsic_rob.theory.geometry`.
"""

from __future__ import annotations

import math
import queue
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Sequence

import numpy as np
import torch

from intrinsic_rob import paper
from intrinsic_rob.core.devices import device_of, eval_mode, full_precision
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.core.progress import progress_bar
from intrinsic_rob.core.validation import Checked, bounded, check_value
from intrinsic_rob.estimators.spectral import certified_lipschitz_bound, conv_spectral_norm_bound, linear_spectral_norm  # noqa: F401
from intrinsic_rob.generators import ConditionalGenerator

# sample_ball_offsets stays importable from here (it lived in this module); the estimators
# look it up in this module's namespace.
from intrinsic_rob.theory.geometry import (
    Directions,
    keep_off_centre,
    normalized_step,
    project_ball,
    safe_ratio,
    sample_ball_offsets,
)

if TYPE_CHECKING:
    import pandas as pd

Method = Literal["sample", "gradient"]


@dataclass(frozen=True)
class Algorithm1Settings(Checked):
    """Algorithm 1's S, N, r and delta, and how many trials a table repeats it; checked when built.

    Example:
        >>> Algorithm1Settings(num_samples=40, num_neighbors=100).radius
        0.5
        >>> Algorithm1Settings(delta=1.0)
        Traceback (most recent call last):
        ...
        intrinsic_rob.core.errors.InputError: delta must be in [0, 1), got 1
    """

    num_samples: int = bounded(paper.LIPSCHITZ_SAMPLES, low=1, integer=True)
    num_neighbors: int = bounded(paper.LIPSCHITZ_NEIGHBORS, low=1, integer=True)
    radius: float = bounded(paper.LIPSCHITZ_RADIUS, low=0, low_open=True)
    delta: float = bounded(paper.LIPSCHITZ_DELTA, low=0, high=1, high_open=True)
    trials: int = bounded(1, low=1, integer=True)

    def estimator_kwargs(self) -> dict[str, float]:
        """S, N, r and delta as keywords of :func:`estimate_local_lipschitz`."""
        return {"num_samples": self.num_samples, "num_neighbors": self.num_neighbors, "radius": self.radius,
                "delta": self.delta}


@dataclass(frozen=True)
class LipschitzSettings:
    """The inputs of one estimate (Algorithm 1's S, N, r, delta and the method)."""

    label: int
    num_samples: int
    num_neighbors: int
    radius: float
    delta: float
    method: str
    directions: str
    seed: int


@dataclass(frozen=True)
class LipschitzResult:
    """Algorithm 1's output.

    Attributes:
        value: the (1 - delta)-percentile of ``per_sample`` (linear interpolation).
        per_sample: (S,) the estimated local constant at each latent sample.
        settings: what produced it.
        evaluations: generator evaluations spent (a backward pass counts as two).
    """

    value: float
    per_sample: np.ndarray
    settings: LipschitzSettings
    evaluations: int

    @property
    def radius(self) -> float:
        """The r of the balls the constant was measured on; the bounds read it from here."""
        return self.settings.radius

    def as_dict(self) -> dict:
        return {"value": self.value, "evaluations": self.evaluations, **asdict(self.settings)}


def percentile_estimate(per_sample: np.ndarray, delta: float) -> float:
    """Algorithm 1's output: the (1 - delta)-percentile of the per-sample constants."""
    return float(np.quantile(per_sample, 1.0 - delta))


def _validate(generator: ConditionalGenerator, label: int, num_samples: int, num_neighbors: int,
              radius: float, delta: float) -> None:
    for attr in ("z_dim", "num_classes"):
        if not isinstance(getattr(generator, attr, None), int):
            raise InputError(f"generator.{attr} must be an int (the project's generator interface)")
    if not isinstance(label, (int, np.integer)) or not 0 <= int(label) < generator.num_classes:
        raise InputError(f"label must be in [0, {generator.num_classes - 1}], got {label!r}")
    Algorithm1Settings(num_samples, num_neighbors, radius, delta)


def estimate_local_lipschitz(
    generator: ConditionalGenerator,
    label: int,
    *,
    num_samples: int = paper.LIPSCHITZ_SAMPLES,
    num_neighbors: int = paper.LIPSCHITZ_NEIGHBORS,
    radius: float = paper.LIPSCHITZ_RADIUS,
    delta: float = paper.LIPSCHITZ_DELTA,
    method: Method = "sample",
    seed: int = 0,
    directions: Directions = "uniform",
    max_batch: int | None = None,
    restarts: int = 8,
    progress: bool = False,
) -> LipschitzResult:
    """Algorithm 1 (``method="sample"``) or its gradient-based strengthening for one class.

    Args:
        generator: any conditional generator (``z_dim``, ``num_classes``, ``generator(z, y)``).
        label: the class y.
        num_samples: S, latent samples z ~ N(0, I).
        num_neighbors: N, neighbours per sample; for ``"gradient"`` the same budget of
            generator evaluations.
        radius: r, the ball's radius in latent space.
        delta: the output is the (1 - delta)-percentile over the S samples.
        method: ``"sample"`` or ``"gradient"``.
        seed: seeds the latents and neighbours (on the CPU, so results match across devices).
        directions: neighbour directions, ``"uniform"`` or the original's ``"orthant"``.
        max_batch: most images per generator call; bounds memory for any S and N. The
            default is 512 on a CPU, where moderate batches stay in cache and run fastest,
            and 8192 on a GPU, which needs large batches to be busy.
        restarts: starting points per sample for ``"gradient"``.
        progress: show a progress bar.

    Returns:
        :class:`LipschitzResult` with ``.value``, ``.per_sample`` (S,) and ``.settings``.

    Example:
        >>> import torch.nn as nn
        >>> class Linear(nn.Module):
        ...     z_dim, num_classes = 3, 1
        ...     def forward(self, z, y):
        ...         return (2.0 * z)[:, None, :, None]
        >>> round(estimate_local_lipschitz(Linear(), 0, num_samples=4, num_neighbors=8).value, 6)
        2.0
    """
    _validate(generator, label, num_samples, num_neighbors, radius, delta)
    if method not in ("sample", "gradient"):
        raise InputError(f"method must be 'sample' or 'gradient', got {method!r}")
    if max_batch is not None and max_batch < 1:
        raise InputError(f"max_batch must be >= 1, got {max_batch}")
    settings = LipschitzSettings(int(label), int(num_samples), int(num_neighbors), float(radius), float(delta),
                                 method, directions, int(seed))
    rng = torch.Generator().manual_seed(seed)
    device = device_of(generator)
    if max_batch is None:
        max_batch = _DEFAULT_MAX_BATCH.get(device.type, _DEFAULT_MAX_BATCH["cpu"])
    z_all = torch.randn(num_samples, generator.z_dim, generator=rng)
    with eval_mode(generator), full_precision():
        # A generator may offer an equivalent module that is faster to evaluate.
        fast = getattr(generator, "for_inference", None)
        evaluated = fast() if callable(fast) else generator
        if method == "sample":
            per_sample, evals = _sampled(evaluated, int(label), z_all, num_neighbors, radius, directions,
                                         rng, device, max_batch, progress)
        else:
            per_sample, evals = _gradient(evaluated, int(label), z_all, num_neighbors, radius, directions,
                                          rng, device, max_batch, restarts, progress)
    per = per_sample.cpu().double().numpy()
    return LipschitzResult(percentile_estimate(per, delta), per, settings, evals)


# Most images per generator call unless the caller says otherwise, by device type.
_DEFAULT_MAX_BATCH = {"cpu": 512, "cuda": 8192}

# Neighbours of one z are drawn in blocks of this many, z after z, whatever the batching:
# the estimate then depends on the seed, S, N, r and the directions only, not on
# ``max_batch`` or on which evaluation path runs.
_DRAW_BLOCK = 1024

# Below this many neighbours per z, forming a generator's per-z ball evaluator costs more
# than it saves (for the ACGAN: a 100 x 6272 product per z against N rows of a 1024-deep one).
_BALL_MIN_NEIGHBORS = 64


def _neighbour_blocks(n, d, radius, rng, directions):
    """The n offsets of one z, as successive (c, d) blocks in the canonical draw order."""
    for done in range(0, n, _DRAW_BLOCK):
        yield sample_ball_offsets(1, min(_DRAW_BLOCK, n - done), d, radius, rng, directions)[0]


class _NeighbourStream:
    """Every z's neighbour blocks, z after z, optionally drawn ahead in a background thread.

    On a GPU the draws (on the CPU, for device-independent results) would otherwise
    alternate with the generator's kernels; a thread drawing up to ``depth`` blocks ahead
    overlaps the two. The blocks and their order are the same either way. ``take()``
    returns the next z's blocks; ``close()`` stops the thread.
    """

    def __init__(self, s, n, d, radius, rng, directions, prefetch: bool, depth: int = 8):
        self.n = n
        blocks = (b for _ in range(s) for b in _neighbour_blocks(n, d, radius, rng, directions))
        self._source = blocks
        self._queue: queue.Queue | None = None
        if prefetch:
            self._queue = queue.Queue(maxsize=depth)
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._fill, daemon=True)
            self._thread.start()

    def _put(self, item: object) -> bool:
        """Queue ``item`` unless the stream is closed first; False when closed."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _fill(self) -> None:
        pin = torch.cuda.is_available()
        try:
            for block in self._source:
                if not self._put(block.pin_memory() if pin else block):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(exc)

    def take(self) -> list[torch.Tensor]:
        count = -(-self.n // _DRAW_BLOCK)
        if self._queue is None:
            return [next(self._source) for _ in range(count)]
        out = []
        for _ in range(count):
            item = self._queue.get()
            if isinstance(item, BaseException):
                raise item
            out.append(item)
        return out

    def close(self) -> None:
        if self._queue is not None:
            self._stop.set()
            self._thread.join()


def _sampled(generator, label, z_all, n, radius, directions, rng, device, max_batch, progress):
    """Per-sample max ratio over n uniform neighbours; g(z) once per z.

    Two paths with the same draws and the same result: several z per generator call when
    n is small, or, when the generator offers ``ball_evaluator(z, label)`` (an exact
    evaluator of g(z + offsets) specialised to one z) and n is large, one z at a time with
    its neighbours in chunks of at most ``max_batch``. On a GPU the neighbours are drawn
    ahead in a background thread (same draws, same order).
    """
    s, d = z_all.shape
    ball = getattr(generator, "ball_evaluator", None)
    per_z = callable(ball) and n >= _BALL_MIN_NEIGHBORS
    per_call = min(n, max_batch)
    group = 1 if per_z else max(1, min(s, max_batch // per_call))
    best = torch.zeros(s, device=device)

    def update(out, gz, offsets, running):
        ratio = safe_ratio((out - gz).norm(dim=-1), offsets.norm(dim=-1))
        return torch.maximum(running, ratio.amax(dim=-1))

    stream = _NeighbourStream(s, n, d, radius, rng, directions, prefetch=device.type == "cuda")
    bar = progress_bar(total=s, desc=f"class {label}: sampling", enabled=progress, unit="z")
    with torch.inference_mode():
        try:
            for start in range(0, s, group):
                z = z_all[start : start + group].to(device)
                b = z.shape[0]
                labels = torch.full((b,), label, dtype=torch.long, device=device)
                gz = generator(z, labels).reshape(b, -1)
                if not per_z and n <= per_call:
                    # Every z's neighbours fit in one call: stack the group's draws.
                    offsets = torch.stack([torch.cat(stream.take()) for _ in range(b)]).to(device)
                    out = generator((z[:, None, :] + offsets).reshape(b * n, d), labels.repeat_interleave(n))
                    best[start : start + b] = update(out.reshape(b, n, -1), gz[:, None, :], offsets,
                                                     torch.zeros(b, device=device))
                else:
                    # One z (b == 1), its neighbours in chunks of at most per_call.
                    if per_z:
                        evaluate = ball(z[0], label)
                    else:
                        def evaluate(offsets):
                            return generator(z + offsets, labels.expand(offsets.shape[0]))
                    running = torch.zeros((), device=device)
                    for block in stream.take():
                        for offsets in block.to(device, non_blocking=True).split(per_call):
                            out = evaluate(offsets).reshape(offsets.shape[0], -1)
                            running = update(out, gz[0], offsets, running)
                    best[start] = running
                bar.update(b)
        finally:
            stream.close()
            bar.close()
    return best, s * (n + 1)


def _gradient(generator, label, z_all, n, radius, directions, rng, device, max_batch, restarts, progress):
    """Projected gradient ascent of the ratio over the ball, with the budget of n evaluations.

    Each step evaluates k = ``restarts`` points per z forward and backward (three
    evaluations each), so T = max(1, (n - k) // (3 k)) steps fit in the budget. Steps are
    normalised gradient steps of size decaying from 0.5 r to 0.05 r; points are projected
    back into the ball and kept at least 1e-3 r from z, where the ratio is well defined.
    """
    s, d = z_all.shape
    k = max(1, min(restarts, n))
    steps = max(1, (n - k) // (3 * k))
    group = max(1, min(s, max_batch // k))
    best = torch.zeros(s, device=device)
    evals = 0
    bar = progress_bar(total=s, desc=f"class {label}: gradient ascent", enabled=progress, unit="z")
    for start in range(0, s, group):
        z = z_all[start : start + group].to(device)
        b = z.shape[0]
        labels = torch.full((b * k,), label, dtype=torch.long, device=device)
        with torch.inference_mode():
            gz = generator(z, labels[:b]).reshape(b, -1)
        evals += b
        gz_rep = gz.repeat_interleave(k, dim=0).clone()
        z_rep = z.repeat_interleave(k, dim=0)
        # Starting points drawn z after z, so the estimate does not depend on the grouping.
        offsets = torch.cat([sample_ball_offsets(1, k, d, radius, rng, directions)[0] for _ in range(b)]).to(device)
        running = torch.zeros(b * k, device=device)
        for t in range(steps + 1):
            offsets = offsets.detach().requires_grad_(t < steps)
            with torch.enable_grad():
                out = generator(z_rep + offsets, labels).reshape(b * k, -1)
                ratio = safe_ratio((out - gz_rep).norm(dim=-1), offsets.norm(dim=-1))
                evals += b * k
                running = torch.maximum(running, ratio.detach())
                if t == steps:
                    break
                (grad,) = torch.autograd.grad(ratio.sum(), offsets)
                evals += 2 * b * k
            size = radius * (0.05 + 0.45 * 0.5 * (1 + math.cos(math.pi * t / max(steps - 1, 1))))
            offsets = normalized_step(offsets.detach(), grad, size)
            offsets = project_ball(offsets, radius)
            offsets = keep_off_centre(offsets, 1e-3 * radius)
        best[start : start + b] = running.reshape(b, k).amax(dim=1)
        bar.update(b)
    bar.close()
    return best, evals


def lipschitz_table(
    generator: ConditionalGenerator,
    class_names: Sequence[str],
    settings: Algorithm1Settings,
    *,
    method: Method = "sample",
    directions: Directions = "uniform",
    seed: int = 0,
    progress: bool = True,
) -> "pd.DataFrame":
    """Tables 1 and 2: Algorithm 1 per class with ``settings`` (S, N, r, delta), ``settings.trials``
    times with seeds seed + t.

    Returns a tidy frame with one row per (class, trial): class index and name, trial,
    value, and the settings.

    Example:
        >>> import torch.nn as nn
        >>> class Linear(nn.Module):
        ...     z_dim, num_classes = 3, 2
        ...     def forward(self, z, y):
        ...         return (2.0 * z)[:, None, :, None]
        >>> table = lipschitz_table(Linear(), ["a", "b"], Algorithm1Settings(4, 8, trials=2), progress=False)
        >>> len(table), sorted(float(v) for v in table["value"].round(6).unique())
        (4, [2.0])
    """
    import pandas as pd

    _validate(generator, 0, settings.num_samples, settings.num_neighbors, settings.radius, settings.delta)
    trials = settings.trials
    if len(class_names) != generator.num_classes:
        raise InputError(f"class_names has {len(class_names)} names for {generator.num_classes} classes")
    rows = []
    bar = progress_bar(total=generator.num_classes * trials, desc=f"Algorithm 1 ({method})", enabled=progress,
                       unit="run")
    for label, name in enumerate(class_names):
        for trial in range(trials):
            res = estimate_local_lipschitz(generator, label, **settings.estimator_kwargs(), method=method,
                                           directions=directions, seed=seed + trial)
            rows.append({"class": label, "name": name, "trial": trial, "value": res.value,
                         "method": method, "directions": directions, **settings.estimator_kwargs()})
            bar.update(1)
    bar.close()
    return pd.DataFrame(rows)


def read_recorded_lipschitz(name: str, root: "Path", settings: Algorithm1Settings,
                            profile: str = "paper") -> "tuple[pd.DataFrame, dict] | None":
    """A committed :func:`lipschitz_table` (results/<profile>/<name>.csv) and its provenance, or None if absent.

    The table must hold ``settings`` (S, N, r, delta, and that many trials of every
    class); a table recorded with other settings is a ValueError, not a silent mismatch.
    """
    from intrinsic_rob.pipeline.results import read_recorded_table

    found = read_recorded_table(name, profile, root)
    if found is None:
        return None
    frame, meta = found
    expected = asdict(settings)
    recorded = {k: meta.get("settings", {}).get(k) for k in expected}
    if recorded != expected:
        raise ValueError(f"{name}: recorded with settings {recorded}, expected {expected}")
    if not frame.groupby("class")["trial"].nunique().eq(settings.trials).all():
        raise ValueError(f"{name}: not every class has {settings.trials} trials")
    return found


def lmax_at_radius(table: "pd.DataFrame", radius: float) -> dict[str, float]:
    """L_max(r) per estimate from a table of estimates at several radii, as a lower estimate at ``radius``.

    ``table`` has columns method, radius and value (one row per class, radius and trial;
    :func:`lipschitz_table`'s rows for several radii). The true L(r) cannot decrease with
    r, so an estimate at a smaller radius is a lower estimate at every larger one: per
    method, the largest value at any radius up to ``radius``. A method without an
    estimate at ``radius`` itself is an error, not an extrapolation.

    Example:
        >>> import pandas as pd
        >>> t = pd.DataFrame({"method": ["sample"] * 3, "radius": [0.25, 0.5, 1.0], "value": [3.0, 2.5, 9.0]})
        >>> lmax_at_radius(t, 0.5)
        {'sample': 3.0}
    """
    out = {}
    for method, rows in table.groupby("method"):
        if not np.isclose(rows["radius"], radius).any():
            raise ValueError(f"no {method} estimate at radius {radius:g} (radii: {sorted(set(rows['radius']))})")
        out[str(method)] = float(rows.loc[rows["radius"] <= radius * (1 + 1e-12), "value"].max())
    return out


def supported_delta(samples: int, exceeding: int = 0, confidence: float = 0.95) -> float:
    """The delta of Condition 4.1 that a sample of latents supports, at ``confidence``.

    Algorithm 1 checks the local constant at ``samples`` latents z drawn from nu_d; if
    ``exceeding`` of them had a local constant above L, the probability that a fresh z
    does is, at ``confidence``, at most the one-sided Clopper-Pearson upper limit for
    ``exceeding`` of ``samples``. With none exceeding (L the largest of them) that is
    1 - (1 - confidence)^(1 / samples), about 3 / samples at 95%. Algorithm 1's
    (1 - 0.001)-percentile of fewer than 1,000 samples is interpolated between the two
    largest, so one of them exceeds it (:func:`percentile_exceeding`): S = 1,000 such
    samples support delta = 0.0047, not Section 5.2's 0.001. This covers only the sampling
    of z; that each z's constant is itself estimated from N neighbours (an underestimate,
    Chapter 3) is not in it.

    Example:
        >>> round(supported_delta(1000), 4), round(supported_delta(1000, exceeding=1), 4)
        (0.003, 0.0047)
        >>> round(supported_delta(120), 4)
        0.0247
    """
    from scipy.stats import beta as beta_distribution

    check_value("samples", samples, low=1, integer=True)
    check_value("exceeding", exceeding, low=0, high=samples, integer=True)
    check_value("confidence", confidence, low=0, high=1, low_open=True, high_open=True)
    if exceeding == samples:
        return 1.0
    return float(beta_distribution.ppf(confidence, exceeding + 1, samples - exceeding))


def percentile_exceeding(samples: int, delta: float) -> int:
    """At most how many of ``samples`` distinct per-sample constants lie above their (1 - delta)-percentile
    (:func:`percentile_estimate`): numpy's linear interpolation reads it at 0-based position
    (1 - delta)(samples - 1) of the sorted values, so every value after that position's floor
    exceeds it. That is one for Section 5.2's delta = 0.001 and any S up to 1,000; none only
    for delta = 0, the largest value itself. Where the position is a whole number up to rounding,
    numpy's own arithmetic may land a hair below it, and the value there may then lie above
    the percentile: it is counted, so the count is never below numpy's (at most one above it),
    and a delta computed from it (:func:`supported_delta`) errs on the safe side.

    Example:
        >>> percentile_exceeding(40, 0.001), percentile_exceeding(1000, 0.001), percentile_exceeding(40, 0.0)
        (1, 1, 0)
        >>> percentile_exceeding(91, 0.3)  # position 63 up to rounding: values 63 to 90 may lie above it
        28
    """
    check_value("samples", samples, low=1, integer=True)
    check_value("delta", delta, low=0, high=1)
    if delta == 0:
        return 0
    position = (1.0 - delta) * (samples - 1)
    whole = round(position)
    if abs(position - whole) < 1e-9:
        return int(samples - whole)
    return int(samples - 1 - math.floor(position))


def percentile_supported_delta(samples: int, delta: float, confidence: float = 0.95) -> float:
    """The delta that Algorithm 1's (1 - ``delta``)-percentile of ``samples`` latents supports at ``confidence``:
    :func:`supported_delta` with the latents that lie above the percentile (:func:`percentile_exceeding`).

    Example:
        >>> round(percentile_supported_delta(1000, 0.001), 4)  # Section 5.2's S and delta
        0.0047
        >>> percentile_supported_delta(40, 0.001) == supported_delta(40, exceeding=1)
        True
    """
    return supported_delta(samples, percentile_exceeding(samples, delta), confidence)


def gradient_exceeds_sampled(lever: "pd.DataFrame") -> "pd.Series":
    """Per (``r``, ``eps``), whether gradient ascent's L_max(r) exceeds the sampled one at the same radius and
    gives a higher bound there: latents were then measured above the sampled constant, which Condition 4.1 allows
    each latent only with probability delta, so the sampled row's bound is not supported. A bound capped at
    eps / r is the same for any constant, so a larger constant that leaves it unchanged does not count.

    ``lever`` has a row per ``r``, ``eps`` and ``method`` (``sample`` and ``gradient``) with ``L_max(r)`` and
    ``bound (%)``, as Chapter 3's ``bound_by_radius`` table.

    Example:
        >>> import pandas as pd
        >>> t = pd.DataFrame({"r": 1.0, "eps": [1.0, 1.0, 3.0, 3.0], "method": ["sample", "gradient"] * 2,
        ...                   "L_max(r)": [2.0, 3.0, 2.0, 3.0], "bound (%)": [90.0, 93.0, 96.0, 96.0]})
        >>> gradient_exceeds_sampled(t).to_dict()  # at eps = 3 both bounds are capped
        {(1.0, 1.0): True, (1.0, 3.0): False}
    """
    wide = lever.pivot_table(index=["r", "eps"], columns="method", values=["L_max(r)", "bound (%)"])
    return ((wide["L_max(r)"]["gradient"] > wide["L_max(r)"]["sample"])
            & (wide["bound (%)"]["gradient"] > wide["bound (%)"]["sample"])).rename("exceeded")


def supported_delta_at_radius(table: "pd.DataFrame", radius: float, confidence: float = 0.95) -> dict[str, float]:
    """Per estimate, the delta that the latents behind its L_max(r) support (:func:`supported_delta`), for the
    class whose evidence is weakest.

    ``table`` is :func:`lmax_at_radius`'s, with ``class``, ``num_samples`` and ``delta`` columns: each row one
    class's (1 - delta)-percentile of ``num_samples`` latents at one radius and trial. L_max(r) is at least every
    row's value, so of a row's latents at most :func:`percentile_exceeding` lie above it; a class's latents at
    ``radius`` itself (all trials) and those counts summed give its supported delta, and the largest over the
    classes holds for all of them, as Theorem 4.3 asks.

    Example:
        >>> import pandas as pd
        >>> t = pd.DataFrame({"method": "sample", "class": [0, 0, 1, 1], "radius": 0.5, "num_samples": 40,
        ...                   "delta": 0.001, "value": 1.0})
        >>> round(supported_delta_at_radius(t, 0.5)["sample"], 4)  # 80 latents a class, 2 of them above L_max
        0.0766
    """
    missing = sorted({"method", "class", "radius", "num_samples", "delta"} - set(table.columns))
    if missing:
        raise InputError(f"table must hold a row per class, radius and trial with its num_samples and delta "
                         f"(Algorithm 1's percentile, as lipschitz_table writes them); it lacks {missing}")
    out = {}
    for method, rows in table.groupby("method"):
        at = rows[np.isclose(rows["radius"], radius)]
        if at.empty:
            raise ValueError(f"no {method} estimate at radius {radius:g} (radii: {sorted(set(rows['radius']))})")
        above = [percentile_exceeding(int(n), float(d)) for n, d in zip(at["num_samples"], at["delta"])]
        per_class = at.assign(above=above).groupby("class")[["num_samples", "above"]].sum()
        out[str(method)] = max(supported_delta(int(n), int(k), confidence)
                               for n, k in zip(per_class["num_samples"], per_class["above"]))
    return out


def samples_for_delta(delta: float, confidence: float = 0.95) -> int:
    """The fewest latents, none of them above L, that support ``delta`` at ``confidence``:
    the inverse of :func:`supported_delta`, ceil(log(1 - confidence) / log(1 - delta)).

    Example:
        >>> samples_for_delta(0.001)  # Section 5.2's delta
        2995
        >>> supported_delta(samples_for_delta(0.01)) <= 0.01 < supported_delta(samples_for_delta(0.01) - 1)
        True
    """
    check_value("delta", delta, low=0, high=1, low_open=True, high_open=True)
    check_value("confidence", confidence, low=0, high=1, low_open=True, high_open=True)
    return int(math.ceil(math.log1p(-confidence) / math.log1p(-delta) - 1e-9))


def samples_at_radius(table: "pd.DataFrame", radius: float) -> dict[str, int]:
    """Per estimate, how many latents of each class stand behind its constant at ``radius``.

    ``table`` is :func:`lmax_at_radius`'s (with a ``num_samples`` and a ``class``
    column): the sampled latents of all trials at ``radius`` itself, the fewest over the
    classes (Theorem 4.3 asks the same delta of every class). An estimate at a smaller
    radius is no evidence about the ball of radius ``radius``, so it does not count.

    Example:
        >>> import pandas as pd
        >>> t = pd.DataFrame({"method": "sample", "class": [0, 0, 1, 1], "radius": 0.5, "num_samples": 40})
        >>> samples_at_radius(t, 0.5)
        {'sample': 80}
    """
    out = {}
    for method, rows in table.groupby("method"):
        at = rows[np.isclose(rows["radius"], radius)]
        if at.empty:
            raise ValueError(f"no {method} estimate at radius {radius:g} (radii: {sorted(set(rows['radius']))})")
        out[str(method)] = int(at.groupby("class")["num_samples"].sum().min())
    return out


def summarise_table(table: "pd.DataFrame") -> "pd.DataFrame":
    """Mean and standard deviation over trials per class (the paper's 'mean +- std')."""
    out = table.groupby(["class", "name"], sort=True)["value"].agg(["mean", "std", "count"]).reset_index()
    out["std"] = out["std"].fillna(0.0)
    return out.rename(columns={"count": "trials"})
