"""In-distribution attacks compared as the field compares minimum-norm attacks: distance against budget.

An attack's budget is counted in propagations per example (one forward and one backward
pass of generator and classifier); at each budget the benchmark reads every example's
best distance so far and reports the median and mean distance and the success at each
eps (AttackBench; adv-lib's ``run_attack``). Three attacks run on the same correctly
classified digits from the same fitted latents:

* ``"(5.2), Appendix B.2"``: :func:`~intrinsic_rob.attacks.in_distribution_attack` with the
  fixed schedule (5 rounds of budget / 5 iterations, no early stop), one run per budget:
  the paper's method and the baseline;
* ``"original schedule"``: :func:`~intrinsic_rob.attacks.original_in_distribution_attack`
  (4 rounds of 100 iterations, its own stop rule), once;
* ``"augmented Lagrangian"``: :func:`~intrinsic_rob.attacks.latent_min_norm_attack`, one run
  per budget, as a user who asks for that budget runs it (it plans its runs for the
  budget, so a run read part-way is not the same).

The baseline is deterministic and its largest budget costs an hour on two cores, so its
distances are recorded (:func:`baseline_record`) chunk by chunk as they are computed and
reused when the generator's and the classifier's weights, the digits, the latent fit and
the chunk size are the same.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import pandas as pd
import torch
import torch.nn as nn

from intrinsic_rob.core.errors import InputError
from intrinsic_rob.core.progress import progress_bar
from intrinsic_rob.core.validation import check_value

if TYPE_CHECKING:
    from intrinsic_rob.pipeline.run import Run

BUDGETS = (100, 1_000, 10_000, 50_000)
EPSILONS = (1.0, 2.0, 3.0)
BASELINE = "(5.2), Appendix B.2"
ORIGINAL = "original schedule"
LAGRANGIAN = "augmented Lagrangian"
#: The targets: at TARGET_BUDGET the new attack's mean and median distance at most the
#: baseline's at its largest budget and its success at TARGET_EPS at least the baseline's.
TARGET_BUDGET, TARGET_EPS, STRETCH_BUDGET, STRETCH_SLACK = 10_000, 2.0, 1_000, 0.02


@dataclass(frozen=True)
class Target:
    """What a target asks of the augmented Lagrangian at ``budget`` propagations per example: mean
    and median distance at most ``1 + slack`` times the baseline's at its largest budget, and, where
    ``success`` is set, success within :data:`TARGET_EPS` at least the baseline's."""

    budget: int
    slack: float
    success: bool


#: The benchmark's targets by name: :func:`targets` checks them, and the findings word them from these.
TARGETS = {"target": Target(TARGET_BUDGET, 0.0, True), "stretch": Target(STRETCH_BUDGET, STRETCH_SLACK, False)}


