from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn

from intrinsic_rob.bench.speed import _Dense, bench_lipschitz, straightforward_algorithm1
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.estimators import lipschitz
from intrinsic_rob.estimators.lipschitz import (
    Algorithm1Settings,
    certified_lipschitz_bound,
    estimate_local_lipschitz,
    lipschitz_table,
    sample_ball_offsets,
    summarise_table,
)
from intrinsic_rob.generators.acgan import ACGANGenerator


class LinearGenerator(nn.Module):
    """g(z, y) = A z with prescribed singular values (the same map for every class)."""

    def __init__(self, singular_values, out_dim: int = 30, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        d = len(singular_values)
        u, _ = torch.linalg.qr(torch.randn(out_dim, d, generator=gen))
        v, _ = torch.linalg.qr(torch.randn(d, d, generator=gen))
        self.layer = nn.Linear(d, out_dim, bias=False)
        with torch.no_grad():
            self.layer.weight.copy_(u @ torch.diag(torch.tensor(singular_values, dtype=torch.float32)) @ v.T)
        self.z_dim, self.num_classes = d, 3
        self.calls: list[int] = []

    def forward(self, z, y):
        self.calls.append(z.shape[0])
        return self.layer(z)[:, None, :, None]


SIGMAS = [4.0, 3.0, 2.0, 1.0, 0.5, 0.5, 0.25, 0.1]


@pytest.fixture()
def linear():
    return LinearGenerator(SIGMAS)


def test_sampled_estimate_never_exceeds_the_largest_singular_value(linear):
    res = estimate_local_lipschitz(linear, 1, num_samples=30, num_neighbors=300, radius=0.5, delta=0.01)
    assert res.per_sample.max() <= 4.0 * (1 + 1e-5)
    assert res.value == pytest.approx(np.quantile(res.per_sample, 0.99))
    assert res.per_sample.shape == (30,) and res.settings.num_neighbors == 300


def test_gradient_method_comes_within_one_percent(linear):
    res = estimate_local_lipschitz(linear, 0, num_samples=20, num_neighbors=300, method="gradient")
    assert 4.0 * 0.99 <= res.value <= 4.0 * (1 + 1e-5)
    sampled = estimate_local_lipschitz(linear, 0, num_samples=20, num_neighbors=300)
    assert res.value >= sampled.value
    assert res.evaluations <= sampled.evaluations


def test_certified_bound_equals_the_largest_singular_value(linear):
    value, factors = certified_lipschitz_bound([linear.layer])
    assert value == pytest.approx(4.0, rel=1e-6) and len(factors) == 1


def test_conv_bound_is_an_upper_bound_and_tight_for_one_by_one_kernels():
    torch.manual_seed(0)
    conv = nn.ConvTranspose2d(6, 4, 4, 2, 1)
    weight = conv.weight.detach()
    # operator norm by power iteration on the actual layer (a lower estimate of the truth)
    x = torch.randn(1, 6, 7, 7)
    for _ in range(200):
        y = nn.functional.conv_transpose2d(x, weight, stride=2, padding=1)
        x = nn.functional.conv2d(y, weight, stride=2, padding=1)
        x = x / x.norm()
    power = float(nn.functional.conv_transpose2d(x, weight, stride=2, padding=1).norm())
    bound, _ = certified_lipschitz_bound([conv], input_side=7)
    assert bound >= power * (1 - 1e-6)
    one = nn.Conv2d(5, 3, 1, bias=False)
    exact = torch.linalg.matrix_norm(one.weight.detach()[:, :, 0, 0].double(), ord=2)
    assert certified_lipschitz_bound([one], input_side=4)[0] == pytest.approx(float(exact), rel=1e-9)


def test_acgan_estimates_are_ordered_sample_gradient_certified():
    torch.manual_seed(0)
    gen = ACGANGenerator().eval()
    with torch.no_grad():  # batch-norm statistics other than the identity, so that folding them matters
        gen.fc[1].running_var.uniform_(0.25, 4.0)
        gen.fc[1].weight.uniform_(0.5, 2.0)
    sampled = estimate_local_lipschitz(gen, 2, num_samples=6, num_neighbors=60)
    grad = estimate_local_lipschitz(gen, 2, num_samples=6, num_neighbors=60, method="gradient")
    certified, factors = gen.certified_lipschitz_bound()
    assert sampled.value <= certified and grad.value <= certified
    assert [name for name, _ in factors][-1].startswith("output map")
    # the bound is the product of its factors, the last the output map's 1/2
    assert certified == pytest.approx(float(np.prod([f for _, f in factors])), rel=1e-12)
    assert factors[-1][1] == 0.5
    # first factor: the z columns of the first layer, each output scaled by its batch norm's
    # gamma / sqrt(var + eps) (computed by the library in float32, hence rel=1e-6)
    bn = gen.fc[1]
    scale = (bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)).numpy()
    w_z = scale[:, None] * gen.fc[0].weight.detach().double().numpy()[:, : gen.z_dim]
    assert factors[0][1] == pytest.approx(np.linalg.norm(w_z, 2), rel=1e-6)


