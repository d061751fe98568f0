"""Table 3 as a recorded profile measured it: the committed trials, their provenance, the paper beside them.

A recorded run (the ``cpu`` profile, say) is the Table 3 sweep of
``chapters/points/robust_trial.py`` (``results/<profile>/sweeps/table3_mnist/``), run once
and then committed. A sweep's point folders are working files, so :func:`record_table3`
turns the finished points into the record: ``results/<profile>/table3_trials_mnist.csv``
(every trial's natural, PGD and certified accuracy) and ``table3_provenance_mnist.csv``
(per trial: wall time, host, versions, commit, machine, the generator's and the trained
weights' sha256). :func:`recorded_table3` reads that record back as it was committed
(ignoring $INTRINSIC_ROB_RESULTS: it is the project's record, not this process's output);
:func:`compare_with_paper` sets its mean ± std beside Table 3's printed values. Chapter 4,
Chapter 8 and the README's findings all read it through here.

Figure 2 is recorded the same way: one sweep of ``chapters/points/figure2_model.py`` per
method (``results/<profile>/sweeps/figure2_mnist_<method>/``, the kept models of trial 0)
becomes, through :func:`record_figure2`, ``figure2_points_mnist.csv`` (each model's risk and
robustness), ``figure2_outcomes_mnist.csv`` (digit by digit, which attack fooled it) and
``figure2_provenance_mnist.csv``; :func:`recorded_figure2` reads them back for Chapter 5.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from intrinsic_rob import paper
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.models.methods import METHODS

if TYPE_CHECKING:
    from intrinsic_rob.pipeline.run import Run

SWEEP = "table3_mnist"
TRIAL_TABLE = "table3_trial"
TRIALS = "table3_trials_mnist"
PROVENANCE = "table3_provenance_mnist"
BOUND_ROWS = "table3_bound_rows_mnist"
#: The recorded Lipschitz constants a profile's bound rows are computed from (``intrinsic-rob lipschitz``).
LIPSCHITZ = {"sample": "lipschitz_mnist_sample", "gradient": "lipschitz_mnist_gradient"}
_ORDER = {m: k for k, m in enumerate(METHODS)}
FIGURE2_SWEEP = "figure2_mnist_{method}"  # one sweep per method, as Chapter 5 runs them
FIGURE2_POINTS, FIGURE2_OUTCOMES, FIGURE2_PROVENANCE = ("figure2_points_mnist", "figure2_outcomes_mnist",
                                                        "figure2_provenance_mnist")
FIGURE2_PROVENANCE_COLUMNS = ["method", "epoch", "seconds", "host", "commit", "device", "torch", "python",
                              "generator", "generator_sha256", "weights_sha256", "attacked", "certified_on",
                              "pgd_steps", "in_distribution_settings", "cpu_kernels"]
PROVENANCE_COLUMNS = ["method", "trial", "seconds", "host", "commit", "device", "torch", "python", "generator",
                      "generator_sha256", "training_data", "weights_sha256", "evaluated", "certified_on",
                      "pgd_steps", "cpu_kernels"]


@dataclass(frozen=True)
class RecordedTable3:
    """A recorded profile's Table 3 trials.

    Attributes:
        profile: the profile that ran them.
        trials: one row per method, trial, metric and eps (columns method, trial, eps,
            metric, value), metric one of natural, pgd, certified.
        provenance: one row per method and trial (:data:`PROVENANCE_COLUMNS`).
    """

    profile: str
    trials: pd.DataFrame
    provenance: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Mean, standard deviation (over trials; 0 for one) and count per method, metric and eps."""
        out = self.trials.groupby(["method", "metric", "eps"], sort=False)["value"].agg(["mean", "std", "count"])
        out = out.reset_index()
        out["std"] = out["std"].fillna(0.0)
        return out


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Table 3's method order, then trial."""
    return frame.sort_values(["method", "trial"], kind="stable",
                             key=lambda s: s.map(_ORDER) if s.name == "method" else s).reset_index(drop=True)


