"""Parameter sweeps: one notebook executed once per point of a grid, on Dask distributed.

A sweep runs a chapter (``04_robust``) or any Jupytext ``.py`` or ``.ipynb`` notebook with
a cell tagged ``parameters`` once per point of the product of a grid, with papermill,
each point in a Dask task. Its folder is ``results/<profile>/sweeps/<name>/``::

    sweep.json                  what was asked: notebook, profile, grid, repetitions
    points/<key>/               one finished point: its executed notebook, the tables it
        <notebook>.ipynb        wrote with intrinsic_rob.pipeline.results (results/<profile>/...)
        results/...             and done.json, its parameters and glued scalars
        done.json
    failed/<key>.json, .ipynb   a point whose notebook raised: the error and the notebook
    stale/<key>-<digest>/       a finished point set aside: the profile's values of its parameters changed
    collected.csv               one row per point: parameters, then every glued scalar
    collected_<table>.csv       each table the points wrote, the point's parameters prepended
    summary.csv                 mean, std and count over the repetition parameters

The point folders are working files (git ignores them); the files at the top are the
sweep's record. :func:`point_provenance` gathers what a point's own tables say of
how they were made (wall time, versions, commit, machine, digests), for a run recorded
once and committed (:mod:`intrinsic_rob.pipeline.recorded`).

Nothing is lost and nothing counted twice. A point is executed in a temporary folder and
moved to ``points/<key>/`` by one rename once its ``done.json`` is written, so a visible
point is complete; a point that is already done is skipped (rerunning a sweep executes
only what is missing, and deleting a ``done.json`` reruns that point); a second execution
of a point (Dask reruns the tasks of a worker that died) finds the first one's result and
discards its own. The key of a point is derived from its parameters, and the collected
tables are rebuilt from the point folders, so each point is in them exactly once.

Points run in worker processes with one thread each (papermill changes the working
directory, and a chapter's kernel is a process of its own); a kernel that fails to start
is retried by Dask, a notebook that raises is reported with the failing cell's error and
the other points go on. Cached artifacts (generators, trained models) are shared through
:mod:`intrinsic_rob.core.artifacts`, whose lock makes concurrent workers build each one once.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import itertools
import json
import logging
import math
import os
import re
import shutil
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from intrinsic_rob.core.artifacts import atomic_write_bytes, config_hash
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.core.progress import bars_routed

DONE = "done.json"
POINTS = "points"
FAILED = "failed"
MANIFEST = "sweep.json"
COLLECTED = "collected.csv"
SUMMARY = "summary.csv"
CLUSTERS = ("slurm", "pbs")
# myst-nb's glue(..., display=False) writes its data under this prefix.
GLUE_PREFIX = "application/papermill.record/"
SWEEPABLE = (bool, int, float, str)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclasses.dataclass(frozen=True)
class Target:
    """What a sweep executes: a chapter of the book, or a notebook of the user's.

    ``types`` holds, per parameter, an example value whose type a grid value is parsed
    as: the chapter's default, or where that is None (a profiled parameter) the profile's
    value.
    """

    name: str
    source: Path
    chapter: bool
    defaults: dict[str, Any]
    types: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class PointTask:
    """One point, as a worker receives it (plain data: it crosses process boundaries)."""

    root: str
    source: str
    chapter: bool
    name: str
    profile: str
    point: dict[str, Any]
    folder: str
    key: str
    #: The results folder that holds ``<profile>/sweeps/``: where the point reads tables it did not write.
    results: str
    #: Show the point's own progress bars on the worker's standard error (a book run's sweep).
    progress: bool = False
    #: :func:`profile_digest` of the profile's values of the notebook's parameters, recorded in its done.json.
    profile_sha256: str = ""


@dataclasses.dataclass
class SweepResult:
    """What :func:`run_sweep` did: the sweep's folder, its points and their outcomes."""

    folder: Path
    points: list[dict[str, Any]]
    executed: list[str]
    skipped: list[str]
    failed: dict[str, str]
    collected: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    summary: pd.DataFrame | None
    seconds: float
    dashboard: str | None = None


# ---------------------------------------------------------------------------- grid


def resolve_target(notebook: str | Path, profile: str, root: Path) -> Target:
    """A chapter's name (``04_robust``) or the path of a notebook, with its parameters.

    Example:
        >>> from intrinsic_rob.pipeline.book import find_root
        >>> t = resolve_target("01_theory", "quick", find_root())
        >>> t.chapter, type(t.types["seed"]).__name__
        (True, 'int')
    """
    from intrinsic_rob.pipeline.book import declared_parameters, list_chapters, read_chapter
    from intrinsic_rob.pipeline.profiles import get_profile, resolve_parameters

    get_profile(profile)  # a one-line error for an unknown profile
    text = str(notebook)
    chapters = {p.stem: p for p in list_chapters(root)}
    if text in chapters:
        source = chapters[text]
        defaults = declared_parameters(read_chapter(source))
        profiled = resolve_parameters(text, profile, {})
        types = {k: (profiled.get(k) if v is None else v) for k, v in defaults.items()}
        return Target(text, source, True, defaults, types)
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = (Path.cwd() / path)
    if path.suffix not in (".py", ".ipynb") or not path.is_file():
        raise InputError(
            f"notebook must be a chapter ({', '.join(chapters)}) or an existing .py or .ipynb file, got {text!r}"
        )
    defaults = declared_parameters(read_notebook(path))
    return Target(path.stem, path.resolve(), False, defaults, dict(defaults))


