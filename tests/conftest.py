"""Fixtures shared by the tests (test modules never import one another)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .paths import ROOT


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository's root folder."""
    return ROOT


@pytest.fixture()
def quick_acgan_cache(tmp_path, monkeypatch):
    """An untrained ACGAN generator, put where the quick profile's MNIST cache expects it.

    Points $INTRINSIC_ROB_ARTIFACTS at ``tmp_path / "artifacts"`` (never the real cache)
    and saves a freshly initialised generator there, so that a command run with
    ``--profile quick`` loads it instead of training one (nothing is trained: this takes
    about a second). Returns the generator, in training mode.
    """
    from intrinsic_rob.core import artifacts
    from intrinsic_rob.data.mnist import load_mnist_embedded
    from intrinsic_rob.generators.acgan import ACGANGenerator, acgan_cache_key
    from intrinsic_rob.pipeline.profiles import get_profile

    monkeypatch.setenv("INTRINSIC_ROB_ARTIFACTS", str(tmp_path / "artifacts"))
    data = load_mnist_embedded()
    profile = get_profile("quick")
    config = profile.acgan.config(len(data), seed=profile.seed)  # as `--profile quick` makes it
    folder = artifacts.artifact_dir("acgan", acgan_cache_key(config, data), "quick", tmp_path / "artifacts")
    gen = ACGANGenerator()
    artifacts.save_tensors(folder / "generator.safetensors", gen.state_dict(), metadata={"history": "[]"})
    return gen


# Notebooks the tests execute (with papermill), not test modules to import.
collect_ignore_glob = ["notebooks/*"]