def _finished_points(points_dir: Path, profile: str, tables: tuple[str, ...]) -> list[tuple[dict, list, list]]:
    """Each finished point (a ``done.json``) of a sweep's ``points_dir``: its parameters, its ``tables`` (read
    from ``results/<profile>/`` in its folder) and its provenance; unfinished points are left out."""
    from intrinsic_rob.pipeline.sweep import point_provenance

    found = []
    for done_path in sorted(points_dir.glob("*/done.json")) if points_dir.is_dir() else []:
        frames = []
        for name in tables:
            path = done_path.parent / "results" / profile / f"{name}.csv"
            if not path.is_file():
                raise InputError(f"{done_path.parent} is marked done but holds no {name}.csv")
            frames.append(pd.read_csv(path))
        found.append((json.loads(done_path.read_text())["point"], frames, point_provenance(done_path.parent)))
    return found


def finished_trials(profile: str, root: Path) -> RecordedTable3 | None:
    """The finished points of ``profile``'s Table 3 sweep, read from its point folders; None if there are none.

    Unfinished points (no ``done.json``) are left out, so a run done in parts gives the
    trials it has.
    """
    points_dir = Path(root) / "results" / profile / "sweeps" / SWEEP / "points"
    rows, provenance = [], []
    for point, (table,), prov in _finished_points(points_dir, profile, (TRIAL_TABLE,)):
        provenance += prov
        rows.append(table.assign(method=point["method"], trial=int(point["trial"]))
                    [["method", "trial", "eps", "metric", "value"]])
    if not rows:
        return None
    prov = pd.DataFrame(provenance)
    prov = prov[prov["table"] == TRIAL_TABLE].reindex(columns=PROVENANCE_COLUMNS)
    return RecordedTable3(profile, _sorted(pd.concat(rows, ignore_index=True)), _sorted(prov))


def kernels_text(provenance: pd.DataFrame) -> str:
    """A sentence for readers when a record's rows ran on CPU kernels other than this copy's
    (:data:`~intrinsic_rob.core.kernels.KERNELS`); "" when every row names this copy's.

    Rows without a ``cpu_kernels`` entry were recorded before provenance named the kernels,
    on MKL's AVX2 branch: this copy trains another generator for the profile, so its next
    trials cannot join them.

    Example:
        >>> from intrinsic_rob.core.kernels import KERNELS
        >>> kernels_text(pd.DataFrame({"cpu_kernels": [KERNELS, KERNELS]}))
        ''
        >>> kernels_text(pd.DataFrame({"cpu_kernels": [None]})).startswith("These rows ran on earlier CPU kernels")
        True
        >>> kernels_text(pd.DataFrame({"cpu_kernels": [KERNELS, "other"]})).startswith("1 of these 2 rows")
        True
        >>> kernels_text(pd.DataFrame({"cpu_kernels": []}))
        ''
    """
    from intrinsic_rob.core.kernels import KERNELS

    named = provenance["cpu_kernels"] if "cpu_kernels" in provenance else pd.Series([None] * len(provenance))
    other = named[~named.eq(KERNELS)]
    if other.empty:
        return ""
    unnamed = other.isna().all()
    which = ("These rows" if len(other) == len(named) else f"{len(other)} of these {len(named)} rows")
    kernels = ("MKL's AVX2 branch, before provenance named the kernels" if unnamed
               else ", ".join(sorted(set(other.dropna().astype(str)))))
    return (f"{which} ran on earlier CPU kernels ({kernels}); this copy runs MKL's compatible branch, which "
            "trains another generator for the profile, so trials run with it start a new record rather than "
            "join these.")