def read_notebook(path: Path):
    """A Jupytext ``.py`` or an ``.ipynb`` as an nbformat notebook with the project's kernel."""
    import jupytext
    import nbformat

    from intrinsic_rob.pipeline.book import KERNELSPEC

    try:
        nb = nbformat.read(path, as_version=4) if path.suffix == ".ipynb" else jupytext.read(path)
    except Exception as err:  # noqa: BLE001 - any parse failure is the user's file
        raise InputError(f"notebook {path} could not be read: {err}") from None
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.pop("jupytext", None)
    return nb


def parse_value(name: str, text: str, example: Any, where: str) -> Any:
    """``text`` as the type of ``example`` (the parameter's value in ``where``).

    Example:
        >>> parse_value("seed", "3", 0, "01_theory"), parse_value("eps", "2", 1.0, "x")
        (3, 2.0)
        >>> parse_value("beta", "six", 6.0, "04_robust")
        Traceback (most recent call last):
        ...
        intrinsic_rob.core.errors.InputError: grid: beta must be a float (its type in 04_robust), got 'six'
    """
    def bad(kind: str) -> InputError:
        return InputError(f"grid: {name} must be {kind} (its type in {where}), got {text!r}")

    if isinstance(example, bool):
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise bad("true or false")
    if isinstance(example, int):
        try:
            return int(text)
        except ValueError:
            raise bad("an int") from None
    if isinstance(example, float):
        try:
            value = float(text)
        except ValueError:
            raise bad("a float") from None
        if math.isnan(value):
            raise bad("a float other than NaN")
        return value
    if isinstance(example, str):
        return text
    if example is None:  # no type to go by: a Python literal if it is one, else the text
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
        return value if isinstance(value, SWEEPABLE) or value is None else text
    raise InputError(
        f"grid: {name} is a {type(example).__name__} in {where}; only int, float, bool and str parameters can be swept"
    )


def parse_grid(options: Iterable[str], target: Target) -> dict[str, list[Any]]:
    """``["NAME=V1,V2", ...]`` as {name: values}, each value parsed as the parameter's type.

    Example:
        >>> from intrinsic_rob.pipeline.book import find_root
        >>> t = resolve_target("01_theory", "quick", find_root())
        >>> parse_grid(["seed=0,1"], t)
        {'seed': [0, 1]}
    """
    grid: dict[str, list[Any]] = {}
    for option in options:
        name, sep, values = str(option).partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError(f"grid must be NAME=V1,V2,..., got {option!r}")
        _check_name(name, target, grid)
        grid[name] = _check_values(
            name, [parse_value(name, v.strip(), target.types[name], target.name) for v in values.split(",")]
        )
    if not grid:
        raise InputError("grid must name at least one parameter (NAME=V1,V2,...)")
    return grid


def check_grid(grid: Mapping[str, Sequence[Any]], target: Target) -> dict[str, list[Any]]:
    """A grid given as {name: values} from Python, checked as :func:`parse_grid` checks text.

    Text values are parsed; other values must have the parameter's type (an int is taken
    for a float).

    Example:
        >>> t = Target("x", Path("x.py"), False, {"eps": 1.0}, {"eps": 1.0})
        >>> check_grid({"eps": [1, 2.5]}, t)
        {'eps': [1.0, 2.5]}
    """
    checked: dict[str, list[Any]] = {}
    for name, values in grid.items():
        _check_name(name, target, checked)
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise InputError(f"grid: {name} must map to a list of values, got {values!r}")
        checked[name] = _check_values(name, [_typed(name, v, target.types[name], target.name) for v in values])
    if not checked:
        raise InputError("grid must name at least one parameter")
    return checked


def _typed(name: str, value: Any, example: Any, where: str) -> Any:
    if isinstance(value, str):
        return parse_value(name, value, example, where)
    kind = bool if isinstance(example, bool) else type(example)
    if example is None and (value is None or isinstance(value, SWEEPABLE)):
        return value
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return parse_value(name, repr(float(value)), example, where)
    if kind in (bool, int) and type(value) is kind:
        return value
    if kind not in SWEEPABLE:
        return parse_value(name, repr(value), example, where)  # the "cannot be swept" error
    raise InputError(f"grid: {name} must be {'true or false' if kind is bool else 'a ' + kind.__name__} "
                     f"(its type in {where}), got {value!r}")


