from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from intrinsic_rob.core import artifacts
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.data.datasets import GeneratedSet, cached_splits, generate_dataset, generate_splits
from intrinsic_rob.data.mnist import ImageSet, load_mnist_embedded
from intrinsic_rob.generators import acgan as acgan_mod
from intrinsic_rob.generators import check_generator
from intrinsic_rob.generators.acgan import ACGANConfig, ACGANGenerator, load_or_train_acgan, train_acgan
from intrinsic_rob.generators.biggan import (
    IMAGENET10_INDICES,
    ImageNet10Generator,
    WeightsNotFound,
    find_biggan_weights,
    load_biggan,
    random_biggan,
)
from intrinsic_rob.pipeline.results import module_digest


@pytest.fixture(scope="module")
def small_digits() -> ImageSet:
    full = load_mnist_embedded()
    return ImageSet(full.x[:192], full.y[:192], "first 192 embedded digits")


@pytest.fixture(scope="module")
def tiny_biggan():
    return random_biggan(channel_width=4, seed=0)


@pytest.fixture(autouse=True)
def scratch_artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv("INTRINSIC_ROB_ARTIFACTS", str(tmp_path / "artifacts"))


# --- the interface -------------------------------------------------------------------


def test_acgan_generator_meets_the_interface():
    gen = ACGANGenerator().eval()
    assert (gen.z_dim, gen.num_classes) == (100, 10)
    assert check_generator(gen) == (1, 28, 28)
    out = gen(torch.randn(4, 100), torch.tensor([0, 3, 6, 9]))
    assert out.min() >= 0 and out.max() <= 1
    z, y = torch.randn(2, 100), torch.tensor([1, 2])
    assert torch.allclose(gen(z, y), (gen.raw(z, y) + 1) / 2)


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda z, y: torch.full((z.shape[0], 1, 4, 4), float("nan")), "NaN"),
        (lambda z, y: torch.full((z.shape[0], 1, 4, 4), 2.0), r"\[0, 1\]"),
        (lambda z, y: torch.zeros(z.shape[0], 16), "shape"),
    ],
)
def test_check_generator_names_the_violation(bad, message):
    class Bad(torch.nn.Module):
        z_dim, num_classes = 3, 2

        def forward(self, z, y):
            return bad(z, y)

    with pytest.raises(InputError, match=message):
        check_generator(Bad())


def test_check_generator_requires_attributes():
    class NoDims(torch.nn.Module):
        def forward(self, z, y):
            return z

    with pytest.raises(InputError, match="z_dim"):
        check_generator(NoDims())


# --- training, resume and cache -----------------------------------------------------


def _weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("ema_decay", [0.0, 0.9])
def test_resume_after_kill_gives_identical_weights(tmp_path, small_digits, ema_decay):
    config = ACGANConfig(epochs=2, batch_size=64, seed=3, ema_decay=ema_decay)
    straight = train_acgan(config, small_digits, tmp_path / "a", progress=False)

    def kill(epoch: int, step: int) -> None:
        if epoch == 1 and step == 1:
            raise KeyboardInterrupt

    (tmp_path / "b").mkdir()
    with pytest.raises(KeyboardInterrupt):
        train_acgan(config, small_digits, tmp_path / "b", progress=False, on_batch=kill)
    assert torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["epoch"] == 0
    resumed = train_acgan(config, small_digits, tmp_path / "b", progress=False)
    a, b = _weights(straight.generator), _weights(resumed.generator)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.history == straight.history