def test_folded_acgan_matches_the_generator():
    torch.manual_seed(1)
    gen = ACGANGenerator()
    gen.train()
    with torch.no_grad():  # give batch norm non-trivial running statistics
        for _ in range(3):
            gen(torch.randn(64, 100), torch.randint(0, 10, (64,)))
    gen.eval()
    z, y = torch.randn(50, 100), torch.randint(0, 10, (50,))
    with torch.inference_mode():
        assert torch.allclose(gen.for_inference()(z, y), gen(z, y), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(radius=0.0), "radius"),
        (dict(radius=-1.0), "radius"),
        (dict(delta=1.0), "delta"),
        (dict(delta=-0.1), "delta"),
        (dict(num_neighbors=0), "num_neighbors"),
        (dict(num_samples=0), "num_samples"),
        (dict(method="newton"), "method"),
        (dict(directions="cube"), "directions"),
    ],
)
def test_bad_input_is_a_clear_error(linear, kwargs, message):
    args = dict(num_samples=2, num_neighbors=4)
    args.update(kwargs)
    with pytest.raises(InputError, match=message):
        estimate_local_lipschitz(linear, 0, **args)


def test_label_outside_the_classes(linear):
    for label in (-1, 3, 1.5):
        with pytest.raises(InputError, match="label"):
            estimate_local_lipschitz(linear, label, num_samples=2, num_neighbors=2)


def test_zero_distance_neighbours_never_give_nan(linear, monkeypatch):
    monkeypatch.setattr(lipschitz, "sample_ball_offsets", lambda b, c, d, *a, **k: torch.zeros(b, c, d))
    for method in ("sample", "gradient"):
        res = estimate_local_lipschitz(linear, 0, num_samples=3, num_neighbors=30, method=method)
        # a zero step's ratio is defined as 0 (not NaN, not inf), and no step ever moves
        np.testing.assert_array_equal(res.per_sample, 0.0)
        assert res.value == 0.0


def test_memory_is_bounded_by_max_batch(linear):
    estimate_local_lipschitz(linear, 0, num_samples=5, num_neighbors=1000, max_batch=64)
    assert max(linear.calls) <= 64
    linear.calls.clear()
    estimate_local_lipschitz(linear, 0, num_samples=40, num_neighbors=3, max_batch=64, method="gradient")
    assert max(linear.calls) <= 64


def test_seeded_estimates_repeat(linear):
    a = estimate_local_lipschitz(linear, 0, num_samples=5, num_neighbors=20, seed=3)
    b = estimate_local_lipschitz(linear, 0, num_samples=5, num_neighbors=20, seed=3)
    assert np.array_equal(a.per_sample, b.per_sample)


def test_table_and_summary(linear):
    table = lipschitz_table(linear, ["a", "b", "c"], Algorithm1Settings(3, 10, 0.5, 0.0, trials=2), progress=False)
    assert len(table) == 6 and set(table["trial"]) == {0, 1}
    # each row is Algorithm 1 for its class with seed = seed + trial
    for label, trial, value in table[["class", "trial", "value"]].itertuples(index=False):
        alone = estimate_local_lipschitz(linear, label, num_samples=3, num_neighbors=10, radius=0.5, delta=0.0,
                                         seed=trial)
        assert value == alone.value
    summary = summarise_table(table)
    assert list(summary["name"]) == ["a", "b", "c"] and (summary["trials"] == 2).all()
    for name, mean, std in summary[["name", "mean", "std"]].itertuples(index=False):
        values = table.loc[table["name"] == name, "value"].to_numpy()
        assert mean == pytest.approx(values.mean(), rel=1e-12)
        assert std == pytest.approx(np.std(values, ddof=1), rel=1e-12, abs=1e-15)  # the sample std
    assert summarise_table(table[table["trial"] == 0])["std"].tolist() == [0.0] * 3  # one trial: 0, not NaN


