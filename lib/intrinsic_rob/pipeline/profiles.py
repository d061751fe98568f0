"""Profiles: the named parameter sets that size every chapter's work.

``quick`` is what CI and a laptop run (CPU, minutes); ``cpu`` is the recorded CPU-scale
run (Table 4's settings scaled to hours on two cores); ``paper`` uses the paper's settings
and is meant for a GPU. Every value of a chapter's parameters is written once, in its
profile here: the chapter's ``parameters`` cell sets them to None, papermill injects the
profile's values (and any ``--param``), and :func:`resolve_parameters` fills what is still
None when a chapter runs outside the book's pipeline. The entry point (the command, or
the chapter's parameters cell) resolves the profile once; everything below it receives
values, never a profile's name to look up again.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from intrinsic_rob import paper
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.data.datasets import MnistData
from intrinsic_rob.estimators.in_dist import InDistSettings
from intrinsic_rob.estimators.lipschitz import Algorithm1Settings
from intrinsic_rob.generators.acgan import ACGANRecipe
from intrinsic_rob.models.robust import RobustTraining
from intrinsic_rob.pipeline.experiments import Evaluation


@dataclass(frozen=True)
class Profile:
    """A named set of values for every parameter of the chapters and the commands.

    Each value is written once, here: the chapters' ``parameters`` cells hold ``None``
    ("this profile's value", see :func:`resolve_parameters`) and papermill injects the
    values of :meth:`parameters`. ``dataset_sizes`` ((train, test) per generated dataset),
    ``acgan`` (the ACGAN's training recipe) and ``lipschitz`` (Algorithm 1's settings) are
    shared by the chapters and the commands, so both compute the same things.
    """

    name: str
    description: str
    seed: int
    dataset_sizes: Mapping[str, tuple[int, int]]
    acgan: ACGANRecipe
    lipschitz: Algorithm1Settings
    chapters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def parameters(self, chapter: str) -> dict[str, Any]:
        """The values of ``chapter``'s parameters: profile name, seed and the chapter's own."""
        params: dict[str, Any] = {"profile": self.name, "seed": self.seed}
        params.update(copy.deepcopy(dict(self.chapters.get(chapter, {}))))
        return params


def acgan_parameters(recipe: ACGANRecipe) -> dict[str, Any]:
    """The ACGAN recipe as chapter parameters (``acgan_epochs``, ``acgan_steps``, ...)."""
    return {f"acgan_{k}": v for k, v in asdict(recipe).items()}


def lipschitz_parameters(settings: Algorithm1Settings) -> dict[str, Any]:
    """Algorithm 1's settings as chapter parameters (``num_samples``, ..., ``trials``)."""
    return asdict(settings)


_QUICK_SIZES = {"mnist": (5000, 1000), "imagenet10": (192, 96)}
_PAPER_SIZES = {"mnist": paper.GENERATED_MNIST_SIZES, "imagenet10": paper.GENERATED_IMAGENET10_SIZES}
_QUICK_LIPSCHITZ = Algorithm1Settings(num_samples=40, num_neighbors=100, trials=3)
_PAPER_LIPSCHITZ = Algorithm1Settings(trials=paper.LIPSCHITZ_TRIALS)  # Section 5.2's S, N, r and delta
# Measured on the 5,000 embedded digits with chapter 2's CNN judge, 8 epochs, seeds 0-2:
# Adam at 8e-4 rather than the original's 2e-4, with the generator's weights averaged
# (decay 0.99), lifts recognisability from 76% overall (31% on the worst class) to 97-98%
# (89-92%); averaging alone adds 2-4 points, the learning rate the rest. At 6 epochs (trained
# on two threads) the judge recognised 93% overall and 76% of the worst class. The book trains
# this recipe twice (chapter 3's unconditional generator too), both at once, one thread each
# (intrinsic_rob.core.parallel): about 3.7 minutes for the pair on two CPU cores.
_QUICK_ACGAN = ACGANRecipe(epochs=8, lr=8e-4, ema_decay=0.99)
# The original trained 25 epochs of 938 steps (60,000 digits, batch 64): the paper profile
# matches its number of optimisation steps, whatever the size of the training set. It
# keeps the original's learning rate: at 2e-4 quality kept rising with the number of steps
# in every run measured here, and the steps are many. Its average spans about a thousand
# steps. Not yet verified at this length.
_PAPER_ACGAN = ACGANRecipe(
    steps=paper.ACGAN_EPOCHS * math.ceil(paper.REAL_MNIST_TRAIN_SIZE / paper.ACGAN_BATCH_SIZE),
    lr=2e-4, ema_decay=0.999,
)