def test_cache_is_reused_then_rebuilt_when_corrupted(small_digits, monkeypatch):
    config = ACGANConfig(epochs=1, seed=1)
    first = load_or_train_acgan(config, small_digits, "quick", progress=False)
    weights_file = first.folder / "generator.safetensors"
    assert weights_file.exists() and (first.folder / "config.json").exists()

    calls = []
    from intrinsic_rob.models import training

    real_fit = training.fit
    monkeypatch.setattr(training, "fit", lambda *a, **k: calls.append(1) or real_fit(*a, **k))
    again = load_or_train_acgan(config, small_digits, "quick", progress=False)
    assert calls == []  # served from the cache
    assert all(torch.equal(x, y) for x, y in zip(_weights(first.generator).values(), _weights(again.generator).values()))
    # the digest a chapter records of a freshly trained generator is the one its cached copy gives
    assert module_digest(first.generator) == module_digest(again.generator)

    raw = bytearray(weights_file.read_bytes())
    raw[-10] ^= 0xFF
    weights_file.write_bytes(bytes(raw))
    assert artifacts.load_tensors(weights_file) is None  # detected, never used
    rebuilt = load_or_train_acgan(config, small_digits, "quick", progress=False)
    assert calls == [1]
    assert all(torch.equal(x, y) for x, y in zip(_weights(first.generator).values(), _weights(rebuilt.generator).values()))
    stored = artifacts.load_tensors(weights_file)  # the rewritten file verifies and holds the rebuilt weights
    expected = _weights(rebuilt.generator)
    assert stored.keys() == expected.keys() and all(torch.equal(stored[k], expected[k]) for k in expected)


def test_generator_file_alone_serves_the_cache(small_digits, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # a cache of its own: the test removes the checkpoint it builds
    config = ACGANConfig(epochs=1, seed=2)
    first = load_or_train_acgan(config, small_digits, "quick", progress=False)
    (first.folder / "checkpoint.pt").unlink()  # what travels to another machine: weights only
    monkeypatch.setattr(acgan_mod, "train_acgan", lambda *a, **k: pytest.fail("retrained"))
    again = load_or_train_acgan(config, small_digits, "quick", progress=False)
    assert again.history == first.history and len(again.history) == 1
    assert all(torch.equal(x, y) for x, y in zip(_weights(first.generator).values(), _weights(again.generator).values()))


def test_generator_file_without_history_is_completed_from_the_checkpoint(small_digits, monkeypatch):
    config = ACGANConfig(epochs=1, seed=4)
    first = load_or_train_acgan(config, small_digits, "quick", progress=False)
    weights_file = first.folder / "generator.safetensors"
    artifacts.save_tensors(weights_file, first.generator.state_dict())  # the older format: no header history
    monkeypatch.setattr(acgan_mod, "train_acgan", lambda *a, **k: pytest.fail("retrained"))
    again = load_or_train_acgan(config, small_digits, "quick", progress=False)
    assert again.history == first.history
    assert "history" in artifacts.load_tensors_and_metadata(weights_file)[1]


def test_cache_key_changes_with_configuration(small_digits):
    a = acgan_mod.acgan_cache_key(ACGANConfig(epochs=1), small_digits)
    b = acgan_mod.acgan_cache_key(ACGANConfig(epochs=2), small_digits)
    c = acgan_mod.acgan_cache_key(ACGANConfig(epochs=1, ema_decay=0.995), small_digits)
    assert len({artifacts.config_hash(k) for k in (a, b, c)}) == 3
    # a generator trained before weight averaging existed keeps its cache entry
    assert "ema_decay" not in a and c["ema_decay"] == 0.995


def test_weight_average_is_what_training_returns(tmp_path, small_digits):
    """With ema_decay the trained generator is the running average, not the last iterate."""
    plain = train_acgan(ACGANConfig(epochs=1, seed=5), small_digits, tmp_path / "a", progress=False)
    averaged = train_acgan(ACGANConfig(epochs=1, seed=5, ema_decay=0.5), small_digits, tmp_path / "b", progress=False)
    state = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    last = state["generator"]
    # the same training run underneath (the average does not feed back into training) ...
    assert all(torch.equal(last[k], v) for k, v in _weights(plain.generator).items())
    # ... but a different, averaged generator comes out, and it is the checkpoint's average
    out = _weights(averaged.generator)
    assert any(not torch.equal(out[k], last[k]) for k in out if out[k].dtype.is_floating_point)
    assert all(torch.equal(out[k], state["ema_generator"][k]) for k in out)
    assert not averaged.generator.training


def test_bad_config_is_an_error():
    with pytest.raises(InputError, match="epochs"):
        ACGANConfig(epochs=0)
    with pytest.raises(InputError, match="ema_decay"):
        ACGANConfig(ema_decay=1.0)


# --- BigGAN wrapper -----------------------------------------------------------------


def test_biggan_wrapper_shapes_range_and_resizing(tiny_biggan):
    area = ImageNet10Generator(tiny_biggan, pretrained=False)
    nearest = ImageNet10Generator(tiny_biggan, resize="nearest", pretrained=False)
    native = ImageNet10Generator(tiny_biggan, size=128, pretrained=False)
    assert (area.z_dim, area.num_classes) == (128, 10)
    z, y = torch.randn(3, 128), torch.tensor([0, 4, 9])
    with torch.inference_mode():
        full, small, picked = native(z, y), area(z, y), nearest(z, y)
    assert full.shape == (3, 3, 128, 128) and small.shape == (3, 3, 32, 32)
    assert small.min() >= 0 and small.max() <= 1 and torch.isfinite(small).all()
    assert torch.allclose(small, F.avg_pool2d(full, 4), atol=1e-6)
    assert torch.equal(picked, full[..., ::4, ::4])


def test_biggan_class_mapping(tiny_biggan):
    seen = []
    handle = tiny_biggan.embeddings.register_forward_pre_hook(lambda m, args: seen.append(args[0].argmax(1)))
    try:
        with torch.inference_mode():
            ImageNet10Generator(tiny_biggan, pretrained=False)(torch.randn(10, 128), torch.arange(10))
    finally:
        handle.remove()
    assert seen[0].tolist() == list(IMAGENET10_INDICES)


def test_biggan_bad_options(tiny_biggan):
    with pytest.raises(InputError, match="resize"):
        ImageNet10Generator(tiny_biggan, resize="bicubic", pretrained=False)
    with pytest.raises(InputError, match="size"):
        ImageNet10Generator(tiny_biggan, size=30, pretrained=False)


def test_biggan_weights_from_a_local_folder(tmp_path, tiny_biggan, monkeypatch):
    folder = tmp_path / "biggan"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(tiny_biggan.config.__dict__))
    with pytest.raises(WeightsNotFound, match="pytorch_model.bin"):
        find_biggan_weights(folder)
    torch.save(tiny_biggan.state_dict(), folder / "pytorch_model.bin")
    loaded = load_biggan(folder)
    z, onehot = torch.randn(2, 128), F.one_hot(torch.tensor([1, 2]), 1000).float()
    with torch.inference_mode():
        assert torch.equal(loaded(z, onehot, 1.0), tiny_biggan(z, onehot, 1.0))