def bound_rows(rec: RecordedTable3, root: Path) -> tuple[pd.DataFrame, dict] | None:
    """Table 3's bound rows for a recorded run, from its own generator's recorded constants; None without them.

    The constants are ``results/<profile>/lipschitz_mnist_{sample,gradient}.csv`` (written
    by ``intrinsic-rob lipschitz --profile <profile>``); their generator's sha256 must be
    the one every recorded trial was trained and evaluated on, or this is an
    :class:`InputError`. L_max per estimate is the largest per-class value over the
    trials at the recorded radius; the rows are :func:`intrinsic_rob.theory.bounds.theorem44_rows`
    at Table 3's alpha and at the best recorded classifier's risk, each at Table 3's delta and
    at the delta the latents behind each constant support
    (:func:`~intrinsic_rob.estimators.lipschitz.supported_delta_at_radius`; both forms, capped cells marked).
    Returns (rows, what they rest on).
    """
    from intrinsic_rob.estimators.lipschitz import samples_at_radius, supported_delta_at_radius
    from intrinsic_rob.pipeline.results import read_recorded_table
    from intrinsic_rob.theory import bounds

    found = {e: read_recorded_table(name, rec.profile, Path(root)) for e, name in LIPSCHITZ.items()}
    if any(v is None for v in found.values()):
        return None
    digests = {meta.get("generator_sha256") for _, meta in found.values()}
    trained_on = {d if isinstance(d, str) else "not recorded" for d in rec.provenance["generator_sha256"]}
    if len(digests) != 1 or digests != trained_on:
        raise InputError(f"the recorded Lipschitz constants are for the generator(s) {sorted(map(str, digests))}, "
                         f"the recorded trials for {sorted(map(str, trained_on))}: record both from one generator")
    radii = {float(t["radius"].iloc[0]) for t, _ in found.values()}
    if len(radii) != 1:
        raise InputError(f"the recorded Lipschitz constants are at different radii {sorted(radii)}")
    radius = radii.pop()
    lmax = {e: float(t["value"].max()) for e, (t, _) in found.items()}
    setting = paper.TABLE3_SETTINGS[0]
    natural = rec.summary()
    best_risk = 1.0 - float(natural[natural["metric"] == "natural"]["mean"].max())
    constants = pd.concat([t for t, _ in found.values()], ignore_index=True)
    samples, supported = samples_at_radius(constants, radius), supported_delta_at_radius(constants, radius)
    rows = bounds.theorem44_rows(lmax, radius=radius, eps=list(paper.TABLE3_EPSILONS),
                                 alphas={"paper": setting.alpha, "best classifier": best_risk},
                                 deltas={"paper": setting.delta, "supported": supported}, class_probs=np.full(10, 0.1))
    return rows, {"generator_sha256": digests.pop(), "lmax": lmax, "radius": radius,
                  "samples_per_class": samples, "supported_delta": supported, "lipschitz_tables": dict(LIPSCHITZ)}


def record_table3(run: Run, found: RecordedTable3 | None = None) -> list[Path]:
    """Write the record of ``run.profile``'s Table 3 sweep under the project's ``results/<profile>/``
    (``run.root``'s, whatever folder the run writes to); the paths written. ``found``: what
    :func:`finished_trials` already read, so that the point folders are read once.

    The trials and their provenance always; the bound rows (:func:`bound_rows`) when the
    profile's Lipschitz constants are recorded. Raises :class:`InputError` when no point
    of the sweep has finished.

    Example (after ``intrinsic-rob sweep chapters/points/robust_trial.py --profile cpu ...``)::

        record_table3(Run.from_environment(Path("."), "cpu"))   # results/cpu/table3_trials_mnist.csv, ...
    """
    from intrinsic_rob.pipeline.results import write_table

    root, profile = Path(run.root), run.profile
    rec = found if found is not None else finished_trials(profile, root)
    if rec is None:
        raise InputError(f"no finished point in results/{profile}/sweeps/{SWEEP}/points: run the sweep first")
    folder = root / "results" / profile
    extra = {"sweep": f"results/{profile}/sweeps/{SWEEP}", "notebook": "chapters/points/robust_trial.py"}
    written = [write_table(rec.trials, TRIALS, run, extra=extra, folder=folder),
               write_table(rec.provenance, PROVENANCE, run, extra=extra, folder=folder)]
    rows = bound_rows(rec, root)
    if rows is not None:
        written.append(write_table(rows[0], BOUND_ROWS, run, extra={**extra, **rows[1]}, folder=folder))
    return written


