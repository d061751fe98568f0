"""Tidy result tables under results/<profile>/, written atomically with their provenance."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

import pandas as pd

from .artifacts import atomic_write_bytes

RESULTS_ENV = "INTRINSIC_ROB_RESULTS"
# Names the source commit where the code runs outside a git checkout (an exported copy).
COMMIT_ENV = "INTRINSIC_ROB_COMMIT"


def results_dir(profile: str, root: Path | None = None) -> Path:
    """results/<profile>/ under the project root, or under $INTRINSIC_ROB_RESULTS if set."""
    base = Path(os.environ[RESULTS_ENV]) if os.environ.get(RESULTS_ENV) else (root or Path.cwd()) / "results"
    folder = base / profile
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def provenance(root: Path | None = None) -> dict[str, str]:
    """Versions, device and source commit behind a result."""
    import numpy
    import scipy
    import torch

    from . import __version__

    info = {
        "intrinsic_rob": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({platform.machine()})",
    }
    # An exported copy of the source names its commit; its folder may hold a stale .git.
    info["commit"] = os.environ.get(COMMIT_ENV) or _git_head(root) or "unknown"
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


def module_digest(module: "torch.nn.Module") -> str:
    """sha256 of a module's state (names, shapes, dtypes and bytes): which weights a result used.

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
    import hashlib

    import torch

    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def write_table(frame: pd.DataFrame, name: str, profile: str, root: Path | None = None,
                extra: dict | None = None) -> Path:
    """Write ``frame`` to results/<profile>/<name>.csv and its provenance (plus ``extra``) to <name>.json."""
    folder = results_dir(profile, root)
    path = folder / f"{name}.csv"
    atomic_write_bytes(path, frame.to_csv(index=False).encode())
    meta = {"table": path.name, "profile": profile, **provenance(root), **(extra or {})}
    atomic_write_bytes(folder / f"{name}.json", (json.dumps(meta, indent=2) + "\n").encode())
    return path


def read_recorded_table(name: str, profile: str, root: Path) -> tuple[pd.DataFrame, dict] | None:
    """The committed table results/<profile>/<name>.csv under ``root`` and its provenance, or None.

    Unlike :func:`results_dir`, this ignores $INTRINSIC_ROB_RESULTS: it reads what the
    project recorded (for example a GPU run of the paper profile), not what this process writes.
    """
    path = root / "results" / profile / f"{name}.csv"
    if not path.exists():
        return None
    return pd.read_csv(path), json.loads(path.with_suffix(".json").read_text())
