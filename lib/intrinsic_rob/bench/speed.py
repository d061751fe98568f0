"""Benchmarks, as ratios against baselines measured in the same run (``intrinsic-rob bench``).

``bench lipschitz`` compares the sampled estimator (Algorithm 1 as implemented in
:mod:`intrinsic_rob.estimators.lipschitz`) with a straightforward implementation of Algorithm 1 on
the ACGAN generator, and relates its achieved FLOP rate to this machine's fp32
matrix-multiply rate. ``bench attack`` compares :func:`intrinsic_rob.attacks.pgd_l2` with
PGD-L2 written the obvious way and with torchattacks' ``PGDL2`` (when installed): PGD
steps per second and the robust accuracy each leaves on the same model. ``bench
in-dist`` (:mod:`intrinsic_rob.bench.in_dist`) compares the in-distribution attacks by
distance against budget.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import pandas as pd
import torch
import torch.nn as nn

from intrinsic_rob import paper
from intrinsic_rob.core.devices import pin_allocator
from intrinsic_rob.estimators.lipschitz import estimate_local_lipschitz
from intrinsic_rob.generators.acgan import ACGANGenerator
from intrinsic_rob.theory.geometry import sample_ball_offsets


def matmul_flops_per_second(n: int = 2048, repeats: int = 5) -> float:
    """Best fp32 rate of an n x n matrix product on this machine (FLOP/s)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2.0 * n**3 / best


def straightforward_algorithm1(gen: nn.Module, label: int, num_samples: int, num_neighbors: int,
                               radius: float, seed: int = 0) -> list[float]:
    """Algorithm 1 written the obvious way: one z at a time, g(z) recomputed for every neighbour."""
    rng = torch.Generator().manual_seed(seed)
    gen.eval()
    out = []
    z_all = torch.randn(num_samples, gen.z_dim, generator=rng)  # the same latents as the estimator's
    with torch.no_grad():
        for i in range(num_samples):
            z = z_all[i : i + 1]
            offsets = sample_ball_offsets(1, num_neighbors, gen.z_dim, radius, rng)[0]
            labels = torch.full((num_neighbors,), label, dtype=torch.long)
            base = gen(z.repeat(num_neighbors, 1), labels).flatten(1)
            moved = gen(z + offsets, labels).flatten(1)
            out.append(float(((moved - base).norm(dim=1) / offsets.norm(dim=1)).max()))
    return out


class _Dense(nn.Module):
    """The folded generator without its ball evaluator: the plain batched forward pass."""

    def __init__(self, folded: nn.Module) -> None:
        super().__init__()
        self.folded = folded
        self.z_dim, self.num_classes = folded.z_dim, folded.num_classes

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.folded(z, y)


@dataclass(frozen=True)
class LipschitzBenchmark:
    """Neighbour ratios per second for the three implementations, and FLOP rates.

    ``dense_*`` is the estimator's batched path with the dense forward pass (g(z) shared,
    batch norm folded, many neighbours per call); ``estimator_*`` is the default path, which
    adds the ACGAN's ball evaluator. Rates use the dense forward pass's FLOPs per
    evaluation, so the estimator's is an effective rate (it does less arithmetic).
    ``first_deconv_*`` times the first transposed convolution (with its ReLU) alone, once
    per neighbour in batches of 512: the part of the forward pass the ball evaluator
    still runs in full. ``ceiling_speedup`` is the speed-up an estimator would reach if
    everything else were free.
    """

    num_samples: int
    num_neighbors: int
    threads: int
    rounds: int
    allocator_pinned: bool
    baseline_ratios_per_s: float
    dense_ratios_per_s: float
    estimator_ratios_per_s: float
    dense_speedup: float
    speedup: float
    matmul_gflops: float
    dense_gflops: float
    dense_fraction_of_matmul: float
    estimator_gflops: float
    fraction_of_matmul: float
    first_deconv_ratios_per_s: float
    ceiling_speedup: float

    def as_dict(self) -> dict:
        return asdict(self)

    def table(self) -> pd.DataFrame:
        """One row per implementation: neighbour ratios per second, speed-up over the straightforward one,
        GFLOP/s and its fraction of the matrix-product rate (effective for the estimator)."""
        return pd.DataFrame([
            {"implementation": "straightforward Algorithm 1", "ratios_per_s": self.baseline_ratios_per_s,
             "speedup": 1.0, "gflops": math.nan, "fraction_of_matmul": math.nan},
            {"implementation": "batched, dense forward pass", "ratios_per_s": self.dense_ratios_per_s,
             "speedup": self.dense_speedup, "gflops": self.dense_gflops,
             "fraction_of_matmul": self.dense_fraction_of_matmul},
            {"implementation": "estimator (with ball evaluator)", "ratios_per_s": self.estimator_ratios_per_s,
             "speedup": self.speedup, "gflops": self.estimator_gflops, "fraction_of_matmul": self.fraction_of_matmul},
            {"implementation": "first transposed convolution only", "ratios_per_s": self.first_deconv_ratios_per_s,
             "speedup": self.ceiling_speedup, "gflops": math.nan, "fraction_of_matmul": math.nan},
        ])