def test_straightforward_baseline_agrees_with_the_estimator():
    torch.manual_seed(0)
    gen = ACGANGenerator().eval()
    naive = straightforward_algorithm1(gen, 1, 4, 400, 0.5, seed=0)
    ours = estimate_local_lipschitz(gen, 1, num_samples=4, num_neighbors=400, seed=0)
    # the same latents and the same neighbours: only float rounding differs
    assert np.allclose(naive, ours.per_sample, rtol=1e-4)
    assert gen.forward_flops() == pytest.approx(2 * (110 * 1024 + 1024 * 6272 + 128 * 64 * 16 * 49 + 64 * 16 * 196))


@pytest.mark.parametrize("radius", [0.0, 0.5, 3.0])
def test_ball_evaluator_equals_the_forward_pass(radius):
    torch.manual_seed(1)
    gen = ACGANGenerator().eval()
    with torch.no_grad():  # spread the first layer's pre-activations like a trained model's
        gen.fc[0].weight.mul_(5.0)
    folded = gen.for_inference()
    rng = torch.Generator().manual_seed(0)
    z = torch.randn(100, generator=rng)
    offsets = sample_ball_offsets(1, 200, 100, max(radius, 1e-9), rng)[0] * (radius > 0)
    with torch.inference_mode():
        fast = folded.ball_evaluator(z, 7)(offsets)
        direct = gen(z + offsets, torch.full((200,), 7))
        base = gen(z[None], torch.tensor([7]))
    assert torch.allclose(fast, direct, atol=2e-6)
    if radius > 0:  # differences, which the ratios use, agree too
        d_fast = (fast - base).flatten(1).norm(dim=1)
        d_direct = (direct - base).flatten(1).norm(dim=1)
        assert torch.allclose(d_fast, d_direct, rtol=1e-4)


def test_estimate_depends_on_neither_batching_nor_path():
    torch.manual_seed(0)
    gen = ACGANGenerator().eval()
    dense = _Dense(gen.for_inference())  # the same network without its ball evaluator
    kwargs = dict(num_samples=6, num_neighbors=150, seed=4)
    reference = estimate_local_lipschitz(gen, 2, **kwargs).per_sample  # ball evaluator, one call per z
    for other in (
        estimate_local_lipschitz(gen, 2, max_batch=40, **kwargs),  # ball evaluator, chunked
        estimate_local_lipschitz(dense, 2, **kwargs),  # several z per call
        estimate_local_lipschitz(dense, 2, max_batch=40, **kwargs),  # one z per call, chunked
    ):
        assert np.allclose(other.per_sample, reference, rtol=1e-4)
    small = dict(num_samples=6, num_neighbors=20, seed=4)  # below the ball evaluator's threshold
    assert np.allclose(estimate_local_lipschitz(gen, 2, **small).per_sample,
                       estimate_local_lipschitz(dense, 2, max_batch=8, **small).per_sample, rtol=1e-4)


def test_pin_allocator_keeps_large_blocks_off_mmap():
    import ctypes
    import ctypes.util
    import platform

    from intrinsic_rob.core.devices import pin_allocator

    libc_name, libc_version = platform.libc_ver()
    if libc_name != "glibc":
        assert pin_allocator() is False
        return
    assert pin_allocator() is True
    if tuple(int(p) for p in libc_version.split(".")[:2]) < (2, 33):
        pytest.skip("mallinfo2 needs glibc 2.33")

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                     "keepcost")]

    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.mallinfo2.restype = MallInfo2
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    size = 64 << 20  # above glibc's largest dynamic mmap threshold (32 MiB): mmapped unless pinned
    before = libc.mallinfo2().hblkhd
    block = libc.malloc(size)
    try:
        assert block
        assert libc.mallinfo2().hblkhd - before < size  # served from the heap, not a fresh mapping
    finally:
        libc.free(block)