# The robust classifiers of Section 5.3, trained in chapter 4 and attacked again in chapter 5
# (which finds them in the cache by these values): (quick value, paper value).
_ROBUST_MODELS: dict[str, tuple[Any, Any]] = {
    "mnist_sizes": (list(_QUICK_SIZES["mnist"]), list(_PAPER_SIZES["mnist"])),
    "imagenet10_sizes": (list(_QUICK_SIZES["imagenet10"]), list(_PAPER_SIZES["imagenet10"])),
    "biggan_random_width": (4, 4),
    # Adv-Train and TRADES; None: Table 4's. The quick lengths were measured on two CPU cores
    # to clear every model's floor (intrinsic_rob.pipeline.floors); on one thread each takes
    # about two minutes.
    "robust_epochs": (6, None),
    # PGD steps of the inner maximisation (step 0.5 either way). Quick: 3; with 5 a model took
    # three minutes instead of two on one thread, and Adv-Train reached 94.2% natural and 37.2%
    # PGD accuracy at eps 3 on 500 digits (with 3: 99.6% and 21.0%)
    "robust_inner_steps": (3, None),
    # epochs over which Adv-Train's and TRADES' eps grows from 0, step by step (Table 4: none);
    # without it the quick runs stayed at chance
    "robust_ramp_epochs": (2, 0),
    "lp_epochs": (2, None),
    # epochs over which LP-Certify's eps grows from 0.05, step by step; a quick run that
    # reached eps = 2 before its last step collapsed to chance
    "lp_ramp_epochs": (2, 20),
    # LP-Certify's training digits (None: all); on 3,000 of the 5,000 digits of a 6-epoch quick ACGAN it
    # stayed at chance
    "lp_train_size": (None, None),
    # random projections of the l2 bound in training; 20 trained the quick model as well as 50
    # (79.2% against 78.0% natural accuracy) in less than half the time
    "lp_proj": (20, 50),
    # every k epochs, and after the last, a model's intermediate state is kept (Figure 2
    # attacks them; the paper: every 5)
    "snapshot_every": (3, 5),
}


def robust_training(params: Mapping[str, Any]) -> RobustTraining:
    """The robust classifiers' training lengths among a chapter's or command's resolved parameters.

    Chapters 4 and 5, their sweep points and the commands build their models' recipes from
    it (:meth:`~intrinsic_rob.models.robust.RobustTraining.config`), so they name one model the same way.

    Example:
        >>> robust_training(QUICK.parameters("04_robust")).snapshot_every
        3
    """
    return RobustTraining(epochs=params["robust_epochs"], inner_steps=params["robust_inner_steps"],
                          ramp_epochs=params["robust_ramp_epochs"], lp_epochs=params["lp_epochs"],
                          lp_ramp_epochs=params["lp_ramp_epochs"], lp_train_size=params["lp_train_size"],
                          lp_proj=params["lp_proj"], snapshot_every=params["snapshot_every"])


def acgan_recipe(params: Mapping[str, Any]) -> ACGANRecipe:
    """The ACGAN's training recipe among resolved parameters (``acgan_epochs``, ``acgan_steps``, ``acgan_lr``,
    ``acgan_ema_decay``; :func:`acgan_parameters` flattens one into them).

    Example:
        >>> acgan_recipe(QUICK.parameters("02_generators")) == QUICK.acgan
        True
    """
    return ACGANRecipe(epochs=params["acgan_epochs"], steps=params["acgan_steps"], lr=params["acgan_lr"],
                       ema_decay=params["acgan_ema_decay"])


