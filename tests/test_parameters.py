"""Values, not profile names: what a chapter or command is given reaches everything it names."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from intrinsic_rob.core import artifacts
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.data.datasets import make_generator
from intrinsic_rob.data.mnist import load_mnist_embedded
from intrinsic_rob.estimators.lipschitz import Algorithm1Settings
from intrinsic_rob.generators.acgan import ACGANGenerator, ACGANRecipe, acgan_cache_key
from intrinsic_rob.pipeline.profiles import PROFILES, get_profile, resolve_parameters


def _prime(recipe: ACGANRecipe, seed: int, group: str, cache: Path) -> ACGANGenerator:
    """Put a random generator where make_generator looks for (recipe, seed), so nothing trains."""
    data = load_mnist_embedded()
    config = recipe.config(len(data), seed=seed)
    folder = artifacts.artifact_dir("acgan", acgan_cache_key(config, data), group, cache)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = ACGANGenerator()
    artifacts.save_tensors(folder / "generator.safetensors", gen.state_dict(), metadata={"history": "[]"})
    return gen


def test_make_generator_uses_the_seed_and_recipe_it_is_given(tmp_path, monkeypatch):
    recipe = ACGANRecipe(epochs=3, lr=1e-3, ema_decay=0.5)
    primed = {seed: _prime(recipe, seed, "quick", tmp_path) for seed in (3, 4)}
    for seed, gen in primed.items():
        source = make_generator("mnist", seed=seed, acgan=recipe, group="quick", artifacts=tmp_path, progress=False)
        assert source.settings["seed"] == seed and source.settings["epochs"] == 3 and source.settings["lr"] == 1e-3
        assert all(torch.equal(a, b) for a, b in zip(source.generator.state_dict().values(),
                                                     gen.state_dict().values()))
    with pytest.raises(InputError, match="acgan must be given"):
        make_generator("mnist", seed=0)


def test_random_biggan_follows_the_seed(tmp_path, monkeypatch):
    monkeypatch.delenv("INTRINSIC_ROB_BIGGAN_DIR", raising=False)
    monkeypatch.setenv("PYTORCH_PRETRAINED_BIGGAN_CACHE", str(tmp_path / "none"))
    weights = {}
    for seed in (1, 1, 2):
        source = make_generator("imagenet10", seed=seed, allow_random_biggan=True, random_width=4)
        assert not source.pretrained and source.settings["seed"] == seed
        weights.setdefault(seed, []).append(next(iter(source.generator.state_dict().values())).clone())
    assert torch.equal(*weights[1]) and not torch.equal(weights[1][0], weights[2][0])


def test_resolve_parameters_fills_only_what_is_none():
    quick = get_profile("quick").parameters("03_lipschitz")
    resolved = resolve_parameters("03_lipschitz", "quick", {"seed": 9, "radius": None, "biggan_dir": "x"})
    assert resolved["seed"] == 9 and resolved["radius"] == quick["radius"] and "biggan_dir" not in resolved
    assert resolve_parameters("03_lipschitz", "paper", {})["num_samples"] == get_profile("paper").lipschitz.num_samples


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profiles_hold_checked_settings(name):
    profile = get_profile(name)
    assert isinstance(profile.lipschitz, Algorithm1Settings) and isinstance(profile.acgan, ACGANRecipe)
    params = profile.parameters("03_lipschitz")
    assert Algorithm1Settings(params["num_samples"], params["num_neighbors"], params["radius"], params["delta"],
                              params["trials"]) == profile.lipschitz
    assert ACGANRecipe(params["acgan_epochs"], params["acgan_steps"], params["acgan_lr"],
                       params["acgan_ema_decay"]) == profile.acgan


@pytest.mark.parametrize("kwargs, message", [
    ({"num_samples": 0}, "num_samples must be >= 1, got 0"),
    ({"radius": -1.0}, "radius must be > 0, got -1$"),
    ({"delta": 1.0}, r"delta must be in \[0, 1\), got 1$"),
    ({"trials": 2.5}, "trials must be an integer >= 1, got 2.5"),
])
def test_algorithm1_settings_reject_out_of_range_values(kwargs, message):
    with pytest.raises(InputError, match=message):
        Algorithm1Settings(**kwargs)


def test_acgan_recipe_needs_exactly_one_length():
    for both_or_neither in ({}, {"epochs": 2, "steps": 10_000}):
        with pytest.raises(InputError, match="exactly one of epochs and steps"):
            ACGANRecipe(**both_or_neither)
    assert ACGANRecipe(steps=10_000).config(5000, seed=0).epochs == 127  # ceil(10,000 / 79 steps per epoch)


def test_an_override_of_one_length_replaces_the_profiles_choice():
    from intrinsic_rob.pipeline import book

    quick = resolve_parameters("03_lipschitz", "quick", {"acgan_steps": 500})
    paper = resolve_parameters("03_lipschitz", "paper", {"acgan_epochs": 3})
    assert (quick["acgan_epochs"], quick["acgan_steps"]) == (None, 500)
    assert (paper["acgan_epochs"], paper["acgan_steps"]) == (3, None)
    nb = book.read_chapter(book.find_root() / "chapters" / "02_generators.py")
    injected = book.effective_parameters(nb, "02_generators", "quick", {"acgan_steps": 500, "mnist_dir": "d"})
    assert (injected["acgan_epochs"], injected["acgan_steps"], injected["mnist_dir"]) == (None, 500, "d")
    resolve_parameters("01_theory", "quick", {})["isoperimetry_dims"].append(7)  # a copy: the profile keeps its own
    assert get_profile("quick").parameters("01_theory")["isoperimetry_dims"] == [2, 10, 100]


def test_a_chapter_run_with_a_seed_builds_its_generator_with_that_seed(tmp_path, root):
    """`--param seed=...` reaches the ACGANs that chapter 2 trains (a small run: one epoch, tiny sets)."""
    import json

    from intrinsic_rob.pipeline import book

    overrides = {"seed": 5, "acgan_epochs": 1, "mnist_sizes": [64, 32], "imagenet10_sizes": [4, 2],
                 "recognisability_goal": [0.0, 0.0]}
    env = {"INTRINSIC_ROB_RESULTS": str(tmp_path / "results"), "INTRINSIC_ROB_ARTIFACTS": str(tmp_path / "artifacts")}
    book.execute_chapter(root / "chapters" / "02_generators.py", root, "quick", overrides, output_dir=tmp_path,
                         env=env, progress=False)
    assert (tmp_path / "02_generators.ipynb").exists()
    meta = json.loads((tmp_path / "results" / "quick" / "mnist_generated_recognisability.json").read_text())
    assert meta["generator_settings"]["seed"] == 5 and meta["generator_settings"]["epochs"] == 1
    trained = [json.loads(p.read_text()) for p in (tmp_path / "artifacts" / "quick").glob("acgan-*/config.json")]
    # the ACGAN and chapter 3's unconditional counterpart, trained alongside it
    assert sorted((c["seed"], c["epochs"], c["num_classes"]) for c in trained) == [(5, 1, 1), (5, 1, 10)]