def recorded_table3(profile: str, root: Path) -> RecordedTable3 | None:
    """The committed record of ``profile``'s Table 3 trials under ``root``, or None if there is none.

    Example::

        rec = recorded_table3("cpu", Path("."))
        rec.summary()        # method, metric, eps, mean, std, count
        rec.provenance       # one row per trial: wall time, commit, weights' sha256, ...
    """
    trials_path = Path(root) / "results" / profile / f"{TRIALS}.csv"
    prov_path = Path(root) / "results" / profile / f"{PROVENANCE}.csv"
    if not trials_path.is_file():
        return None
    if not prov_path.is_file():
        raise InputError(f"results/{profile}/{TRIALS}.csv has no {PROVENANCE}.csv beside it")
    return RecordedTable3(profile, _sorted(pd.read_csv(trials_path)), _sorted(pd.read_csv(prov_path)))


@dataclass(frozen=True)
class RecordedFigure2:
    """A recorded profile's Figure 2: the kept models of each method, measured.

    Attributes:
        profile: the profile that ran them.
        points: one row per model and eps (method, epoch, eps, risk, unconstrained,
            in_distribution, certified).
        outcomes: one row per model, digit and eps (method, epoch, digit, eps, unconstrained,
            in_distribution: whether the digit stayed robust under each attack).
        provenance: one row per model (:data:`FIGURE2_PROVENANCE_COLUMNS`).
    """

    profile: str
    points: pd.DataFrame
    outcomes: pd.DataFrame
    provenance: pd.DataFrame

    @property
    def attacked(self) -> int:
        """Digits every model was attacked on."""
        return int(self.provenance["attacked"].min())

    @property
    def certified_on(self) -> int:
        """Digits LP-Certify's models were certified on."""
        return int(self.provenance["certified_on"].min())


def finished_figure2(profile: str, root: Path) -> RecordedFigure2 | None:
    """The finished points of ``profile``'s Figure 2 sweeps (one per method), read from their point folders;
    None if there are none. A model measured twice, points measured differently (generator, digits, attack), a
    point without its provenance or a table without its columns is an :class:`InputError`."""
    points, outcomes, provenance, seen = [], [], [], set()
    for method in METHODS:
        points_dir = Path(root) / "results" / profile / "sweeps" / FIGURE2_SWEEP.format(method=method) / "points"
        for point, (frame, outcome), prov in _finished_points(points_dir, profile, ("figure2_point",
                                                                                    "figure2_outcomes")):
            key = {"method": point.get("method"), "epoch": int(point.get("epoch", -1))}
            where = f"{points_dir} ({key['method']}, epoch {key['epoch']})"
            if key["method"] != method or (method, key["epoch"]) in seen:
                raise InputError(f"{where}: a point of another method, or a model measured twice")
            seen.add((method, key["epoch"]))
            rows = [row for row in prov if row["table"] == "figure2_point"]
            missing = ({"eps", "risk", "unconstrained", "in_distribution", "certified"} - set(frame.columns)
                       | {"digit", "eps", "unconstrained", "in_distribution"} - set(outcome.columns))
            if len(rows) != 1 or missing:
                raise InputError(f"{where}: no provenance of figure2_point, or tables without {sorted(missing)}")
            points.append(frame.assign(**key)[["method", "epoch", "eps", "risk", "unconstrained", "in_distribution",
                                               "certified"]])
            outcomes.append(outcome.assign(**key)[["method", "epoch", "digit", "eps", "unconstrained",
                                                   "in_distribution"]])
            provenance += rows
    if not points:
        return None

    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values(["method", "epoch"], kind="stable",
                                 key=lambda c: c.map(_ORDER) if c.name == "method" else c).reset_index(drop=True)

    prov = pd.DataFrame(provenance).reindex(columns=FIGURE2_PROVENANCE_COLUMNS)
    mixed = [c for c in ("generator_sha256", "attacked", "certified_on", "pgd_steps", "in_distribution_settings")
             if prov[c].nunique(dropna=False) > 1]
    if mixed:
        raise InputError(f"results/{profile}/sweeps/figure2_mnist_*: the points differ in {', '.join(mixed)}; "
                         "record one setting")
    return RecordedFigure2(profile, ordered(pd.concat(points, ignore_index=True)),
                           ordered(pd.concat(outcomes, ignore_index=True)), ordered(prov))