def bench_lipschitz(num_samples: int = 16, num_neighbors: int = 500, repeats: int = 5, seed: int = 0) -> LipschitzBenchmark:
    """Time the implementations on a randomly initialised ACGAN generator.

    Each of ``repeats`` rounds times the straightforward implementation, the dense
    batched path, the default estimator and a matrix product, one after the other, and
    each is credited with its best round: on a shared machine that is the measurement
    least disturbed by other work, and interleaving exposes all of them to the same
    conditions. The weights do not change the dense work, so no trained model is needed;
    batch norm uses its initial running statistics in eval mode. The allocator is pinned
    first (:func:`pin_allocator`).
    """
    pinned = pin_allocator()
    torch.manual_seed(seed)
    gen = ACGANGenerator().eval()
    dense = _Dense(gen.for_inference())
    work = num_samples * num_neighbors
    settings = dict(num_samples=num_samples, num_neighbors=num_neighbors, radius=paper.LIPSCHITZ_RADIUS,
                    delta=paper.LIPSCHITZ_DELTA, seed=seed)
    results: dict[str, object] = {}

    def timed(name: str, fn) -> None:
        start = time.perf_counter()
        results[name] = fn()
        elapsed = time.perf_counter() - start
        best[name] = min(best.get(name, float("inf")), elapsed)

    runs = {
        "baseline": lambda: straightforward_algorithm1(gen, 0, num_samples, num_neighbors, paper.LIPSCHITZ_RADIUS, seed),
        "dense": lambda: estimate_local_lipschitz(dense, 0, **settings),
        "estimator": lambda: estimate_local_lipschitz(gen, 0, **settings),
        "matmul": lambda: matmul_flops_per_second(repeats=1),
        "first_deconv": lambda: _first_deconv_only(dense.folded, work),
    }
    best: dict[str, float] = {}
    for fn in runs.values():  # warm-up
        fn()
    matmul = 0.0
    for _ in range(repeats):
        for name, fn in runs.items():
            timed(name, fn)
        matmul = max(matmul, results["matmul"])
    flops = gen.forward_flops()
    evals = results["estimator"].evaluations
    dense_rate = evals * flops / best["dense"]
    ours_rate = evals * flops / best["estimator"]
    return LipschitzBenchmark(
        num_samples=num_samples,
        num_neighbors=num_neighbors,
        threads=torch.get_num_threads(),
        rounds=repeats,
        allocator_pinned=pinned,
        baseline_ratios_per_s=work / best["baseline"],
        dense_ratios_per_s=work / best["dense"],
        estimator_ratios_per_s=work / best["estimator"],
        dense_speedup=best["baseline"] / best["dense"],
        speedup=best["baseline"] / best["estimator"],
        matmul_gflops=matmul / 1e9,
        dense_gflops=dense_rate / 1e9,
        dense_fraction_of_matmul=dense_rate / matmul,
        estimator_gflops=ours_rate / 1e9,
        fraction_of_matmul=ours_rate / matmul,
        first_deconv_ratios_per_s=work / best["first_deconv"],
        ceiling_speedup=best["baseline"] / best["first_deconv"],
    )


def _first_deconv_only(folded: nn.Module, count: int, batch: int = 512) -> None:
    """The folded ACGAN's first transposed convolution and ReLU on ``count`` inputs, in batches."""
    h = torch.relu(torch.randn(batch, 128, 7, 7, generator=torch.Generator().manual_seed(0)))
    with torch.inference_mode():
        for done in range(0, count, batch):
            torch.relu_(folded.deconv0(h[: min(batch, count - done)]))