def test_no_weights_says_where_to_put_them(monkeypatch, tmp_path):
    monkeypatch.delenv("INTRINSIC_ROB_BIGGAN_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    from pytorch_pretrained_biggan import file_utils

    monkeypatch.setattr(file_utils, "PYTORCH_PRETRAINED_BIGGAN_CACHE", tmp_path / "empty-cache")
    with pytest.raises(WeightsNotFound, match="INTRINSIC_ROB_BIGGAN_DIR"):
        find_biggan_weights()


# --- generated datasets ---------------------------------------------------------------


def test_generated_dataset_is_deterministic_and_keeps_z(tmp_path):
    gen = ACGANGenerator().eval()
    a = generate_dataset(gen, 37, seed=5, batch_size=10, progress=False)
    b = generate_dataset(gen, 37, seed=5, batch_size=10, progress=False)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y) and torch.equal(a.z, b.z)
    # Another batch size draws the same labels and latents; images agree up to float rounding.
    c = generate_dataset(gen, 37, seed=5, batch_size=16, progress=False)
    assert torch.equal(a.z, c.z) and torch.equal(a.y, c.y) and torch.allclose(a.x, c.x, atol=1e-5)
    with torch.inference_mode():
        assert torch.allclose(gen(a.z, a.y), a.x, atol=1e-5)
    path = a.save(tmp_path / "set.npz")
    back = GeneratedSet.load(path)
    assert torch.equal(back.x, a.x) and back.y.dtype == torch.int64 and back.z.dtype == torch.float32
    train, test = generate_splits(gen, (20, 10), seed=0, progress=False)
    assert not torch.equal(train.z[:10], test.z)