def mnist_data(params: Mapping[str, Any]) -> MnistData:
    """Chapters 4 and 5's generated MNIST (the ACGAN's recipe, the seed, the split sizes) among
    resolved parameters (``seed``, ``mnist_sizes``, ``acgan_epochs``, ``acgan_steps``, ``acgan_lr``,
    ``acgan_ema_decay``).

    Example:
        >>> mnist_data(QUICK.parameters("04_robust")).acgan == QUICK.acgan
        True
    """
    return MnistData(seed=params["seed"], sizes=tuple(params["mnist_sizes"]), acgan=acgan_recipe(params))


def evaluation(params: Mapping[str, Any]) -> Evaluation:
    """How chapters 4 and 5 evaluate a classifier (``pgd_steps``, ``eval_size``, ``certify_size``).

    Example:
        >>> evaluation(QUICK.parameters("04_robust")).pgd_steps
        20
    """
    return Evaluation(pgd_steps=params["pgd_steps"], eval_size=params.get("eval_size"),
                      certify_size=params["certify_size"])


def in_dist_settings(params: Mapping[str, Any], **overrides: Any) -> InDistSettings:
    """The in-distribution attack that resolved parameters name (``indist_method``, ``indist_budget``,
    ``indist_search_steps``, ``indist_max_iterations``, ``indist_fit_steps``, ``indist_fit_restarts``),
    with ``overrides`` (fields of :class:`~intrinsic_rob.estimators.in_dist.InDistSettings`) that are not None in
    their place.

    Chapter 5, its sweep points and ``intrinsic-rob in-dist`` take their attack from here,
    so that they run the same one.

    Example:
        >>> values = QUICK.parameters("05_in_distribution")
        >>> in_dist_settings(values).budget == values["indist_budget"]
        True
        >>> in_dist_settings(values, method="cw", max_iterations=50, search_steps=None).max_iterations
        50
    """
    fields = {name: params[f"indist_{name}"] for name in ("method", "budget", "search_steps", "max_iterations",
                                                            "fit_steps", "fit_restarts")}
    fields.update({name: value for name, value in overrides.items() if value is not None})
    return InDistSettings(**fields)


# How both chapters evaluate those classifiers (Table 5's attack; the exact l2 certificate).
_ROBUST_EVALUATION: dict[str, tuple[Any, Any]] = {
    "pgd_steps": (20, 100),
    "certify_size": (100, None),  # generated test images certified (LP-Certify); None: all evaluated
    "device": ("cpu", "auto"),
}