def test_bench_reports_its_fields():
    from intrinsic_rob.core.devices import pin_allocator

    result = bench_lipschitz(num_samples=2, num_neighbors=16, repeats=1)
    assert (result.num_samples, result.num_neighbors, result.rounds) == (2, 16, 1)
    assert result.threads == torch.get_num_threads() and result.allocator_pinned == pin_allocator()
    # Timings vary; the relations between the fields do not. Each speed-up is a ratio of
    # rates measured against the same baseline ...
    base = result.baseline_ratios_per_s
    assert result.speedup == pytest.approx(result.estimator_ratios_per_s / base, rel=1e-9)
    assert result.dense_speedup == pytest.approx(result.dense_ratios_per_s / base, rel=1e-9)
    assert result.ceiling_speedup == pytest.approx(result.first_deconv_ratios_per_s / base, rel=1e-9)
    # ... each fraction a FLOP rate over the matmul rate ...
    assert result.fraction_of_matmul == pytest.approx(result.estimator_gflops / result.matmul_gflops, rel=1e-9)
    assert result.dense_fraction_of_matmul == pytest.approx(result.dense_gflops / result.matmul_gflops, rel=1e-9)
    # ... and a FLOP rate is ratios/s times the dense forward pass's FLOPs per ratio, where
    # the estimator spends S (N + 1) evaluations on S N ratios.
    torch.manual_seed(0)
    flops = ACGANGenerator().forward_flops()
    evals = estimate_local_lipschitz(LinearGenerator(SIGMAS), 0, num_samples=2, num_neighbors=16).evaluations
    assert evals == 2 * (16 + 1)
    per_ratio = flops * evals / (2 * 16) / 1e9
    assert result.estimator_gflops == pytest.approx(result.estimator_ratios_per_s * per_ratio, rel=1e-9)
    assert result.dense_gflops == pytest.approx(result.dense_ratios_per_s * per_ratio, rel=1e-9)
    assert result.as_dict()["speedup"] == result.speedup and result.speedup > 0