def _check_name(name: str, target: Target, seen: Mapping[str, Any]) -> str:
    if name == "profile":
        raise InputError("grid: profile is chosen with --profile, not swept")
    if name not in target.types:
        raise InputError(
            f"grid: {name!r} is not a parameter of {target.name} (it takes: {', '.join(sorted(target.types))})"
        )
    if name in seen:
        raise InputError(f"grid: {name} is given twice")
    return name


def _check_values(name: str, values: list[Any]) -> list[Any]:
    if not values or any(v == "" for v in values):
        raise InputError(f"grid: {name} needs at least one non-empty value")
    if len({json.dumps(v) for v in values}) != len(values):
        raise InputError(f"grid: {name} lists a value twice: {values}")
    return values


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The product of the grid, the last parameter varying fastest.

    Example:
        >>> grid_points({"a": [1, 2], "b": ["x"]})
        [{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'x'}]
    """
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


def point_key(point: Mapping[str, Any]) -> str:
    """The point's folder name: its parameters, readable, and a hash that makes it unique.

    Example:
        >>> point_key({"seed": 1, "beta": 6.0})
        'beta=6.0,seed=1-8184dab4'
    """
    slug = ",".join(f"{k}={point[k]}" for k in sorted(point))
    slug = re.sub(r"[^A-Za-z0-9._=,+-]", "_", slug)[:80]
    return f"{slug}-{config_hash(dict(point), 8)}"


def profile_digest(profile: str, names: Iterable[str] | None = None) -> str:
    """sha256 of the values the profile gives ``names`` (every parameter when None) in every chapter:
    what a point's notebook resolves its parameters from, besides the point's own values.

    A sweep passes the parameters its notebook declares, so that a profile value the
    notebook never reads (another chapter's) leaves its finished points current. The CPU
    kernels (:data:`~intrinsic_rob.core.kernels.KERNELS`) are part of it: on other kernels
    the generator and the models a point measures are other weights; so are the training
    methods' loss revisions (:attr:`~intrinsic_rob.models.methods.Method.loss_revision`),
    since a model trained under a revised loss is another model too.

    Example:
        >>> len(profile_digest("quick")), profile_digest("quick") == profile_digest("paper")
        (64, False)
        >>> profile_digest("quick", ["pgd_steps"]) == profile_digest("quick", ["pgd_steps", "no_such_name"])
        True
    """
    import hashlib

    from intrinsic_rob.core.kernels import KERNELS
    from intrinsic_rob.models.methods import METHODS
    from intrinsic_rob.pipeline.profiles import get_profile

    wanted = None if names is None else set(names)
    chapters = {name: {k: v for k, v in values.items() if wanted is None or k in wanted}
                for name, values in get_profile(profile).chapters.items()}
    chapters = {name: values for name, values in chapters.items() if values}
    keyed: dict[str, object] = {"chapters": chapters, "cpu_kernels": KERNELS}
    revisions = {m.name: m.loss_revision for m in METHODS.values() if m.loss_revision}
    if revisions:  # with none, the digests of points recorded before revisions existed stay as they were
        keyed["loss_revisions"] = revisions
    return hashlib.sha256(json.dumps(keyed, sort_keys=True, default=str).encode()).hexdigest()


def retire_stale_points(folder: Path, keys: Iterable[str], digest: str) -> list[str]:
    """Move the finished points among ``keys`` that ran under other profile values to ``stale/``.

    A point's key holds its own values only; the rest of its parameters come from the
    profile, so a point finished before a profile value changed would otherwise be reused
    with results the current profile would not give. Its done.json records the
    :func:`profile_digest` of the profile's values of its notebook's parameters; a point with
    another digest is moved aside (kept, not deleted)
    and runs again. A point recorded without a digest (older runs) is kept as it is.
    Returns the keys moved.
    """
    moved = []
    for key in keys:
        done = Path(folder) / POINTS / key / DONE
        if not done.is_file():
            continue
        recorded = json.loads(done.read_text()).get("profile_sha256")
        if recorded and recorded != digest:
            target = Path(folder) / "stale" / f"{key}-{recorded[:12]}"
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            (Path(folder) / POINTS / key).rename(target)
            moved.append(key)
    return moved


# ------------------------------------------------------------------ one point (worker)


def run_point(task: PointTask) -> dict[str, Any]:
    """Execute one point and commit its folder; the Dask task. Returns its record.

    A point already done is not executed again (``record["skipped"]``). A notebook that
    raises gives ``status`` "failed" with the failing cell's error (and its notebook in
    ``failed/``); anything else that goes wrong (a kernel that does not start) is raised,
    for Dask to retry.
    """
    from papermill.exceptions import PapermillExecutionError

    from intrinsic_rob.pipeline.book import describe_failure
    from intrinsic_rob.pipeline.run import RESULTS_ENV, RESULTS_INPUT_ENV

    folder = Path(task.folder)
    final = folder / POINTS / task.key
    if (final / DONE).is_file():
        return {**json.loads((final / DONE).read_text()), "skipped": True}
    tmp = folder / POINTS / f".{task.key}.{uuid.uuid4().hex[:12]}.tmp"
    tmp.mkdir(parents=True)
    try:
        start = time.perf_counter()
        nb, params = _prepare(task)
        output = tmp / f"{task.name}.ipynb"
        env = {RESULTS_ENV: str(tmp / "results"), RESULTS_INPUT_ENV: task.results}
        try:
            executed = _execute(nb, params, output, Path(task.root), env, progress=task.progress,
                                failed=folder / FAILED / f"{task.key}.ipynb")
        except PapermillExecutionError as err:
            record = {"status": "failed", "key": task.key, "point": task.point,
                      "error": describe_failure(err)}
            atomic_write_bytes(folder / FAILED / f"{task.key}.json", (json.dumps(record, indent=2) + "\n").encode())
            return record
        tables = sorted(str(p.relative_to(tmp)) for p in (tmp / "results").rglob("*.csv"))
        record = {"status": "done", "key": task.key, "point": task.point, "glue": glued_scalars(executed),
                  "tables": tables, "seconds": round(time.perf_counter() - start, 3),
                  "host": socket.gethostname(), "profile_sha256": task.profile_sha256}
        (tmp / DONE).write_text(json.dumps(record, indent=2) + "\n")  # written last: the point is complete
        _commit(tmp, final)
        for stale in (folder / FAILED / f"{task.key}.json", folder / FAILED / f"{task.key}.ipynb"):
            stale.unlink(missing_ok=True)
        return {**json.loads((final / DONE).read_text()), "skipped": False}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _prepare(task: PointTask):
    """The notebook and the parameters papermill injects for a point."""
    from intrinsic_rob.pipeline.book import declared_parameters, effective_parameters, read_chapter

    source = Path(task.source)
    if task.chapter:
        nb = read_chapter(source)
        return nb, effective_parameters(nb, task.name, task.profile, task.point)
    nb = read_notebook(source)
    declared = declared_parameters(nb)
    extra = {"profile": task.profile} if "profile" in declared else {}
    return nb, {**extra, **task.point}


def _execute(nb, params: dict[str, Any], output: Path, cwd: Path, env: dict[str, str], *, progress: bool = False,
             failed: Path | None = None):
    """The book's papermill run (:func:`intrinsic_rob.pipeline.book.run_notebook`, ``failed`` its); the executed
    notebook."""
    import nbformat

    from intrinsic_rob.pipeline.book import kernel_environment, run_notebook

    run_notebook(nb, params, output, cwd=cwd, kernel_env=kernel_environment(progress, env), failed=failed)
    return nbformat.read(output, as_version=4)


def _commit(tmp: Path, final: Path) -> None:
    """Move a finished point folder into place, unless another execution already did."""
    old = None
    if final.exists():
        if (final / DONE).is_file():
            return  # an earlier execution finished first: its result stands
        old = final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}.old")
        os.rename(final, old)
    try:
        os.rename(tmp, final)
    except OSError:
        if not (final / DONE).is_file():  # not a finished twin: a real failure
            raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def glued_scalars(nb) -> dict[str, Any]:
    """Every scalar the notebook glues (myst-nb ``glue``): numbers as numbers, text as text.

    Glued figures and tables (anything with more than a one-line text/plain form) are left out.
    """
    values: dict[str, Any] = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("scrapbook")
            if not meta:
                continue
            plain = meta.get("mime_prefix", "") + "text/plain"
            data = out.get("data", {})
            if set(data) != {plain}:
                continue
            text = data[plain].strip()
            if "\n" not in text:
                values[meta["name"]] = _scalar(text)
    return values


def _scalar(text: str) -> Any:
    wrapped = re.fullmatch(r"np\.\w+\((.*)\)", text)  # numpy's repr, e.g. np.float64(0.25)
    if wrapped:
        text = wrapped.group(1)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, SWEEPABLE) else text


# ---------------------------------------------------------------------- collecting


def collect(folder: Path, points: Sequence[Mapping[str, Any]], repeat: Sequence[str] = ()
            ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], pd.DataFrame | None]:
    """The collected table (one row per finished point), the collected result tables, the summary.

    Rows follow ``points``' order; a point without ``done.json`` has no row.
    """
    names = list(points[0]) if points else []
    rows, tables = [], {}
    for point in points:
        done = folder / POINTS / point_key(point) / DONE
        if not done.is_file():
            continue
        record = json.loads(done.read_text())
        glue = {k: v for k, v in record["glue"].items() if k not in point}
        rows.append({**point, **glue})
        for rel in record["tables"]:
            frame = pd.read_csv(done.parent / rel)
            label = {f"sweep_{k}" if k in frame.columns else k: v for k, v in point.items()}
            frame.insert(0, "_", 0)
            for i, (k, v) in enumerate(label.items()):
                frame.insert(i, k, [v] * len(frame))
            tables.setdefault(Path(rel).stem, []).append(frame.drop(columns="_"))
    collected = pd.DataFrame(rows, columns=None if rows else names)
    merged = {name: pd.concat(frames, ignore_index=True) for name, frames in tables.items()}
    return collected, merged, summarise(collected, names, repeat) if repeat else None


def point_provenance(point_folder: Path) -> list[dict[str, Any]]:
    """What a finished point's tables say of how they were made: one dict per table.

    Each holds the point's parameters, ``table``, ``seconds`` and ``host`` (from
    done.json), then the table's provenance (its .json beside the .csv, as
    :func:`intrinsic_rob.pipeline.results.write_table` writes it, without ``rows``): numbers and
    text as they are, anything else as JSON text. [] for a point that has not finished.
    """
    done = Path(point_folder) / DONE
    if not done.is_file():
        return []
    record = json.loads(done.read_text())
    point = record["point"]
    rows = []
    for rel in record["tables"]:
        meta_path = (done.parent / rel).with_suffix(".json")
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        flat = {k: v if isinstance(v, (str, int, float, bool)) or v is None else json.dumps(v, sort_keys=True)
                for k, v in meta.items() if k not in ("rows", "table") and k not in point}
        rows.append({**point, "table": Path(rel).stem, "seconds": record.get("seconds"),
                     "host": record.get("host"), **flat})
    return rows


def summarise(collected: pd.DataFrame, names: Sequence[str], repeat: Sequence[str]) -> pd.DataFrame:
    """Mean, standard deviation (ddof 1) and count of each numeric column over ``repeat``.

    One row per (setting of the other grid parameters, quantity), tidy.

    Example:
        >>> frame = pd.DataFrame({"eps": [1, 1, 2, 2], "seed": [0, 1, 0, 1], "acc": [0.5, 0.7, 0.2, 0.4]})
        >>> summarise(frame, ["eps", "seed"], ["seed"]).round(3).to_dict("records")[0]
        {'eps': 1, 'quantity': 'acc', 'mean': 0.6, 'std': 0.141, 'n': 2}
    """
    keep = [n for n in names if n not in repeat]
    quantities = [c for c in collected.columns if c not in names
                  and pd.api.types.is_numeric_dtype(collected[c]) and not pd.api.types.is_bool_dtype(collected[c])]
    long = collected.melt(id_vars=keep or None, value_vars=quantities, var_name="quantity", value_name="value")
    if long.empty:
        return pd.DataFrame(columns=[*keep, "quantity", "mean", "std", "n"])
    grouped = long.groupby([*keep, "quantity"], sort=False)["value"]
    return grouped.agg(mean="mean", std="std", n="count").reset_index()


def write_collected(folder: Path, collected: pd.DataFrame, tables: Mapping[str, pd.DataFrame],
                    summary: pd.DataFrame | None) -> list[Path]:
    """Write collected.csv, collected_<table>.csv and summary.csv atomically; their paths."""
    written = []
    for name, frame in [("collected", collected), *((f"collected_{k}", v) for k, v in tables.items()),
                        *([("summary", summary)] if summary is not None else [])]:
        path = folder / f"{name}.csv"
        atomic_write_bytes(path, frame.to_csv(index=False).encode())
        written.append(path)
    return written


def sweep_folder(profile: str, name: str, results: Path) -> Path:
    """<results>/<profile>/sweeps/<name>/ (not created).

    Example:
        >>> sweep_folder("quick", "demo", Path("results")).as_posix()
        'results/quick/sweeps/demo'
    """
    return Path(results) / profile / "sweeps" / name


def forwarded(chapter: str, profile: str, values: Mapping[str, Any], names: Iterable[str]) -> dict[str, list[Any]]:
    """A chapter's own values of ``names`` where they differ from its profile's, as one-value grid entries.

    What a chapter adds to the grid of a sweep over a point notebook that shares its
    parameters, so that the points run with the chapter's values (a ``--param`` given to
    the book) and a run with the profile's values keeps the keys that DESIGN.md's command gives.

    Example:
        >>> forwarded("01_theory", "quick", {"seed": 0, "mc_samples": 7}, ["seed", "mc_samples"])
        {'mc_samples': [7]}
    """
    from intrinsic_rob.pipeline.profiles import resolve_parameters

    profiled = resolve_parameters(chapter, profile, {})
    return {n: [values[n]] for n in names if n in profiled and n in values and values[n] != profiled[n]}


# ----------------------------------------------------------------------- executing


def open_client(*, workers: int | None = None, scheduler: str | None = None, cluster: str | None = None,
                gpus: int = 0, jobqueue_config: Path | None = None):
    """A Dask client: on ``scheduler``, on a dask-jobqueue ``cluster``, or on a LocalCluster.

    The LocalCluster has ``workers`` processes (default: half the cores, as each chapter's
    kernel uses two threads) of one thread each; with ``gpus`` > 0, one per GPU (at most
    ``workers``), each offering the resource GPU=1. A jobqueue cluster reads its settings from
    ~/.config/dask/jobqueue.yaml (section ``slurm`` or ``pbs``), or ``jobqueue_config``,
    and is scaled to ``workers`` jobs (default 1). Returns (client, things to close after it).
    """
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler, timeout="30s"), []
    if cluster:
        made = jobqueue_cluster(cluster, jobqueue_config)
        made.scale(jobs=workers or 1)
        return Client(made), [made]
    options: dict[str, Any] = {"threads_per_worker": 1, "processes": True, "silence_logs": logging.ERROR}
    if gpus > 0:
        options.update(n_workers=min(workers or gpus, gpus), resources={"GPU": 1})
    else:
        options["n_workers"] = workers or max(1, (os.cpu_count() or 2) // 2)
    # A free port, never Dask's default 8787: another cluster may hold it, and Dask would then
    # warn into the output of the notebook that started this one. (dashboard_address=None also
    # means 8787; without bokeh the port serves no dashboard, only Dask's HTTP routes.)
    options["dashboard_address"] = ":0"
    with _children_on_original_streams(), environment_kept():
        made = LocalCluster(**options)
    return Client(made), [made]


@contextlib.contextmanager
def environment_kept():
    """Restore ``os.environ`` as it was on leaving.

    Dask's nannies set their workers' variables (OMP_NUM_THREADS=1, MKL_NUM_THREADS=1,
    OPENBLAS_NUM_THREADS=1, MALLOC_TRIM_THRESHOLD_, PYTHONHASHSEED) in the *calling*
    process's environment before each spawn, and leave them there. Every process started
    later (a chapter's kernel under nbval, say) would then run its BLAS on one thread and
    compute slightly different numbers.
    """
    saved = dict(os.environ)
    try:
        yield
    finally:
        if dict(os.environ) != saved:
            os.environ.clear()
            os.environ.update(saved)


@contextlib.contextmanager
def _children_on_original_streams():
    """Let processes started inside see the process's original stdout and stderr.

    In a Jupyter kernel (a chapter that runs a sweep), descriptors 1 and 2 are pipes the
    kernel copies into the notebook; worker processes would inherit them, and their logs
    and the points' progress bars would land in the chapter's outputs. ipykernel keeps the
    original descriptors as ``sys.stdout.fileno()`` and ``sys.stderr.fileno()``; they are
    put back on 1 and 2 while the workers start. Elsewhere this does nothing.
    """
    try:
        originals = (sys.stdout.fileno(), sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):
        originals = (1, 2)
    if originals == (1, 2):
        yield
        return
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = (os.dup(1), os.dup(2))
    try:
        os.dup2(originals[0], 1)
        os.dup2(originals[1], 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def jobqueue_cluster(cluster: str, config: Path | None = None):
    """A dask-jobqueue ``SLURMCluster`` or ``PBSCluster`` from Dask's configuration.

    ``config``: a YAML file laid out as ~/.config/dask/jobqueue.yaml (``jobqueue:``, then
    ``slurm:`` or ``pbs:``), whose settings override Dask's configuration; without it Dask
    reads its own (~/.config/dask/jobqueue.yaml). No job is submitted until the cluster is
    scaled.
    """
    import dask
    import dask_jobqueue
    import yaml

    if cluster not in CLUSTERS:
        raise InputError(f"cluster must be one of {', '.join(CLUSTERS)}, got {cluster!r}")
    kind = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}[cluster]
    if config is None:
        return kind()
    try:
        data = yaml.safe_load(Path(config).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise InputError(f"jobqueue_config: cannot read {config}: {err}".splitlines()[0]) from None
    if not isinstance(data, dict) or not isinstance(data.get("jobqueue"), dict):
        raise InputError(f"jobqueue_config: {config} has no 'jobqueue:' section")
    section = data["jobqueue"].get(cluster)
    if not isinstance(section, dict):
        raise InputError(f"jobqueue_config: {config} has no 'jobqueue: {cluster}:' section")
    # Dask reads its own configuration lazily (when a job is made, not when the cluster
    # is): the file's settings are given as the keyword arguments they name instead.
    known = dask.config.get(f"jobqueue.{cluster}")
    unknown = sorted(set(section) - set(known))
    if unknown:
        raise InputError(f"jobqueue_config: {config}: {unknown[0]!r} is not a dask-jobqueue {cluster} setting "
                         f"(they are: {', '.join(sorted(known))})")
    options = {key.replace("-", "_"): value for key, value in section.items() if value is not None}
    try:
        return kind(**options)
    except TypeError as err:
        raise InputError(f"jobqueue_config: {config}: {err}") from None


def job_script(cluster: str, config: Path | None = None) -> str:
    """The batch script dask-jobqueue would submit for one worker job (nothing is submitted).

    Example (with a config file holding ``jobqueue: {slurm: {cores: 4, memory: 16GB}}``)::

        print(job_script("slurm", Path("jobqueue.yaml")))   # #SBATCH lines, then the worker
    """
    made = jobqueue_cluster(cluster, config)
    try:
        return made.job_script()
    finally:
        made.close()


def _device(target: Target, point: Mapping[str, Any]) -> str | None:
    """The device a point asks for ("cuda", "auto"), or None for the CPU: its ``device``, else the profile's."""
    device = point.get("device", target.types.get("device"))
    return None if device in (None, "cpu") else str(device)


def _offers_gpu(client, closers: list, scheduler: str | None, cluster: str | None, local_gpus: int) -> bool:
    """Whether the cluster's workers offer the resource GPU."""
    if scheduler:
        return any("GPU" in (w.get("resources") or {}) for w in client.scheduler_info()["workers"].values())
    if cluster:
        return "GPU=" in closers[0].job_script()
    return local_gpus > 0


def run_sweep(
    notebook: str | Path,
    *,
    profile: str,
    grid: Mapping[str, Sequence[Any]] | Sequence[str],
    name: str | None = None,
    repeat: Sequence[str] = (),
    workers: int | None = None,
    scheduler: str | None = None,
    cluster: str | None = None,
    jobqueue_config: Path | None = None,
    root: Path | None = None,
    results: Path | None = None,
    retries: int = 2,
    progress: bool = True,
) -> SweepResult:
    """Execute ``notebook`` once per point of ``grid`` on Dask and collect the results.

    ``grid`` is {name: values} or the command line's ``["NAME=V1,V2", ...]``; every
    point runs with the profile's parameters overridden by its own. The sweep's folder is
    ``results/<profile>/sweeps/<name>/`` (``name`` defaults to the notebook's); see the
    module's docstring for what it holds. ``root`` is where the kernels run (default: the
    book's root when the working directory lies inside one, else the working directory);
    ``results`` the folder that holds ``<profile>/sweeps/`` (default: results/ under
    ``root``). ``repeat`` names grid parameters that only
    repeat a measurement (``seed``): summary.csv averages over them. Everything is checked
    before anything runs. Points already done are skipped; when none is left to run, no
    cluster is started. ``retries`` is how often Dask retries a point whose kernel failed.

    Example (a two-point sweep of chapter 1, a minute on two cores)::

        res = run_sweep("01_theory", profile="quick", grid=["seed=0,1"], repeat=["seed"])
        res.collected        # one row per seed: seed, then each glued number
        res.summary          # their mean, std and count
    """
    from intrinsic_rob.pipeline.book import book_root_or_folder

    root = Path(root).resolve() if root is not None else book_root_or_folder()
    target = resolve_target(notebook, profile, root)
    checked = parse_grid(grid, target) if _is_text_grid(grid) else check_grid(grid, target)
    name = target.name if name is None else str(name)
    _check_sweep(name, checked, repeat, workers=workers, scheduler=scheduler, cluster=cluster, retries=retries)
    points = grid_points(checked)
    _check_chapter_points(target, profile, points)
    results_folder = Path(results) if results is not None else root / "results"
    folder = sweep_folder(profile, name, results_folder)
    _write_manifest(folder, target, root, profile, checked, repeat)
    start = time.perf_counter()
    keys = [point_key(p) for p in points]
    digest = profile_digest(profile, target.defaults)
    retire_stale_points(folder, keys, digest)
    finished = {k for k in keys if (folder / POINTS / k / DONE).is_file()}
    todo = [(p, k) for p, k in zip(points, keys) if k not in finished]
    skipped = [k for k in keys if k in finished]
    executed: list[str] = []
    failed: dict[str, str] = {}
    dashboard = None
    if todo:
        devices = {d for d in (_device(target, p) for p, _ in todo) if d is not None}
        # Inside a book run's kernel ($INTRINSIC_ROB_PROGRESS=stderr) the points' own bars (a model's
        # training, say) go to the terminal too, through the workers' standard error.
        bars = bars_routed()
        tasks = [PointTask(str(root), str(target.source), target.chapter, target.name, profile, dict(p),
                           str(folder), k, str(results_folder), bars, digest) for p, k in todo]
        executed, failed, dashboard = _run_on_dask(tasks, name, workers=workers, scheduler=scheduler,
                                                   cluster=cluster, jobqueue_config=jobqueue_config,
                                                   devices=devices, retries=retries, progress=progress)
    _remove_orphans(folder)
    collected, tables, summary = collect(folder, points, repeat)
    write_collected(folder, collected, tables, summary)
    return SweepResult(folder, points, executed, skipped, failed, collected, tables, summary,
                       time.perf_counter() - start, dashboard)


def _check_chapter_points(target: Target, profile: str, points: Sequence[Mapping[str, Any]]) -> None:
    """A chapter's own check of every point's parameters, before anything runs (a notebook of one's own has
    none)."""
    if not target.chapter:
        return
    from intrinsic_rob.pipeline.book import chapter_parameters, read_chapter

    nb = read_chapter(target.source)
    for point in points:
        chapter_parameters(nb, target.name, profile, point)


def _write_manifest(folder: Path, target: Target, root: Path, profile: str, grid: Mapping[str, Any],
                    repeat: Sequence[str]) -> None:
    """Create the sweep's folder and write what it sweeps (the notebook, profile, grid and repeated names)."""
    folder.mkdir(parents=True, exist_ok=True)
    shown = target.source.relative_to(root) if target.source.is_relative_to(root) else target.source
    manifest = {"notebook": target.name if target.chapter else str(shown), "profile": profile,
                "grid": grid, "repeat": list(repeat)}
    atomic_write_bytes(folder / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())


def _remove_orphans(folder: Path) -> None:
    """Remove the temporary folders of points that another worker finished (left by a worker that died
    mid-point)."""
    points = folder / POINTS
    for tmp in points.glob(".*.tmp") if points.is_dir() else []:
        key = tmp.name[1:].rsplit(".", 2)[0]  # .<key>.<random>.tmp
        if (points / key / DONE).is_file():
            shutil.rmtree(tmp, ignore_errors=True)


def _check_sweep(name: str, grid: Mapping[str, Any], repeat: Sequence[str], *, workers: int | None,
                 scheduler: str | None, cluster: str | None, retries: int) -> None:
    """One-line errors for a sweep's name, repeated parameters and where it runs, before anything runs."""
    from intrinsic_rob.core.validation import check_value

    if not _NAME.match(name):
        raise InputError(f"name must be letters, digits, '.', '_' or '-' (not starting with '.'), got {name!r}")
    unknown = [r for r in repeat if r not in grid]
    if unknown:
        raise InputError(f"repeat: {unknown[0]!r} is not a swept parameter (the grid has: {', '.join(grid)})")
    if scheduler and cluster:
        raise InputError("give either scheduler or cluster, not both")
    if cluster is not None and cluster not in CLUSTERS:
        raise InputError(f"cluster must be one of {', '.join(CLUSTERS)}, got {cluster!r}")
    if workers is not None:
        check_value("workers", workers, low=1, integer=True)
    check_value("retries", retries, low=0, integer=True)


def _is_text_grid(grid: Any) -> bool:
    return not isinstance(grid, Mapping)


def _run_on_dask(tasks: list[PointTask], name: str, *, workers, scheduler, cluster, jobqueue_config, devices,
                 retries, progress) -> tuple[list[str], dict[str, str], str | None]:
    """Submit the points, wait for them with a progress bar; (done keys, failures, dashboard).

    Points whose device is not the CPU ask for the resource GPU=1 where the workers offer
    it; "auto" runs on whatever workers there are when none does, "cuda" is refused.
    """
    local_gpus = 0
    if devices and not (scheduler or cluster):
        import torch

        local_gpus = torch.cuda.device_count()
    with environment_kept():  # a worker restarted by its nanny sets the variables again
        return _submit_and_wait(tasks, name, workers=workers, scheduler=scheduler, cluster=cluster,
                                jobqueue_config=jobqueue_config, devices=devices, retries=retries,
                                progress=progress, local_gpus=local_gpus)


def _submit_and_wait(tasks: list[PointTask], name: str, *, workers, scheduler, cluster, jobqueue_config, devices,
                     retries, progress, local_gpus) -> tuple[list[str], dict[str, str], str | None]:
    from distributed import as_completed

    from intrinsic_rob.core.progress import progress_bar

    client, closers = open_client(workers=workers, scheduler=scheduler, cluster=cluster, gpus=local_gpus,
                                  jobqueue_config=jobqueue_config)
    try:
        dashboard = _dashboard(client)
        if dashboard and progress:
            print(f"Dask dashboard: {dashboard}", flush=True)
        gpu = bool(devices) and _offers_gpu(client, closers, scheduler, cluster, local_gpus)
        if "cuda" in devices and not gpu:
            raise InputError("device: the points ask for cuda but no worker offers the resource GPU (start GPU "
                             "workers with `dask worker ADDRESS --resources GPU=1`, or sweep device=auto or cpu)")
        futures = {}
        for task in tasks:
            future = client.submit(run_point, task, key=f"sweep-{name}-{task.key}", retries=retries,
                                   pure=False, resources={"GPU": 1} if gpu else None)
            futures[future] = task.key
        executed, failed = [], {}
        bar = progress_bar(total=len(futures), desc=f"sweep {name}", unit="point", enabled=progress)
        for future in as_completed(futures):
            key = futures[future]
            try:
                record = future.result()
            except Exception as err:  # noqa: BLE001 - a point's failure is reported, the others go on
                failed[key] = f"{type(err).__name__}: {err}"
            else:
                if record["status"] == "done":
                    executed.append(key)
                else:
                    failed[key] = record["error"]
            bar.update(1)
        bar.close()
        return executed, failed, dashboard
    finally:
        client.close()
        for thing in closers:
            thing.close()


def _dashboard(client) -> str | None:
    try:
        info = client.scheduler_info()
        return client.dashboard_link if info.get("services", {}).get("dashboard") else None
    except Exception:  # noqa: BLE001 - the address is a courtesy
        return None