def obvious_pgd_l2(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, step_size: float,
                   steps: int, seed: int = 0) -> torch.Tensor:
    """PGD-L2 written the obvious way: a Python loop per step with fresh tensors, the
    parameters' gradients computed and accumulated by ``backward()``, the last iterate kept."""
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(seed)
    model.eval()
    delta = torch.randn(x.shape, generator=gen)
    delta = delta / delta.flatten(1).norm(dim=1).view(-1, *([1] * (x.dim() - 1))) * eps * torch.rand(
        x.shape[0], generator=gen).view(-1, *([1] * (x.dim() - 1)))
    x_adv = (x + delta).clamp(0, 1)
    for _ in range(steps):
        x_adv = x_adv.clone().detach().requires_grad_(True)
        loss = F.cross_entropy(model(x_adv), y)
        loss.backward()
        grad = x_adv.grad
        norm = grad.flatten(1).norm(dim=1).view(-1, *([1] * (x.dim() - 1))) + 1e-12
        x_adv = x_adv.detach() + step_size * grad / norm
        delta = x_adv - x
        dnorm = delta.flatten(1).norm(dim=1).view(-1, *([1] * (x.dim() - 1)))
        delta = delta * torch.clamp(eps / (dnorm + 1e-12), max=1.0)
        x_adv = (x + delta).clamp(0, 1)
    model.zero_grad(set_to_none=True)
    return x_adv.detach()


@dataclass(frozen=True)
class AttackBenchmark:
    """PGD steps per second (a step: one forward and backward pass over the batch) and
    the robust accuracy each implementation leaves, on the same model and data.

    ``robust_accuracy[name]`` is the mean over ``strength_seeds`` random starts of the
    fraction of ``strength_examples`` held-out digits still correct (lower: stronger);
    ``robust_accuracy_per_seed[name]`` holds the seeds' values.
    """

    batch: int
    eps: float
    step_size: float
    steps: int
    threads: int
    rounds: int
    natural_accuracy: float
    steps_per_s: dict
    strength_examples: int
    strength_seeds: int
    robust_accuracy: dict
    robust_accuracy_per_seed: dict
    speedup_over_obvious: float
    speedup_over_torchattacks: float | None

    def as_dict(self) -> dict:
        return asdict(self)

    def table(self) -> pd.DataFrame:
        """One row per implementation: PGD steps per second and the robust accuracy it leaves (mean over seeds)."""
        return pd.DataFrame([{"implementation": name, "steps_per_s": rate,
                              "robust_accuracy": self.robust_accuracy[name]}
                             for name, rate in self.steps_per_s.items()])


def _attack_runs(model: nn.Module, eps: float, step_size: float, steps: int) -> dict:
    """The implementations compared, each a function (x, y, seed) -> adversarial images."""
    from intrinsic_rob.attacks import pgd_l2

    runs = {
        "pgd_l2": lambda x, y, seed: pgd_l2(model, x, y, eps=eps, step_size=step_size, steps=steps, seed=seed),
        "obvious": lambda x, y, seed: obvious_pgd_l2(model, x, y, eps, step_size, steps, seed),
    }
    try:
        import torchattacks
    except ImportError:  # a development-only dependency
        return runs
    pgd = torchattacks.PGDL2(model, eps=eps, alpha=step_size, steps=steps, random_start=True)

    def with_torchattacks(x: torch.Tensor, y: torch.Tensor, seed: int) -> torch.Tensor:
        with torch.random.fork_rng(devices=[]):  # it draws its start from the global generator
            torch.manual_seed(seed)
            return pgd(x, y)

    runs["torchattacks"] = with_torchattacks
    return runs