def record_figure2(run: Run, found: RecordedFigure2 | None = None) -> list[Path]:
    """Write the record of ``run.profile``'s Figure 2 sweeps under the project's ``results/<profile>/``; the paths
    written. ``found``: what :func:`finished_figure2` already read. Raises :class:`InputError` when no point has
    finished.

    Example (after ``intrinsic-rob sweep chapters/points/figure2_model.py --profile cpu --grid method=trades
    --grid epoch=5,10,15,20 --name figure2_mnist_trades``)::

        record_figure2(Run.from_environment(Path("."), "cpu"))   # results/cpu/figure2_points_mnist.csv, ...
    """
    from intrinsic_rob.pipeline.results import write_table

    root, profile = Path(run.root), run.profile
    rec = found if found is not None else finished_figure2(profile, root)
    if rec is None:
        raise InputError(f"no finished point in results/{profile}/sweeps/{FIGURE2_SWEEP.format(method='*')}/points: "
                         "run the sweeps first")
    folder = root / "results" / profile
    extra = {"sweeps": [f"results/{profile}/sweeps/{FIGURE2_SWEEP.format(method=m)}"
                        for m in dict.fromkeys(rec.points["method"])],
             "notebook": "chapters/points/figure2_model.py"}
    return [write_table(frame, name, run, extra=extra, folder=folder)
            for frame, name in ((rec.points, FIGURE2_POINTS), (rec.outcomes, FIGURE2_OUTCOMES),
                                (rec.provenance, FIGURE2_PROVENANCE))]


def recorded_figure2(profile: str, root: Path) -> RecordedFigure2 | None:
    """The committed record of ``profile``'s Figure 2 under ``root``, or None if there is none."""
    folder = Path(root) / "results" / profile
    paths = [folder / f"{name}.csv" for name in (FIGURE2_POINTS, FIGURE2_OUTCOMES, FIGURE2_PROVENANCE)]
    if not paths[0].is_file():
        return None
    missing = [p.name for p in paths[1:] if not p.is_file()]
    if missing:
        raise InputError(f"results/{profile}/{paths[0].name} has no {', '.join(missing)} beside it")
    return RecordedFigure2(profile, *(pd.read_csv(p) for p in paths))


def compare_with_paper(summary: pd.DataFrame, dataset: str = "mnist") -> pd.DataFrame:
    """A recorded summary beside Table 3's printed values, in percent, with the difference.

    ``summary`` is :meth:`RecordedTable3.summary`'s. One row per method and quantity
    (natural, then PGD at each eps): trials, ours (mean, std), paper (mean, std) and
    ours - paper in points. Certified rows have no printed counterpart and are left out.

    Example:
        >>> s = pd.DataFrame({"method": ["adv"], "metric": ["natural"], "eps": [0.0], "mean": [0.96],
        ...                   "std": [0.001], "count": [3]})
        >>> row = compare_with_paper(s).iloc[0]
        >>> row.quantity, round(float(row.difference), 1)
        ('natural', -1.2)
    """
    rows = []
    for r in summary.itertuples(index=False):
        if r.metric == "certified":
            continue
        printed = paper.TABLE3_ROBUST_PERCENT.get((dataset, r.method))
        if printed is None:
            continue
        key = "natural" if r.metric == "natural" else float(r.eps)
        quantity = "natural" if r.metric == "natural" else f"PGD, eps = {r.eps:g}"
        paper_mean, paper_std = printed[key]
        rows.append({"method": r.method, "quantity": quantity, "trials": int(r.count), "ours": 100 * r.mean,
                     "ours_std": 100 * r.std, "paper": paper_mean, "paper_std": paper_std,
                     "difference": 100 * r.mean - paper_mean})
    return pd.DataFrame(rows)


__all__ = ["RecordedFigure2", "RecordedTable3", "compare_with_paper", "finished_figure2", "finished_trials",
           "record_figure2", "record_table3", "recorded_figure2", "recorded_table3"]