def test_lipschitz_command_end_to_end(tmp_path, monkeypatch, quick_acgan_cache):
    monkeypatch.setenv("INTRINSIC_ROB_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("INTRINSIC_ROB_RESULTS", str(tmp_path / "results"))
    proc = subprocess.run(
        [sys.executable, "-m", "intrinsic_rob.cli", "lipschitz", "--dataset", "mnist", "--profile", "quick",
         "--samples", "3", "--neighbors", "8", "--trials", "2", "--no-progress"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "digit 9" in proc.stdout and "11.0 +- 0.4" in proc.stdout
    assert (tmp_path / "results" / "quick" / "lipschitz_mnist_sample.csv").exists()


def test_resolve_device():
    from intrinsic_rob.core.devices import resolve_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(InputError, match="device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA device"):
            resolve_device("cuda")


def test_prefetched_neighbours_are_the_same_draws_in_the_same_order():
    from intrinsic_rob.estimators.lipschitz import _NeighbourStream

    def draws(prefetch):
        stream = _NeighbourStream(3, 1500, 5, 0.5, torch.Generator().manual_seed(7), "uniform", prefetch=prefetch)
        try:
            return [torch.cat(stream.take()) for _ in range(3)]
        finally:
            stream.close()

    plain, ahead = draws(False), draws(True)
    assert all(torch.equal(a, b) for a, b in zip(plain, ahead)) and plain[0].shape == (1500, 5)
    early = _NeighbourStream(50, 1500, 5, 0.5, torch.Generator(), "uniform", prefetch=True, depth=2)
    early.take()
    early.close()  # a consumer that stops early does not leave the drawing thread blocked
    assert not early._thread.is_alive()


def test_lipschitz_command_unconditional(tmp_path, monkeypatch):
    from intrinsic_rob.core import artifacts
    from intrinsic_rob.data.mnist import ImageSet, load_mnist_embedded
    from intrinsic_rob.generators.acgan import acgan_cache_key
    from intrinsic_rob.pipeline.profiles import get_profile

    monkeypatch.setenv("INTRINSIC_ROB_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("INTRINSIC_ROB_RESULTS", str(tmp_path / "results"))
    real = load_mnist_embedded()
    unlabelled = ImageSet(real.x, torch.zeros_like(real.y), f"{real.source}, labels dropped")
    quick = get_profile("quick")
    config = quick.acgan.config(len(unlabelled), 1, seed=quick.seed)
    folder = artifacts.artifact_dir("acgan", acgan_cache_key(config, unlabelled), "quick", tmp_path / "artifacts")
    artifacts.save_tensors(folder / "generator.safetensors", ACGANGenerator(num_classes=1).state_dict(),
                           metadata={"history": "[]"})
    base = [sys.executable, "-m", "intrinsic_rob.cli", "lipschitz", "--profile", "quick", "--unconditional",
            "--samples", "3", "--neighbors", "8", "--trials", "2", "--no-progress"]
    proc = subprocess.run(base + ["--dataset", "mnist"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "all digits" in proc.stdout and "27.01" in proc.stdout and "unconditional GAN" in proc.stdout
    assert (tmp_path / "results" / "quick" / "lipschitz_mnist_unconditional_sample.csv").exists()
    refused = subprocess.run(base + ["--dataset", "imagenet10"], capture_output=True, text=True)
    assert refused.returncode == 2 and "mnist only" in refused.stderr and refused.stderr.count("\n") == 1


def test_acgan_certified_bound_is_the_generic_bound_of_its_layers():
    torch.manual_seed(3)
    gen = ACGANGenerator().eval()
    with torch.no_grad():
        gen.fc[4].running_var.uniform_(0.5, 2.0)
    certified, factors = gen.certified_lipschitz_bound()
    # the chain fc + deconv on 7 x 7 feature maps, z columns only, times the output map's 1/2
    chain, chain_factors = certified_lipschitz_bound([*gen.fc, *gen.deconv], input_side=7,
                                                     first_columns=slice(0, gen.z_dim))
    assert gen.feature_side == 7
    assert certified == chain * 0.5
    assert factors == [*chain_factors, ("output map (t + 1) / 2", 0.5)]


def test_acgan_forward_flops_from_the_layer_shapes():
    # the formula bench.py used to type out: 7 x 7 maps into the first transposed convolution, 14 x 14 into the second
    assert ACGANGenerator().forward_flops() == 2 * (110 * 1024 + 1024 * 6272 + 128 * 64 * 16 * 49 + 64 * 1 * 16 * 196)
    small = ACGANGenerator(z_dim=20, num_classes=3)
    assert small.forward_flops() == 2 * (23 * 1024 + 1024 * 6272 + 128 * 64 * 16 * 49 + 64 * 1 * 16 * 196)


def test_raw_scale_acgan_is_the_chapters_former_wrapper():
    from intrinsic_rob.generators.acgan import RawScaleACGAN

    class RawScale(nn.Module):  # the class chapter 3 defined before the library had one
        def __init__(self, gen):
            super().__init__()
            self.gen, self.z_dim, self.num_classes = gen, gen.z_dim, gen.num_classes

        def forward(self, z, y):
            return self.gen.raw(z, y)

    torch.manual_seed(0)
    gen = ACGANGenerator().eval()
    raw = RawScaleACGAN(gen)
    assert (raw.z_dim, raw.num_classes) == (100, 10) and not hasattr(raw, "for_inference")
    kwargs = dict(num_samples=3, num_neighbors=40, seed=2)
    ours = estimate_local_lipschitz(raw, 4, **kwargs)
    assert np.array_equal(ours.per_sample, estimate_local_lipschitz(RawScale(gen), 4, **kwargs).per_sample)
    # the [-1, 1] scale doubles every ratio (the same latents and neighbours)
    assert np.allclose(ours.per_sample, 2 * estimate_local_lipschitz(gen, 4, **kwargs).per_sample, rtol=1e-4)


def test_estimator_restores_the_generators_modes():
    gen = ACGANGenerator().train()
    gen.deconv[1].eval()  # one part frozen in eval mode
    estimate_local_lipschitz(gen, 0, num_samples=2, num_neighbors=4)
    assert gen.training and gen.fc[1].training and not gen.deconv[1].training