def bench_attack(batch: int = 128, eps: float = 2.0, step_size: float = 0.3, steps: int = 100,
                 repeats: int = 3, train_epochs: int = 4, strength_examples: int = 1000, strength_seeds: int = 3,
                 seed: int = 0) -> AttackBenchmark:
    """Time :func:`intrinsic_rob.attacks.pgd_l2` against :func:`obvious_pgd_l2` and
    ``torchattacks.PGDL2`` (when installed) on the seven-layer CNN, and compare their strength.

    The defaults are Table 5's PGD settings at eps = 2 (step 0.3, 100 steps). The CNN is
    trained ``train_epochs`` epochs on the embedded real digits outside the
    ``strength_examples`` held out, so that the attacks have accuracy to remove. Speed:
    each implementation attacks the same ``batch`` held-out digits with the same eps,
    step and steps; rounds are interleaved and each is credited with its best (as in
    :func:`bench_lipschitz`). Strength: each attacks all ``strength_examples`` held-out
    digits (in batches of ``batch``) once per seed of ``strength_seeds``, one random start
    each, and the robust accuracy left is averaged over the seeds (lower is stronger).
    """
    from intrinsic_rob.data.mnist import load_mnist_embedded
    from intrinsic_rob.models.classifiers import SevenLayerCNN, TrainConfig, predict, train_classifier
    from intrinsic_rob.models.training import seeded

    pin_allocator()
    real = load_mnist_embedded()
    held_out = max(batch, strength_examples)
    order = torch.randperm(len(real), generator=torch.Generator().manual_seed(seed))
    x_train, y_train = real.x[order[held_out:]], real.y[order[held_out:]]
    x_test, y_test = real.x[order[:held_out]], real.y[order[:held_out]]
    model = seeded(SevenLayerCNN, seed)
    train_classifier(model, x_train, y_train, TrainConfig(epochs=train_epochs, seed=seed), progress=False)
    runs = _attack_runs(model, eps, step_size, steps)
    x, y = x_test[:batch], y_test[:batch]
    best = {name: float("inf") for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn(x, y, seed)
            best[name] = min(best[name], time.perf_counter() - start)
    per_seed: dict[str, list[float]] = {name: [] for name in runs}
    xs, ys = x_test[:strength_examples], y_test[:strength_examples]
    for s in range(seed, seed + strength_seeds):
        for name, fn in runs.items():
            correct = sum(int((predict(model, fn(xs[i : i + batch], ys[i : i + batch], s + i)) == ys[i : i + batch]).sum())
                          for i in range(0, xs.shape[0], batch))
            per_seed[name].append(correct / xs.shape[0])
    rate = {name: steps / seconds for name, seconds in best.items()}
    return AttackBenchmark(
        batch=batch, eps=eps, step_size=step_size, steps=steps, threads=torch.get_num_threads(), rounds=repeats,
        natural_accuracy=float((predict(model, xs) == ys).float().mean()), steps_per_s=rate,
        strength_examples=int(xs.shape[0]), strength_seeds=strength_seeds,
        robust_accuracy={name: sum(v) / len(v) for name, v in per_seed.items()}, robust_accuracy_per_seed=per_seed,
        speedup_over_obvious=rate["pgd_l2"] / rate["obvious"],
        speedup_over_torchattacks=rate["pgd_l2"] / rate["torchattacks"] if "torchattacks" in rate else None,
    )


@dataclass(frozen=True)
class TrainBenchmark:
    """Adv-Train throughput: training examples per second, and per second per inner PGD step."""

    examples: int
    batch_size: int
    inner_steps: int
    threads: int
    seconds: float
    examples_per_s: float
    example_steps_per_s: float

    def as_dict(self) -> dict:
        return asdict(self)

    def table(self) -> pd.DataFrame:
        """The one measurement as a one-row table."""
        return pd.DataFrame([self.as_dict()])


def bench_train(examples: int = 512, inner_steps: int = 10, seed: int = 0) -> TrainBenchmark:
    """One epoch of Adv-Train (Table 4's MNIST settings, ``inner_steps`` PGD steps) on the seven-layer CNN.

    ``example_steps_per_s`` counts each training example once per inner step plus once
    for the outer step: the forward-and-backward passes per second that robust training
    sustains, comparable with ``bench attack``'s PGD steps per second times its batch.
    """
    import tempfile
    from pathlib import Path

    from intrinsic_rob.data.mnist import load_mnist_embedded
    from intrinsic_rob.models.classifiers import load_or_train_classifier
    from intrinsic_rob.models.robust import table4_config

    real = load_mnist_embedded()
    x, y = real.x[:examples], real.y[:examples]
    config = table4_config("mnist", "adv", seed=seed, epochs=1, steps=inner_steps)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        load_or_train_classifier(config, x, y, data_id="bench", artifacts=Path(tmp), progress=False)
        seconds = time.perf_counter() - start
    return TrainBenchmark(examples=examples, batch_size=config.batch_size, inner_steps=inner_steps,
                          threads=torch.get_num_threads(), seconds=seconds, examples_per_s=examples / seconds,
                          example_steps_per_s=examples * (inner_steps + 1) / seconds)


@dataclass(frozen=True)
class SweepBenchmark:
    """A small sweep run serially (one point after another, in this process) and on Dask.

    ``compute_seconds``: the notebook's own work per point (it glues it); ``serial_overhead``:
    what each point costs beyond that when run alone (papermill, the kernel's start and
    imports); ``dask_overhead``: what Dask adds per point on top (scheduling, transfers),
    from the parallel wall time times the workers; ``cluster_start_seconds``: starting
    the LocalCluster, once per sweep.
    """

    notebook: str
    points: int
    workers: int
    compute_seconds: float
    serial_seconds: float
    dask_seconds: float
    cluster_start_seconds: float
    speedup: float
    serial_overhead: float
    dask_overhead: float

    def as_dict(self) -> dict:
        return asdict(self)

    def table(self) -> pd.DataFrame:
        """The one measurement as a one-row table."""
        return pd.DataFrame([self.as_dict()])


def bench_sweep(points: int = 6, workers: int = 2) -> SweepBenchmark:
    """Time ``examples/isoperimetry_sweep.py`` over ``points`` seeds, serially and on a LocalCluster.

    Both runs execute the same points into scratch folders (nothing under results/).
    """
    import statistics
    import tempfile
    from pathlib import Path

    from distributed import as_completed

    from intrinsic_rob.pipeline.book import find_root
    from intrinsic_rob.pipeline.sweep import PointTask, open_client, point_key, resolve_target, run_point

    root = find_root()
    target = resolve_target(str(root / "examples" / "isoperimetry_sweep.py"), "quick", root)
    grid = [{"seed": s} for s in range(points)]
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as scratch:
        def tasks(kind: str) -> list[PointTask]:
            return [PointTask(str(root), str(target.source), False, target.name, "quick", p,
                              str(Path(scratch) / kind), point_key(p), scratch) for p in grid]

        start = time.perf_counter()
        records = [run_point(task) for task in tasks("serial")]
        serial = time.perf_counter() - start
        start = time.perf_counter()
        client, closers = open_client(workers=workers)  # the LocalCluster a sweep starts
        started = time.perf_counter() - start
        try:
            start = time.perf_counter()
            futures = [client.submit(run_point, t, pure=False) for t in tasks("dask")]
            records += [f.result() for f in as_completed(futures)]
            parallel = time.perf_counter() - start
        finally:
            client.close()
            for cluster in closers:
                cluster.close()
    failed = [r for r in records if r["status"] != "done"]
    if failed:
        raise RuntimeError(f"bench sweep: a point failed: {failed[0]['error']}")
    compute = statistics.mean(r["glue"]["compute_seconds"] for r in records)
    per_point = serial / points
    return SweepBenchmark(
        notebook=str(target.source.relative_to(root)), points=points, workers=workers, compute_seconds=compute,
        serial_seconds=serial, dask_seconds=parallel, cluster_start_seconds=started, speedup=serial / parallel,
        serial_overhead=per_point - compute, dask_overhead=parallel * workers / points - per_point)


@dataclass(frozen=True)
class ConcentrationBenchmark:
    """Where the half-space estimate's time goes: generating its images against everything else.

    ``generation_seconds``: drawing its ``n_fit + n_eval`` images with the sampler alone
    (the baseline); ``estimate_seconds``: the whole estimate
    (:func:`~intrinsic_rob.estimators.concentration.halfspace_robustness`) at ``alphas``
    times ``eps`` half-spaces; ``other_seconds`` the difference (principal directions,
    fitting, counting).
    """

    n_fit: int
    n_eval: int
    halfspaces: int
    threads: int
    generation_seconds: float
    estimate_seconds: float
    other_seconds: float
    generation_share: float
    images_per_s: float

    def as_dict(self) -> dict:
        return asdict(self)

    def table(self) -> pd.DataFrame:
        """The one measurement as a one-row table."""
        return pd.DataFrame([self.as_dict()])


def bench_concentration(n_fit: int = 20_000, n_eval: int = 100_000, alphas: tuple[float, ...] = (0.015, 0.05),
                        eps: tuple[float, ...] = (1.0, 2.0, 3.0), seed: int = 0) -> ConcentrationBenchmark:
    """Time the half-space estimate on the ACGAN generator (initialised, not trained: the same computation as
    the quick profile's) against drawing the same images alone, both from the same seeded streams."""
    from intrinsic_rob.estimators.concentration import generator_sampler, halfspace_robustness

    sampler = generator_sampler(ACGANGenerator().eval())
    streams = [torch.Generator().manual_seed(seed + k) for k in range(2)]
    start = time.perf_counter()
    sampler(n_fit, streams[0])
    for begin in range(0, n_eval, 10_000):  # the estimate's batches
        sampler(min(10_000, n_eval - begin), streams[1])
    generation = time.perf_counter() - start
    start = time.perf_counter()
    halfspace_robustness(sampler, list(alphas), list(eps), n_fit=n_fit, n_eval=n_eval, seed=seed)
    estimate = time.perf_counter() - start
    return ConcentrationBenchmark(n_fit=n_fit, n_eval=n_eval, halfspaces=len(alphas) * len(eps),
                                  threads=torch.get_num_threads(), generation_seconds=generation,
                                  estimate_seconds=estimate, other_seconds=estimate - generation,
                                  generation_share=generation / estimate, images_per_s=(n_fit + n_eval) / generation)
