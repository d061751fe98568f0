"""Benchmarks, as ratios against baselines measured in the same run (``intrinsic-rob bench``).

``bench lipschitz`` compares the sampled estimator (Algorithm 1 as implemented in
:mod:`intrinsic_rob.lipschitz`) with a straightforward implementation of Algorithm 1 on
the ACGAN generator, and relates its achieved FLOP rate to this machine's fp32
matrix-multiply rate. ``bench attack`` compares :func:`intrinsic_rob.attacks.pgd_l2` with
PGD-L2 written the obvious way and with torchattacks' ``PGDL2`` (when installed): PGD
steps per second and the robust accuracy each leaves on the same model. ``bench
in-dist`` compares :func:`intrinsic_rob.attacks.in_distribution_attack` with the same
search on a fixed schedule (every example runs every iteration of every round):
generator and classifier evaluations, seconds, success and distances.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from fractions import Fraction

import torch
import torch.nn as nn

from . import paper
from .devices import pin_allocator
from .generators.acgan import ACGANGenerator
from .geometry import sample_ball_offsets
from .lipschitz import estimate_local_lipschitz


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


def _attack_runs(model: nn.Module, eps: float, step_size: float, steps: int) -> dict:
    """The implementations compared, each a function (x, y, seed) -> adversarial images."""
    from .attacks import pgd_l2

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
    from .classifiers import SevenLayerCNN, TrainConfig, predict, train_classifier
    from .data import load_mnist_embedded
    from .training import seeded

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


def bench_train(examples: int = 512, inner_steps: int = 10, seed: int = 0) -> TrainBenchmark:
    """One epoch of Adv-Train (Table 4's MNIST settings, ``inner_steps`` PGD steps) on the seven-layer CNN.

    ``example_steps_per_s`` counts each training example once per inner step plus once
    for the outer step: the forward-and-backward passes per second that robust training
    sustains, comparable with ``bench attack``'s PGD steps per second times its batch.
    """
    import tempfile
    from pathlib import Path

    from .data import load_mnist_embedded
    from .robust import load_or_train_robust, table4_config

    real = load_mnist_embedded()
    x, y = real.x[:examples], real.y[:examples]
    config = table4_config("mnist", "adv", seed=seed, epochs=1, steps=inner_steps)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        load_or_train_robust(config, x, y, data_id="bench", root=Path(tmp), progress=False)
        seconds = time.perf_counter() - start
    return TrainBenchmark(examples=examples, batch_size=config.batch_size, inner_steps=inner_steps,
                          threads=torch.get_num_threads(), seconds=seconds, examples_per_s=examples / seconds,
                          example_steps_per_s=examples * (inner_steps + 1) / seconds)


#: The in-distribution benchmark's target: at most this share of the fixed schedule's evaluations.
TARGET_RATIO = 0.2


@dataclass(frozen=True)
class InDistBenchmark:
    """The in-distribution attack with per-example early stopping against the fixed schedule.

    Per schedule (``"early stop (window W)"``, ``"fixed"``, and ``"fixed, 1/5 the
    iterations"``: the fixed schedule with :data:`TARGET_RATIO` of its iterations a round,
    what the target's budget buys when spent the fixed way): ``evaluations`` (generator
    and classifier passes of one example), ``evaluation_ratio`` (to the fixed schedule's),
    ``seconds``, ``success_at_eps`` (the share of the correctly classified examples with
    an in-distribution adversarial example within ``eps``), ``success`` (with one at any
    distance), ``mean_distance`` (over those found), ``not_farther`` (examples whose
    distance is within 0.1% of the fixed schedule's, or below it), ``examples_per_s`` and
    ``meets_target``: at most :data:`TARGET_RATIO` of the fixed schedule's evaluations with
    at least its success at ``eps`` and no larger mean distance (always false for the fixed
    schedule itself). ``evaluation_ratio`` here is the first early-stopping schedule's.
    """

    examples: int
    attacked: int
    eps: float
    max_iterations: int
    search_steps: int
    threads: int
    natural_accuracy: float
    fit_seconds: float
    schedules: dict
    evaluation_ratio: float

    def as_dict(self) -> dict:
        return asdict(self)


def bench_in_dist(examples: int = 16, max_iterations: int = 2000, search_steps: int = 5, eps: float = 2.0,
                  method: str = "trades", seed: int = 0, windows: tuple[int, ...] = (50,)) -> InDistBenchmark:
    """Time :func:`intrinsic_rob.attacks.in_distribution_attack` against its fixed schedule.

    The generator and the classifier are the quick profile's: its ACGAN and its
    ``method`` classifier trained on the generated digits (both from the cache the book
    fills; trained when absent, a few minutes). The first ``examples`` generated test
    digits are attacked by :func:`compare_schedules`.
    """
    from .datasets import generated_mnist
    from .profiles import get_profile
    from .robust import load_or_train_run

    pin_allocator()
    quick = get_profile("quick")
    values = quick.parameters("05_in_distribution")
    mnist = generated_mnist(values)  # the book's generator, splits and model
    gen, test = mnist.source.generator.eval(), mnist.test
    model, _, _ = load_or_train_run("mnist", method, values, quick.seed, mnist.train.x, mnist.train.y,
                                    data_id=mnist.data_id, group=quick.name, progress=False)
    return compare_schedules(gen, model, test.x[:examples], test.y[:examples], max_iterations=max_iterations,
                             search_steps=search_steps, eps=eps, seed=seed, windows=windows)


def compare_schedules(generator: nn.Module, classifier: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                      max_iterations: int, search_steps: int, eps: float = 2.0, seed: int = 0,
                      windows: tuple[int, ...] = (50,)) -> InDistBenchmark:
    """The in-distribution attack with and without early stopping on the same examples and latents.

    Every schedule starts from the same fitted latents (Appendix B.2's MNIST start, timed
    once as ``fit_seconds``) with the same rounds and iterations: one early-stopping
    schedule per window in ``windows`` (the attack's ``check_every``; its first is the
    library's default), named ``"early stop (window W)"``, then ``"fixed"``, then (when
    ``max_iterations`` >= 5) ``"fixed, 1/5 the iterations"``.

    With the same latents, rate and lambdas, an early-stopped round is a prefix of the
    fixed schedule's round: its closest misclassified distance cannot be smaller. Only
    where the two searches try different lambdas (a round cut before its first success
    counts as a failure) can early stopping end closer.
    """
    from .attacks import fit_latent, in_distribution_attack
    from .classifiers import predict

    start = time.perf_counter()
    z0, _ = fit_latent(generator, x, y, seed=seed)
    fit_seconds = time.perf_counter() - start
    correct = predict(classifier, x) == y
    attacked = int(correct.sum())
    schedules = {}
    runs = [(f"early stop (window {w})", {"check_every": w}) for w in windows] + [("fixed", {"early_stop": False})]
    cut = int(round(max_iterations * TARGET_RATIO))
    if cut >= 1:
        share = Fraction(TARGET_RATIO).limit_denominator(100)
        runs.append((f"fixed, {share} the iterations", {"early_stop": False, "max_iterations": cut}))
    for name, options in runs:
        options = {"max_iterations": max_iterations, **options}
        start = time.perf_counter()
        res = in_distribution_attack(generator, classifier, x, y, z_init=z0, search_steps=search_steps, seed=seed,
                                     **options)
        seconds = time.perf_counter() - start
        d = res.distance[correct]
        found = torch.isfinite(d)
        schedules[name] = {"evaluations": res.evaluations, "seconds": seconds,
                           "success_at_eps": float((d <= eps).float().mean()) if attacked else 0.0,
                           "success": float(found.float().mean()) if attacked else 0.0,
                           "mean_distance": float(d[found].mean()) if bool(found.any()) else float("nan"),
                           "examples_per_s": x.shape[0] / seconds, "distance": d}
    fixed = schedules["fixed"]
    reference = fixed["distance"]
    for name, entry in schedules.items():
        entry["evaluation_ratio"] = entry["evaluations"] / max(fixed["evaluations"], 1)
        # examples whose minimal perturbation is no larger than the fixed schedule's (0.1% slack)
        entry["not_farther"] = int((entry.pop("distance") <= reference * 1.001).sum())
        entry["meets_target"] = bool(name != "fixed" and entry["evaluation_ratio"] <= TARGET_RATIO
                                     and entry["success_at_eps"] >= fixed["success_at_eps"]
                                     and entry["mean_distance"] <= fixed["mean_distance"])
    return InDistBenchmark(
        examples=int(x.shape[0]), attacked=attacked, eps=eps, max_iterations=max_iterations,
        search_steps=search_steps, threads=torch.get_num_threads(), natural_accuracy=float(correct.float().mean()),
        fit_seconds=fit_seconds, schedules=schedules,
        evaluation_ratio=schedules[runs[0][0]]["evaluation_ratio"])


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


def bench_sweep(points: int = 6, workers: int = 2) -> SweepBenchmark:
    """Time ``examples/isoperimetry_sweep.py`` over ``points`` seeds, serially and on a LocalCluster.

    Both runs execute the same points into scratch folders (nothing under results/).
    """
    import statistics
    import tempfile
    from pathlib import Path

    from distributed import as_completed

    from .book import find_root
    from .sweep import PointTask, open_client, point_key, resolve_target, run_point

    root = find_root()
    target = resolve_target(str(root / "examples" / "isoperimetry_sweep.py"), "quick", root)
    grid = [{"seed": s} for s in range(points)]
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as scratch:
        def tasks(kind: str) -> list[PointTask]:
            return [PointTask(str(root), str(target.source), False, target.name, "quick", p,
                              str(Path(scratch) / kind), point_key(p)) for p in grid]

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