# Each chapter's own parameters, one line each: (quick value, paper value).
_CHAPTER_VALUES: dict[str, dict[str, tuple[Any, Any]]] = {
    "01_theory": {
        "mc_samples": (200_000, 2_000_000),
        "isoperimetry_dims": ([2, 10, 100], [2, 10, 100, 1000]),
        "a4_instances": (150, 3000),
        "a4_max_classes": (6, 10),
        "a4_restarts": (12, 50),
        "toy_latent_dim": (8, 100),
    },
    "02_generators": {
        "mnist_sizes": (list(_QUICK_SIZES["mnist"]), list(_PAPER_SIZES["mnist"])),
        "imagenet10_sizes": (list(_QUICK_SIZES["imagenet10"]), list(_PAPER_SIZES["imagenet10"])),
        "classifier_epochs": (6, 20),
        # the CNN judge's share of generated digits recognised as their labels: [overall, worst class]
        "recognisability_goal": ([0.85, 0.60], [0.95, 0.85]),
        "biggan_random_width": (4, 4),
    },
    "03_lipschitz": {
        "convergence_neighbors": ([10, 30, 100, 300, 1000], [10, 100, 1000, 2000, 10_000]),
        "convergence_samples": (20, 100),
        "bootstrap_resamples": (2000, 2000),
        # quick: four radii over the same 32-fold range (six took 133 s of the quick book on two cores)
        "radius_grid": ([0.25, 0.5, 2.0, 8.0], [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0]),
        "imagenet_samples": (2, 1000),
        "imagenet_neighbors": (6, 2000),
        "pipeline_check_samples": (2, 2),
        "pipeline_check_neighbors": (6, 6),
        "biggan_random_width": (4, 4),
        "device": ("cpu", "auto"),
    },
    # Section 5.3 (the command `intrinsic-rob robust` and the robust-classifier chapter).
    # None: Table 4's or Table 5's value, or the whole set.
    "04_robust": {
        **_ROBUST_MODELS,
        **_ROBUST_EVALUATION,
        "eval_size": (500, None),  # generated test images attacked
        "robust_trials": (1, 10),
        "restarts": (3, 10),  # random restarts of the strongest PGD cross-check
        # the first this many evaluated digits get the evaluation-strength comparison (None: all evaluated)
        "strength_size": (75, None),  # quick: 75 digits keep the quick book within its 20 minutes
    },
    "05_in_distribution": {
        **_ROBUST_MODELS,
        **_ROBUST_EVALUATION,
        # generated test images attacked per model (None: the whole test set); quick: 30, a quarter
        # fewer than the 40 before, to keep the quick book within its 20 minutes
        "indist_size": (30, None),
        # The attack: "alm", the augmented Lagrangian in latent space, with a budget in
        # propagations per example; "cw", (5.2) with Appendix B.2's schedule.
        "indist_method": ("alm", "alm"),
        # quick: 500, which on the quick TRADES models measured left the median distance 2-8% above 1,000's
        # on the chapter's compared digits (its budget table shows by how much); 1,000 was a quarter
        # of the quick book
        "indist_budget": (500, 10_000),
        # (5.2), Appendix B.2: 5 rounds of up to 10,000 Adam iterations; a round ends early once it has converged
        "indist_search_steps": (5, 5),
        "indist_max_iterations": (200, 10_000),
        "indist_fit_steps": (300, 1000),  # Adam steps of argmin_z ||G(z, y) - x|| per random start
        "indist_fit_restarts": (3, 3),
        # The chapter's attacks compared by distance against budget (propagations per digit)
        # on TRADES' last model: at most this many correctly classified digits, these budgets.
        "indist_bench_size": (8, 500),  # quick: 8 digits keep the quick book within its 20 minutes
        "indist_bench_budgets": ([100, 500, 1000], [100, 1000, 10_000, 50_000]),
    },
    # Intrinsic robustness bracketed: half-spaces fitted on bracket_fit generated digits, their measures counted
    # on bracket_eval fresh ones, at the paper's alpha, the best classifier's risk and these further alphas.
    "06_bracket": {
        "bracket_fit": (6000, 20_000),
        "bracket_eval": (30_000, 100_000),
        "bracket_alphas": ([0.005, 0.05, 0.1, 0.2, 0.35, 0.5], [0.005, 0.05, 0.1, 0.2, 0.35, 0.5]),
        "device": ("cpu", "auto"),
    },
    # A generator defined on the page, taken end to end (seconds on a CPU in either profile's sizes).
    "07_your_generator": {
        "own_sizes": ([3000, 500], [20_000, 2000]),
        "own_epochs": (5, 20),
        "own_radius": (1.0, 1.0),
        "own_samples": (30, 200),
        "own_neighbors": (300, 2000),
        "own_attack_size": (60, 500),
        "own_attack_iterations": (300, 10_000),
    },
}
# Chapters that build the MNIST generator, and those that run Algorithm 1, take the
# profile's recipe and settings as parameters too.
_USES_ACGAN = ("02_generators", "03_lipschitz", "04_robust", "05_in_distribution", "06_bracket")
_USES_ALGORITHM1 = ("03_lipschitz",)


def _profile(name: str, description: str, column: int, sizes: Mapping[str, tuple[int, int]], acgan: ACGANRecipe,
             lipschitz: Algorithm1Settings, overrides: Mapping[str, Any] | None = None) -> Profile:
    """A profile from one column of :data:`_CHAPTER_VALUES` (0 quick, 1 paper), ``overrides``
    replacing a value in every chapter that has the parameter."""
    chapters = {}
    for chapter, values in _CHAPTER_VALUES.items():
        params: dict[str, Any] = {}
        if chapter in _USES_ACGAN:
            params.update(acgan_parameters(acgan))
        if chapter in _USES_ALGORITHM1:
            params.update(lipschitz_parameters(lipschitz))
        params.update({k: v[column] for k, v in values.items()})
        params.update({k: v for k, v in (overrides or {}).items() if k in params})
        chapters[chapter] = MappingProxyType(params)
    return Profile(name=name, description=description, seed=0, dataset_sizes=sizes, acgan=acgan,
                   lipschitz=lipschitz, chapters=MappingProxyType(chapters))