def summarise_distances(distance: torch.Tensor, eps: Sequence[float] = EPSILONS) -> dict[str, float]:
    """Median and mean distance, share found and success at each eps of (B,) best distances.

    The median counts an example with nothing found as infinitely far (so it is inf when
    half or more were not found); the mean is over the examples found.

    Example:
        >>> s = summarise_distances(torch.tensor([0.5, 1.5, 2.5, float("inf")]), eps=(1.0, 2.0))
        >>> s["median"], s["mean"], s["found"], s["success_eps1"], s["success_eps2"]
        (2.0, 1.5, 0.75, 0.25, 0.5)
    """
    d = distance.detach().double().cpu()
    if d.numel() == 0:
        raise InputError("distance holds no examples")
    found = torch.isfinite(d)
    ordered = torch.sort(d).values  # inf (not found) last
    n = d.numel()
    median = float(ordered[n // 2]) if n % 2 else float((ordered[n // 2 - 1] + ordered[n // 2]) / 2)
    out = {"median": median, "mean": float(d[found].mean()) if bool(found.any()) else float("nan"),
           "found": float(found.double().mean())}
    for e in eps:
        out[f"success_eps{e:g}"] = float((d <= e).double().mean())
    return out


def budget_excess(table: pd.DataFrame, budget: int | None) -> float:
    """How much farther the augmented Lagrangian's median distance lies at ``budget`` than at the largest budget
    of ``table`` (a :func:`compare_budgets` table): 0.025 is 2.5% farther. NaN where ``table`` has no row at
    ``budget`` (or ``budget`` is None: (5.2) runs rounds, not a budget).

    Example:
        >>> t = pd.DataFrame({"attack": [LAGRANGIAN] * 2, "budget": [500, 1000], "median": [2.05, 2.0]})
        >>> round(budget_excess(t, 500), 3), budget_excess(t, 100)
        (0.025, nan)
    """
    median = table[table["attack"] == LAGRANGIAN].set_index("budget")["median"]
    if budget is None or budget not in median.index:
        return float("nan")
    return float(median.loc[budget] / median.loc[median.index.max()] - 1.0)


@dataclass
class BudgetBenchmark:
    """Per-example distances of each attack at each budget, and their summary.

    Attributes:
        distances: {attack: {budget: (B,) best distances}} on the attacked digits.
        seconds: {attack: wall time of its runs}.
        table: one row per attack and budget: attack, budget, median, mean, found,
            success_eps<e> for each eps.
        verdict: the targets (:data:`TARGET_BUDGET`, :data:`STRETCH_BUDGET`): met or not,
            and by how much.
    """

    distances: dict
    seconds: dict
    eps: tuple
    table: pd.DataFrame = field(init=False)
    verdict: dict = field(init=False)

    def __post_init__(self) -> None:
        rows = [{"attack": attack, "budget": budget, **summarise_distances(d, self.eps)}
                for attack, by_budget in self.distances.items() for budget, d in sorted(by_budget.items())]
        self.table = pd.DataFrame(rows)
        self.verdict = targets(self.table)


def targets(table: pd.DataFrame) -> dict:
    """Whether the augmented Lagrangian meets the targets against the baseline's largest budget.

    Target: at :data:`TARGET_BUDGET`, mean and median distance no larger than the
    baseline's at its largest budget, success at :data:`TARGET_EPS` no smaller. Stretch:
    at :data:`STRETCH_BUDGET`, mean and median within :data:`STRETCH_SLACK` of that.
    Each entry says by how much (ratios of ours to the baseline's). Missing rows give
    ``None`` for that target.
    """
    base = table[table["attack"] == BASELINE]
    ours = table[table["attack"] == LAGRANGIAN].set_index("budget")
    if base.empty or ours.empty:
        return {"target": None, "stretch": None}
    reference = base.loc[base["budget"].idxmax()]
    key = f"success_eps{TARGET_EPS:g}"
    out = {"baseline_budget": int(reference["budget"])}
    for name, goal in TARGETS.items():
        budget = goal.budget
        if budget not in ours.index:
            out[name] = None
            continue
        row = ours.loc[budget]
        ratios = {s: float(row[s] / reference[s]) if reference[s] > 0 else float("inf") for s in ("mean", "median")}
        met = all(r <= 1.0 + goal.slack for r in ratios.values())
        if goal.success:
            met = met and float(row[key]) >= float(reference[key])
        out[name] = {"budget": budget, "met": bool(met), "mean_ratio": ratios["mean"],
                     "median_ratio": ratios["median"], key: float(row[key]), f"baseline_{key}": float(reference[key])}
    return out


def baseline_distances(generator: nn.Module, classifier: nn.Module, x: torch.Tensor, y: torch.Tensor,
                       z0: torch.Tensor, budgets: Sequence[int], *, rounds: int = 5, seed: int = 0,
                       chunk: int | None = None, done: dict[int, dict[int, float]] | None = None,
                       on_chunk: Callable[[dict[int, dict[int, float]], float], None] | None = None,
                       progress: bool = False) -> dict[int, torch.Tensor]:
    """(5.2) with Appendix B.2's fixed schedule at each budget: ``rounds`` rounds of budget / rounds iterations.

    The examples are attacked ``chunk`` at a time (default: all at once); each example's
    run depends only on its own digit and latent, so a run can stop after any chunk and
    resume. ``done`` ({budget: {example index: distance}}) holds what an earlier run
    finished; only the rest is attacked, and ``on_chunk(done, seconds)`` is called after
    each chunk (the benchmark records it there). ``progress`` shows a bar of
    propagations per example, summed over the budgets still to run.

    Returns:
        {budget: (B,) distances}, in ``budgets``' order.
    """
    from intrinsic_rob.attacks import in_distribution_attack

    n = x.shape[0]
    chunk = n if chunk is None else int(chunk)
    check_value("chunk", chunk, low=1, integer=True)
    done = {int(b): dict(v) for b, v in (done or {}).items()}
    todo = [(int(b), [i for i in range(lo, min(lo + chunk, n)) if i not in done.get(int(b), {})])
            for b in budgets for lo in range(0, n, chunk)]
    todo = [(b, part) for b, part in todo if part]
    with progress_bar(total=sum(b * len(part) for b, part in todo), desc=f"{BASELINE}", unit="prop",
                      unit_scale=True, enabled=progress) as bar:
        for budget, part in todo:
            start = time.perf_counter()
            index = torch.tensor(part)
            res = in_distribution_attack(generator, classifier, x[index], y[index], z_init=z0[index],
                                         search_steps=rounds, max_iterations=max(1, budget // rounds),
                                         early_stop=False, seed=seed)
            done.setdefault(budget, {}).update(zip(part, res.distance.cpu().tolist()))
            bar.update(budget * len(part))
            if on_chunk is not None:
                on_chunk(done, time.perf_counter() - start)
    return {int(b): torch.tensor([done[int(b)][i] for i in range(n)], dtype=torch.float32) for b in budgets}


def compare_budgets(generator: nn.Module, classifier: nn.Module, x: torch.Tensor, y: torch.Tensor,
                    z0: torch.Tensor, *, budgets: Sequence[int] = BUDGETS, eps: Sequence[float] = EPSILONS,
                    baseline: dict[int, torch.Tensor] | None = None, lagrangian_budget: int | None = None,
                    seed: int = 0) -> BudgetBenchmark:
    """The three attacks of the module's docstring on (x, y) from the latents z0.

    ``baseline`` ({budget: (B,) distances}, from :func:`baseline_record`) skips the
    baseline's runs. The augmented Lagrangian runs once at every budget up to
    ``lagrangian_budget`` (default: the largest).
    """
    from intrinsic_rob.attacks import latent_min_norm_attack, original_in_distribution_attack

    budgets = sorted({int(b) for b in budgets})
    for b in budgets:
        check_value("budgets", b, low=1, integer=True)
    top = budgets[-1] if lagrangian_budget is None else int(lagrangian_budget)
    check_value("lagrangian_budget", top, low=1, integer=True)
    distances, seconds = {}, {}
    start = time.perf_counter()
    if baseline is None:
        baseline = baseline_distances(generator, classifier, x, y, z0, budgets, seed=seed)
        seconds[BASELINE] = time.perf_counter() - start
    distances[BASELINE] = {b: baseline[b] for b in budgets if b in baseline}
    start = time.perf_counter()
    original = original_in_distribution_attack(generator, classifier, x, y, z_init=z0)
    seconds[ORIGINAL] = time.perf_counter() - start
    distances[ORIGINAL] = {int(round(original.evaluations / max(x.shape[0], 1))): original.distance.cpu()}
    marks = [b for b in budgets if b <= top]
    start = time.perf_counter()
    distances[LAGRANGIAN] = {b: latent_min_norm_attack(generator, classifier, x, y, z_init=z0, budget=b,
                                                       seed=seed).distance.cpu() for b in marks}
    seconds[LAGRANGIAN] = time.perf_counter() - start
    return BudgetBenchmark(distances, seconds, tuple(float(e) for e in eps))


def baseline_record(path: Path, identity: dict) -> tuple[dict[int, dict[int, float]], float]:
    """The baseline distances recorded at ``path`` (a CSV: digit, budget, distance, with a
    JSON beside it) if its identity (weights' digests, digits, latent fit, chunk) is
    ``identity``, as ({budget: {digit: distance}}, the seconds their runs took); ({}, 0.0)
    when there is none or it is another setting's. A record may hold only some budgets or
    digits (a run stopped part-way).
    """
    import json

    meta_path = Path(path).with_suffix(".json")
    if not Path(path).is_file() or not meta_path.is_file():
        return {}, 0.0
    meta = json.loads(meta_path.read_text())
    if meta.get("identity") != identity:
        return {}, 0.0
    frame = pd.read_csv(path)
    distances = {int(b): dict(zip(part["digit"].astype(int), part["distance"].astype(float)))
                 for b, part in frame.groupby("budget")}
    return distances, float(meta.get("seconds", 0.0))


def write_baseline_record(path: Path, distances: dict[int, dict[int, float]], identity: dict, seconds: float,
                          run: "Run | None" = None) -> Path:
    """Record the baseline's distances ({budget: {digit: distance}}, complete or not) with
    their identity, the seconds spent on them and provenance (see :func:`baseline_record`; ``run`` names
    the commit, default git's in the record's folder). Written atomically: a run killed while writing leaves the previous record."""
    from intrinsic_rob.pipeline.results import write_table

    frame = pd.DataFrame([{"digit": int(i), "budget": int(b), "distance": float(v)}
                          for b, by_digit in sorted(distances.items()) for i, v in sorted(by_digit.items())],
                         columns=["digit", "budget", "distance"])
    path = Path(path)
    from intrinsic_rob.pipeline.run import Run

    run = run or Run(root=path.parent, profile="quick", results=path.parent, artifacts=path.parent / "artifacts")
    return write_table(frame, path.stem, run, folder=path.parent,
                       extra={"identity": identity, "seconds": round(seconds, 1),
                              "attack": f"{BASELINE}: in_distribution_attack, 5 rounds of budget/5 iterations, "
                                        "early_stop=False"})


def identity_of(generator: nn.Module, classifier: nn.Module, x: torch.Tensor, y: torch.Tensor,
                fit: dict, chunk: int | None = None) -> dict:
    """What makes two baseline runs the same: the weights, the digits, the latent fit and
    the chunk the examples are attacked in (batch size changes the rounding). Budgets are
    not part of it: each budget's run is recorded on its own."""
    from intrinsic_rob.pipeline.results import module_digest, tensors_digest

    return {"generator_sha256": module_digest(generator), "classifier_sha256": module_digest(classifier),
            "digits_sha256": tensors_digest({"x": x.cpu(), "y": y.cpu()}), "fit": fit,
            "chunk": int(x.shape[0] if chunk is None else chunk)}


ADV_LIB_VERSION = "0.2.8"


def _adv_lib_fmn():
    """adv-lib's FMN function, loaded from its own file.

    ``adv_lib.attacks``' package imports every attack, and some of them need torchvision
    and visdom, which this project does not install; FMN itself needs only torch and
    ``adv_lib.utils``, so its module is loaded by path.
    """
    import importlib.util

    try:
        import adv_lib
    except ImportError:
        raise InputError(f"the image-space cross-check needs adv-lib, a development dependency: "
                         f"pip install --no-deps adv-lib=={ADV_LIB_VERSION}") from None
    path = Path(adv_lib.__file__).parent / "attacks" / "fast_minimum_norm.py"
    spec = importlib.util.spec_from_file_location("intrinsic_rob_adv_lib_fmn", path)
    module = importlib.util.module_from_spec(spec)
    import warnings

    with warnings.catch_warnings():  # adv-lib imports distutils, deprecated in Python 3.10+
        warnings.simplefilter("ignore", DeprecationWarning)
        spec.loader.exec_module(module)
    return module.fmn


def image_space_distances(classifier: nn.Module, x: torch.Tensor, y: torch.Tensor, *, steps: int = 1000,
                          batch_size: int = 256) -> torch.Tensor:
    """Minimal l2 adversarial perturbations in image space by adv-lib's FMN (Pintor et al., 2021).

    An independent upper estimate of each example's image-space minimal distance. Every
    in-distribution adversarial example G(z, y) is also an image-space one (an image in
    [0, 1] that the classifier gets wrong), so a correct in-distribution distance is never
    below the image-space minimum; see :func:`cross_check`.

    Args:
        classifier: (B, C, H, W) images in [0, 1] -> (B, K) logits.
        x: (B, C, H, W) images in [0, 1]. y: (B,) labels.
        steps: FMN's steps (one propagation of the classifier each).

    Returns:
        (B,) ``||x_adv - x||_2`` on the CPU, measured on the returned images; 0 where the
        classifier already misclassifies x; inf where FMN's image is not misclassified.

    Example:
        >>> clf = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        >>> d = image_space_distances(clf, torch.full((3, 1, 2, 2), 0.5), torch.tensor([0, 1, 0]), steps=50)
        >>> tuple(d.shape)
        (3,)
    """
    from intrinsic_rob.core.devices import device_of, eval_mode, frozen_parameters

    check_value("steps", steps, low=1, integer=True)
    check_value("batch_size", batch_size, low=1, integer=True)
    if x.numel() and (float(x.min()) < 0 or float(x.max()) > 1):
        raise InputError(f"x must hold images in [0, 1], got [{float(x.min()):.3g}, {float(x.max()):.3g}]")
    fmn = _adv_lib_fmn()
    device = device_of(classifier)
    parts = []
    with eval_mode(classifier), frozen_parameters(classifier):
        for start in range(0, x.shape[0], batch_size):
            xb, yb = x[start:start + batch_size].to(device), y[start:start + batch_size].to(device)
            x_adv = fmn(classifier, xb, yb, norm=2, steps=steps).detach()
            with torch.no_grad():  # judged in the batch FMN judged it in: a point on the boundary keeps its side
                wrong = classifier(x_adv).argmax(1) != yb
            d = (x_adv - xb).flatten(1).norm(dim=1)
            parts.append(torch.where(wrong, d, torch.full_like(d, float("inf"))).cpu())
    return torch.cat(parts) if parts else torch.empty(0)


def cross_check(in_distribution: torch.Tensor, image_space: torch.Tensor, *, tolerance: float = 1e-3) -> dict:
    """Examples whose in-distribution distance lies below the image-space one (beyond ``tolerance``).

    Such an example shows that the image-space attack was weak there (its in-distribution
    perturbation is an image-space perturbation the image-space attack missed), not that
    the in-distribution attack is wrong; it is reported, not hidden.

    Example:
        >>> r = cross_check(torch.tensor([1.0, 2.0, float("inf")]), torch.tensor([0.5, 2.5, 1.0]))
        >>> r["violations"], r["examples"], r["indices"]
        (1, 3, [1])
    """
    check_value("tolerance", tolerance, low=0)
    if in_distribution.shape != image_space.shape:
        raise InputError(f"in_distribution and image_space must have the same shape, got "
                         f"{tuple(in_distribution.shape)} and {tuple(image_space.shape)}")
    below = in_distribution.double().cpu() < image_space.double().cpu() - tolerance
    ratio = in_distribution.double() / image_space.double()
    both = torch.isfinite(ratio) & (image_space > 0)
    return {"violations": int(below.sum()), "examples": int(below.numel()),
            "indices": torch.nonzero(below).flatten().tolist(), "tolerance": tolerance,
            "median_ratio": float(ratio[both].median()) if bool(both.any()) else float("nan")}


def bench_in_dist_budgets(examples: int = 64, budgets: Sequence[int] = BUDGETS, eps: Sequence[float] = EPSILONS,
                          method: str = "trades", seed: int = 0, lagrangian_budget: int | None = None,
                          image_steps: int | None = 1000, record: Path | None = None, *, run: Run,
                          chunk: int = 16, progress: bool = True) -> tuple[BudgetBenchmark, dict]:
    """:func:`compare_budgets` on the quick profile's ACGAN and ``method`` classifier (the book's).

    The first ``examples`` generated test digits the classifier gets right are attacked
    from latents fitted as Appendix B.2 does for MNIST (:func:`~intrinsic_rob.attacks.fit_latent`,
    seeded by ``seed``). The baseline's distances are read from ``record`` (default
    ``results/quick/bench_in_dist_baseline.csv``) where it holds this very setting; what
    it lacks is run ``chunk`` digits at a time and recorded there after every chunk, so
    that a stopped run resumes where it was (``progress`` shows its bar). With ``image_steps``, adv-lib's FMN
    (:func:`image_space_distances`) runs that many steps on the same digits and every
    attack's distances at its largest budget are checked against it (:func:`cross_check`).
    ``run`` (the book's root, for the quick profile) says where the cached ACGAN and
    classifier are and under which root the default record lies.

    Returns:
        (the benchmark, what was attacked: natural accuracy, digits, the budgets whose
        baseline was read from the record, the latent fit's seconds, the cross-checks by attack).
    """
    from intrinsic_rob.attacks import fit_latent
    from intrinsic_rob.core.devices import pin_allocator
    from intrinsic_rob.data.datasets import generated_mnist
    from intrinsic_rob.models.classifiers import predict
    from intrinsic_rob.pipeline.experiments import robust_model
    from intrinsic_rob.pipeline.profiles import get_profile, mnist_data, robust_training

    check_value("examples", examples, low=1, integer=True)
    check_value("chunk", chunk, low=1, integer=True)
    for b in budgets:
        check_value("budgets", b, low=1, integer=True)
    if image_steps is not None:
        check_value("image_steps", image_steps, low=1, integer=True)
        _adv_lib_fmn()  # fail before the hour of attacks, not after
    pin_allocator()
    root = run.root
    quick = get_profile("quick")
    values = quick.parameters("05_in_distribution")
    quick_run = run.with_profile(quick.name)
    mnist = generated_mnist(mnist_data(values), quick_run)
    gen, test = mnist.source.generator.eval(), mnist.test
    model = robust_model(robust_training(values), "mnist", method, quick.seed, mnist, quick_run).model
    right = predict(model, test.x) == test.y
    pick = torch.nonzero(right).flatten()[:examples]
    if pick.numel() < examples:
        raise InputError(f"examples must be at most {int(right.sum())} (the test digits the model gets right), "
                         f"got {examples}")
    x, y = test.x[pick], test.y[pick]
    fit = {"steps": 1000, "restarts": 3, "lr": 0.01, "seed": seed}
    start = time.perf_counter()
    z0, _ = fit_latent(gen, x, y, steps=fit["steps"], restarts=fit["restarts"], lr=fit["lr"], seed=seed)
    fit_seconds = time.perf_counter() - start
    record = Path(record) if record is not None else root / "results" / "quick" / "bench_in_dist_baseline.csv"
    identity = identity_of(gen, model, x, y, fit, chunk)
    recorded, recorded_seconds = baseline_record(record, identity)
    reused = sorted(b for b in budgets if len(recorded.get(int(b), {})) == examples)
    spent = [recorded_seconds]

    def save(done: dict[int, dict[int, float]], seconds: float) -> None:
        spent[0] += seconds
        write_baseline_record(record, done, identity, spent[0], run)

    baseline = baseline_distances(gen, model, x, y, z0, budgets, seed=seed, chunk=chunk, done=recorded,
                                  on_chunk=save, progress=progress)
    bench = compare_budgets(gen, model, x, y, z0, budgets=budgets, eps=eps, baseline=baseline,
                            lagrangian_budget=lagrangian_budget, seed=seed)
    bench.seconds[BASELINE] = spent[0]
    checks = {} if image_steps is None else _image_space_checks(bench, model, x, y, image_steps, eps)
    shown = record.relative_to(root) if record.is_relative_to(root) else record
    about = {"natural_accuracy": float(right[: max(int(pick[-1]) + 1, 1)].float().mean()), "examples": examples,
             "method": method, "baseline_reused": reused, "fit_seconds": fit_seconds,
             "record": str(shown), "threads": torch.get_num_threads(), "cross_check": checks,
             "generator": mnist.source.description, "classifier_sha256": identity["classifier_sha256"]}
    return bench, about


def _image_space_checks(bench: BudgetBenchmark, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                        image_steps: int, eps: Sequence[float]) -> dict:
    """adv-lib's FMN in image space on the same digits: each attack's cross-check at its largest budget
    (:func:`cross_check`) and FMN's own summary; its seconds go into ``bench.seconds``."""
    start = time.perf_counter()
    image = image_space_distances(model, x, y, steps=image_steps)
    bench.seconds["FMN (adv-lib, image space)"] = time.perf_counter() - start
    checks = {attack: {"budget": max(by_budget), **cross_check(by_budget[max(by_budget)], image)}
              for attack, by_budget in bench.distances.items() if by_budget}
    checks["FMN (adv-lib, image space)"] = {"steps": image_steps, **summarise_distances(image, eps)}
    return checks


def plot_budgets(table: pd.DataFrame, ax=None):  # noqa: ANN001, ANN201 - a matplotlib Axes
    """Median best-so-far distance against budget (propagations per example, log axis), one line per attack.

    ``table`` is :attr:`BudgetBenchmark.table` (or the CSV written from it). Returns the Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for attack, part in table.groupby("attack", sort=False):
        part = part.sort_values("budget")
        style = dict(marker="o") if len(part) > 1 else dict(marker="s", markersize=8, linestyle="none")
        ax.plot(part["budget"], part["median"], label=attack, **style)
    ax.set_xscale("log")
    ax.set_xlabel("budget (propagations per example, log scale)")
    ax.set_ylabel("median l2 distance of the best example so far")
    ax.legend(frameon=False)
    ax.grid(True, which="both", alpha=0.3)
    return ax


__all__ = ["BASELINE", "BUDGETS", "BudgetBenchmark", "budget_excess", "EPSILONS", "LAGRANGIAN", "ORIGINAL", "baseline_distances",
           "baseline_record", "bench_in_dist_budgets", "compare_budgets", "cross_check", "identity_of",
           "image_space_distances", "plot_budgets", "summarise_distances", "targets", "write_baseline_record"]
