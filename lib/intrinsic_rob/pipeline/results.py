"""Tidy result tables under results/<profile>/, written atomically with their provenance.

A table whose content has not changed is left untouched (bytes and modification time),
even though its provenance names a newer commit, so re-running a chapter whose results
are the same leaves the repository clean.
"""

from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import pandas as pd

if TYPE_CHECKING:
    import torch

    from intrinsic_rob.pipeline.run import Run

from intrinsic_rob.core.artifacts import atomic_write_bytes
from intrinsic_rob.core.errors import InputError

# Provenance fields that change without the result changing (the commit; wall-clock
# seconds, which depend on what else the machine was doing): ignored when deciding whether
# a table must be rewritten, so an unchanged result keeps the record of its first run.
VOLATILE_PROVENANCE = ("commit", "seconds")


def provenance(root: Path | None = None, commit: str | None = None) -> dict[str, str]:
    """Versions, device, CPU kernels (:data:`~intrinsic_rob.core.kernels.KERNELS`) and source commit behind a
    result: ``commit`` when given (an exported copy of the source names its own; its folder may hold a stale
    .git), else git's HEAD in ``root``."""
    import numpy
    import scipy
    import torch

    from intrinsic_rob import __version__
    from intrinsic_rob.core.kernels import KERNELS

    info = {
        "intrinsic_rob": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({platform.machine()})",
        "cpu_kernels": KERNELS,
    }
    info["commit"] = commit or _git_head(root) or "unknown"
    if torch.cuda.is_available():
        info["cuda"] = str(torch.version.cuda)
    return info


def _git_head(root: Path | None) -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root or Path.cwd(), capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def tensors_digest(tensors: "Mapping[str, torch.Tensor]") -> str:
    """sha256 of named tensors (names, shapes, dtypes and bytes, in name order).

    Example:
        >>> import torch
        >>> tensors_digest({"x": torch.zeros(2)}) == tensors_digest({"x": torch.zeros(2)})
        True
        >>> tensors_digest({"x": torch.zeros(2)}) == tensors_digest({"x": torch.zeros(3)})
        False
    """
    import hashlib

    import torch

    h = hashlib.sha256()
    for name, tensor in sorted(tensors.items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def module_digest(module: "torch.nn.Module") -> str:
    """sha256 of a module's state (:func:`tensors_digest` of its state dict): which weights a result used.

    Example:
        >>> import torch
        >>> a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
        >>> _ = b.load_state_dict(a.state_dict())
        >>> module_digest(a) == module_digest(b)  # the same weights: the same digest
        True
        >>> with torch.no_grad():
        ...     _ = b.bias.add_(1.0)
        >>> module_digest(a) == module_digest(b)
        False
    """
    return tensors_digest(module.state_dict())


def write_table(frame: pd.DataFrame, name: str, run: Run, extra: dict | None = None,
                folder: Path | None = None) -> Path:
    """Write ``frame`` to <folder>/<name>.csv and its provenance (plus ``extra``) to <name>.json.

    ``folder`` defaults to the run's ``results/<profile>/`` (:attr:`~intrinsic_rob.pipeline.run.Run.tables`);
    given, the two files go straight into it. Either is created if missing. Each file is
    rewritten only if its content changes: the CSV if its bytes differ, the JSON if the CSV
    changed or the JSON differs apart from :data:`VOLATILE_PROVENANCE` (so an unchanged
    table keeps the commit that first produced it). Returns the CSV's path.
    """
    _check_run(run)
    folder = run.tables if folder is None else Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"folder must be a folder, got the file {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    table = frame.to_csv(index=False).encode()
    meta = {"table": path.name, "profile": run.profile, **provenance(run.root, run.commit), **(extra or {})}
    meta_path = folder / f"{name}.json"
    meta_text = json.dumps(meta, indent=2) + "\n"
    table_changed = not path.is_file() or path.read_bytes() != table
    if table_changed:
        atomic_write_bytes(path, table)
    # compared as JSON text, so tuples and lists (say) count as equal, and NaN as NaN
    if table_changed or _recorded_meta(meta_path) != _stable(json.loads(meta_text)):
        atomic_write_bytes(meta_path, meta_text.encode())
    return path


def _check_run(run: object) -> None:
    """A one-line error for anything but a :class:`~intrinsic_rob.pipeline.run.Run` (a profile's name, say)."""
    from intrinsic_rob.pipeline.run import Run

    if not isinstance(run, Run):
        raise InputError(f"run must be an intrinsic_rob.pipeline.run.Run (from setup_chapter(profile) or "
                         f"Run.from_environment(root, profile)), got {run!r}")


def _stable(meta: dict) -> str:
    """``meta`` without the fields in :data:`VOLATILE_PROVENANCE`, as canonical JSON text."""
    return json.dumps({k: v for k, v in meta.items() if k not in VOLATILE_PROVENANCE}, sort_keys=True)


def _recorded_meta(path: Path) -> str | None:
    """The provenance recorded at ``path`` less its volatile fields, or None if missing or unreadable."""
    try:
        return _stable(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, AttributeError):  # missing, not JSON, not an object
        return None


def read_table(name: str, run: Run) -> tuple[pd.DataFrame, dict] | None:
    """A table this run wrote (in :attr:`~intrinsic_rob.pipeline.run.Run.tables`) and its provenance, or None.

    What a later chapter reads of an earlier chapter's results in the same run. A table
    missing there is looked for under the run's ``results_input/<profile>/`` when it has
    one (a sweep's point reads what the book's chapters wrote).
    """
    _check_run(run)
    path = run.tables / f"{name}.csv"
    if not path.exists() and run.results_input is not None:
        path = run.results_input / run.profile / f"{name}.csv"
    if not path.exists():
        return None
    return pd.read_csv(path), json.loads(path.with_suffix(".json").read_text())


def read_recorded_table(name: str, profile: str, root: Path) -> tuple[pd.DataFrame, dict] | None:
    """The committed table results/<profile>/<name>.csv under ``root`` and its provenance, or None.

    Unlike :func:`read_table`, this ignores where the run writes: it reads what the
    project recorded (for example a GPU run of the paper profile), not what this process writes.
    """
    path = root / "results" / profile / f"{name}.csv"
    if not path.exists():
        return None
    return pd.read_csv(path), json.loads(path.with_suffix(".json").read_text())
