"""Profiles: the named parameter sets that size every chapter's work.

``quick`` is what CI and a laptop run (CPU, minutes); ``paper`` uses the paper's settings
and is meant for a GPU. A chapter never hard-codes sizes: its ``parameters`` cell holds the
quick values as defaults and papermill injects the profile's values over them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from .errors import InputError


@dataclass(frozen=True)
class Profile:
    """A named set of papermill parameters, per chapter (keyed by the chapter's file stem).

    ``dataset_sizes`` ((train, test) per generated dataset), ``acgan_epochs`` and
    ``lipschitz`` (Algorithm 1's S, N, r, delta and the number of trials) are shared by the
    chapters and the commands, so both compute the same things.
    """

    name: str
    description: str
    seed: int
    dataset_sizes: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    acgan_epochs: int = 25
    lipschitz: Mapping[str, Any] = field(default_factory=dict)
    chapters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def parameters(self, chapter: str) -> dict[str, Any]:
        """Parameters papermill injects into ``chapter``: profile name, seed and sizes."""
        params: dict[str, Any] = {"profile": self.name, "seed": self.seed}
        params.update(self.chapters.get(chapter, {}))
        return params


_QUICK_SIZES = {"mnist": (5000, 1000), "imagenet10": (192, 96)}
_PAPER_SIZES = {"mnist": (60_000, 10_000), "imagenet10": (50_000, 10_000)}
_QUICK_LIPSCHITZ = {"num_samples": 40, "num_neighbors": 100, "radius": 0.5, "delta": 0.001, "trials": 3}
_PAPER_LIPSCHITZ = {"num_samples": 1000, "num_neighbors": 2000, "radius": 0.5, "delta": 0.001, "trials": 10}
_QUICK_ACGAN_EPOCHS = 8  # about 4 minutes on two CPU cores with the 5,000 embedded digits
_PAPER_ACGAN_EPOCHS = 25  # the original implementation's setting

QUICK = Profile(
    name="quick",
    description="CPU-sized runs for CI and laptops (minutes for the whole book)",
    seed=0,
    dataset_sizes=_QUICK_SIZES,
    acgan_epochs=_QUICK_ACGAN_EPOCHS,
    lipschitz=_QUICK_LIPSCHITZ,
    chapters={
        "01_theory": {
            "mc_samples": 200_000,
            "isoperimetry_dims": [2, 10, 100],
            "a4_instances": 150,
            "a4_max_classes": 6,
            "a4_restarts": 12,
            "toy_latent_dim": 8,
        },
        "02_generators": {
            "acgan_epochs": _QUICK_ACGAN_EPOCHS,
            "mnist_sizes": list(_QUICK_SIZES["mnist"]),
            "imagenet10_sizes": list(_QUICK_SIZES["imagenet10"]),
            "classifier_epochs": 6,
            "biggan_random_width": 4,
        },
        "03_lipschitz": {
            **_QUICK_LIPSCHITZ,
            "convergence_neighbors": [10, 30, 100, 300, 1000],
            "convergence_samples": 20,
            "bootstrap_resamples": 2000,
            "imagenet_samples": 2,
            "imagenet_neighbors": 6,
            "pipeline_check_samples": 2,
            "pipeline_check_neighbors": 6,
            "biggan_random_width": 4,
            "device": "cpu",
        },
    },
)

PAPER = Profile(
    name="paper",
    description="the paper's settings (Tables 4 and 5, Section 5.2); meant for a GPU",
    seed=0,
    dataset_sizes=_PAPER_SIZES,
    acgan_epochs=_PAPER_ACGAN_EPOCHS,
    lipschitz=_PAPER_LIPSCHITZ,
    chapters={
        "01_theory": {
            "mc_samples": 2_000_000,
            "isoperimetry_dims": [2, 10, 100, 1000],
            "a4_instances": 3000,
            "a4_max_classes": 10,
            "a4_restarts": 50,
            "toy_latent_dim": 100,
        },
        "02_generators": {
            "acgan_epochs": _PAPER_ACGAN_EPOCHS,
            "mnist_sizes": list(_PAPER_SIZES["mnist"]),
            "imagenet10_sizes": list(_PAPER_SIZES["imagenet10"]),
            "classifier_epochs": 20,
            "biggan_random_width": 4,
        },
        "03_lipschitz": {
            **_PAPER_LIPSCHITZ,
            "convergence_neighbors": [10, 100, 1000, 2000, 10_000],
            "convergence_samples": 100,
            "bootstrap_resamples": 2000,
            "imagenet_samples": 1000,
            "imagenet_neighbors": 2000,
            "pipeline_check_samples": 2,
            "pipeline_check_neighbors": 6,
            "biggan_random_width": 4,
            "device": "auto",
        },
    },
)

PROFILES: Mapping[str, Profile] = MappingProxyType({p.name: p for p in (QUICK, PAPER)})


def get_profile(name: str) -> Profile:
    """The profile called ``name``; an unknown name is an :class:`InputError`.

    Example:
        >>> get_profile("quick").parameters("01_theory")["profile"]
        'quick'
    """
    try:
        return PROFILES[name]
    except KeyError:
        raise InputError(
            f"profile must be one of {', '.join(sorted(PROFILES))}, got {name!r}"
        ) from None