def test_cached_splits_are_the_generated_ones_and_follow_the_weights(tmp_path, monkeypatch):
    """The cached splits load bit for bit as generate_splits draws them, without drawing again; other
    weights or another seed get their own entry."""
    gen = ACGANGenerator().eval()
    drawn = generate_splits(gen, (12, 5), seed=3, progress=False)
    first = cached_splits(gen, (12, 5), 3, group="t", artifacts=tmp_path)
    import intrinsic_rob.data.datasets as datasets_mod

    def refuse(*args, **kwargs):
        raise AssertionError("drawn again instead of loaded")

    monkeypatch.setattr(datasets_mod, "generate_splits", refuse)
    again = cached_splits(gen, (12, 5), 3, group="t", artifacts=tmp_path)
    for a, b, c in zip(drawn, first, again):
        for name in ("x", "y", "z"):
            assert torch.equal(getattr(a, name), getattr(b, name)) and torch.equal(getattr(a, name), getattr(c, name))
    monkeypatch.undo()
    other = copy.deepcopy(gen)
    with torch.no_grad():
        next(other.parameters()).add_(0.1)
    moved = cached_splits(other, (12, 5), 3, group="t", artifacts=tmp_path)
    assert torch.equal(moved[0].z, drawn[0].z) and not torch.equal(moved[0].x, drawn[0].x)
    reseeded = cached_splits(gen, (12, 5), 4, group="t", artifacts=tmp_path)
    assert not torch.equal(reseeded[0].z, drawn[0].z)
    assert len(list((tmp_path / "t").glob("splits-*"))) == 3


def test_data_generate_command_end_to_end(tmp_path, quick_acgan_cache):
    import numpy as np

    from intrinsic_rob.data.datasets import TEST_SEED_OFFSET
    from intrinsic_rob.pipeline.profiles import get_profile

    gen = quick_acgan_cache.eval()
    out = tmp_path / "mnist"
    proc = subprocess.run(
        [sys.executable, "-m", "intrinsic_rob.cli", "data", "generate", "--dataset", "mnist", "--profile", "quick",
         "--out", str(out), "--train-size", "12", "--test-size", "5", "--no-progress"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(out / "train.npz"), str(out / "test.npz")]
    seed = get_profile("quick").seed
    for name, size, split_seed in (("train", 12, seed), ("test", 5, seed + TEST_SEED_OFFSET)):
        with np.load(out / f"{name}.npz") as data:
            x, y, z = data["x"], data["y"], data["z"]
        assert x.shape == (size, 1, 28, 28) and x.dtype == np.float32
        assert y.dtype == np.int64 and z.shape == (size, 100) and z.dtype == np.float32
        # the command's data is the cached generator's: the split's seeded labels and latents, x = g(z, y)
        expected = generate_dataset(gen, size, seed=split_seed, progress=False)
        np.testing.assert_array_equal(y, expected.y.numpy())
        np.testing.assert_array_equal(z, expected.z.numpy())
        with torch.inference_mode():
            np.testing.assert_allclose(x, gen(torch.from_numpy(z), torch.from_numpy(y)).numpy(), atol=1e-5, rtol=0)
    assert json.loads((out / "metadata.json").read_text())["pretrained"] is True


def test_data_generate_imagenet10_without_weights(tmp_path, monkeypatch):
    monkeypatch.delenv("INTRINSIC_ROB_BIGGAN_DIR", raising=False)
    env = {**__import__("os").environ, "PYTORCH_PRETRAINED_BIGGAN_CACHE": str(tmp_path / "none")}
    base = [sys.executable, "-m", "intrinsic_rob.cli", "data", "generate", "--dataset", "imagenet10",
            "--out", str(tmp_path / "in10"), "--train-size", "2", "--test-size", "1", "--no-progress"]
    refused = subprocess.run(base, capture_output=True, text=True, env=env)
    assert refused.returncode == 2 and "INTRINSIC_ROB_BIGGAN_DIR" in refused.stderr
    assert refused.stderr.count("\n") == 1 and not (tmp_path / "in10" / "train.npz").exists()
    allowed = subprocess.run(base + ["--allow-random-biggan"], capture_output=True, text=True, env=env)
    assert allowed.returncode == 0, allowed.stderr
    assert "PIPELINE CHECK" in allowed.stderr
    meta = json.loads((tmp_path / "in10" / "metadata.json").read_text())
    assert meta["pretrained"] is False and meta["z_dim"] == 128
