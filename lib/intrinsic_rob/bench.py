"""Benchmarks, as ratios against baselines measured in the same run (``intrinsic-rob bench``).

``bench lipschitz`` compares the sampled estimator (Algorithm 1 as implemented in
:mod:`intrinsic_rob.lipschitz`) with a straightforward implementation of Algorithm 1 on
the ACGAN generator, and relates its achieved FLOP rate to this machine's fp32
matrix-multiply rate.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from .generators.acgan import ACGANGenerator
from .lipschitz import estimate_local_lipschitz, sample_ball_offsets


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


def acgan_forward_flops(gen: ACGANGenerator) -> float:
    """Multiply-adds x 2 of one ACGAN forward pass, counted from the layer shapes.

    Linear: in x out; transposed convolution: C_in x C_out x k^2 x H_in x W_in. Batch
    norm, activations and additions are ignored (they are not matrix work).
    """
    fc0, fc1 = gen.fc[0], gen.fc[3]
    d0, d1 = gen.deconv[0], gen.deconv[3]
    macs = fc0.in_features * fc0.out_features + fc1.in_features * fc1.out_features
    macs += d0.in_channels * d0.out_channels * d0.kernel_size[0] ** 2 * 7 * 7
    macs += d1.in_channels * d1.out_channels * d1.kernel_size[0] ** 2 * 14 * 14
    return 2.0 * macs


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


@dataclass(frozen=True)
class LipschitzBenchmark:
    """Neighbour ratios per second for both implementations and the achieved FLOP rate."""

    num_samples: int
    num_neighbors: int
    threads: int
    baseline_ratios_per_s: float
    estimator_ratios_per_s: float
    speedup: float
    matmul_gflops: float
    estimator_gflops: float
    fraction_of_matmul: float

    def as_dict(self) -> dict:
        return asdict(self)


def bench_lipschitz(num_samples: int = 16, num_neighbors: int = 500, repeats: int = 3, seed: int = 0) -> LipschitzBenchmark:
    """Time both implementations (best of ``repeats``) on a randomly initialised ACGAN generator.

    The weights do not change the work, so no trained model is needed; batch norm uses
    its initial running statistics in eval mode.
    """
    torch.manual_seed(seed)
    gen = ACGANGenerator().eval()
    work = num_samples * num_neighbors

    def best_time(fn) -> float:
        fn()  # warm-up
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        return best

    t_base = best_time(lambda: straightforward_algorithm1(gen, 0, num_samples, num_neighbors, 0.5, seed))
    ours = {}

    def run_ours() -> None:
        ours["result"] = estimate_local_lipschitz(gen, 0, num_samples=num_samples, num_neighbors=num_neighbors,
                                                  radius=0.5, delta=0.001, seed=seed)

    t_ours = best_time(run_ours)
    flops = acgan_forward_flops(gen)
    achieved = ours["result"].evaluations * flops / t_ours
    matmul = matmul_flops_per_second()
    return LipschitzBenchmark(
        num_samples=num_samples,
        num_neighbors=num_neighbors,
        threads=torch.get_num_threads(),
        baseline_ratios_per_s=work / t_base,
        estimator_ratios_per_s=work / t_ours,
        speedup=t_base / t_ours,
        matmul_gflops=matmul / 1e9,
        estimator_gflops=achieved / 1e9,
        fraction_of_matmul=achieved / matmul,
    )