QUICK = _profile("quick", "CPU-sized runs for CI and laptops (minutes for the whole book)", 0, _QUICK_SIZES,
                 _QUICK_ACGAN, _QUICK_LIPSCHITZ)
PAPER = _profile("paper", "the paper's settings (Tables 4 and 5, Section 5.2); meant for a GPU", 1, _PAPER_SIZES,
                 _PAPER_ACGAN, _PAPER_LIPSCHITZ)

# The recorded CPU-scale profile: Table 4's settings (optimisers, rates, beta, the inner
# step size, the learning-rate schedule's shape) scaled to what two CPU cores finish in
# hours, evaluated as the paper evaluates (Table 5's 100 PGD steps on 10,000 generated test
# digits, 3 trials). Its generator is the quick profile's ACGAN, whose constants it measures
# with a larger Algorithm 1 budget; everything else is the quick profile's.
_CPU_SIZES = {"mnist": (20_000, 10_000), "imagenet10": _QUICK_SIZES["imagenet10"]}
_CPU_LIPSCHITZ = Algorithm1Settings(num_samples=200, num_neighbors=1000, trials=3)
_CPU_VALUES: dict[str, Any] = {
    "mnist_sizes": list(_CPU_SIZES["mnist"]),
    "robust_epochs": 20, "robust_inner_steps": 10, "robust_ramp_epochs": 2,
    "lp_epochs": 20, "lp_ramp_epochs": 7, "lp_train_size": 10_000,  # the ramp: 20 of Table 4's 60 epochs, scaled
    "lp_proj": 50, "snapshot_every": 5,
    "pgd_steps": 100, "eval_size": None, "certify_size": 1000, "robust_trials": 3, "restarts": 5,
    "indist_size": 400, "indist_budget": 1000, "strength_size": None,
}
CPU = _profile("cpu", "Table 4's settings scaled to hours on two CPU cores (the recorded CPU-scale run)", 0,
               _CPU_SIZES, _QUICK_ACGAN, _CPU_LIPSCHITZ, overrides=_CPU_VALUES)

PROFILES: Mapping[str, Profile] = MappingProxyType({p.name: p for p in (QUICK, CPU, PAPER)})


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


#: Parameters that exclude each other: giving one (not None) sets the others to None.
EXCLUSIVE: tuple[tuple[str, ...], ...] = (("acgan_epochs", "acgan_steps"),)


def resolve_parameters(chapter: str, profile: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The values of ``chapter``'s parameters: those in ``given`` that are not None, the profile's otherwise.

    A chapter's ``parameters`` cell sets every profiled parameter to None, so that each
    value is written once, in its profile; the chapter then calls
    ``globals().update(resolve_parameters(chapter, profile, globals()))``. The book's
    pipeline calls it with the ``--param`` overrides, and papermill injects the result,
    so nothing is None in the chapter and ``given`` wins. Of the parameters in
    :data:`EXCLUSIVE` (an ACGAN's length in epochs or in steps), one that is given
    replaces the profile's choice: the others become None unless given too. The values
    are copies: changing them changes no profile.

    Example:
        >>> resolve_parameters("01_theory", "quick", {"seed": None, "mc_samples": 10})["mc_samples"]
        10
        >>> resolve_parameters("01_theory", "quick", {"seed": None})["seed"]
        0
        >>> p = resolve_parameters("02_generators", "quick", {"acgan_steps": 100})
        >>> p["acgan_epochs"], p["acgan_steps"]
        (None, 100)
    """
    values = copy.deepcopy(get_profile(profile).parameters(chapter))
    chosen = {name: value for name, value in given.items() if name in values and value is not None}
    for group in EXCLUSIVE:
        if any(name in chosen for name in group):
            values.update({name: None for name in group if name in values})
    values.update(chosen)
    return values
