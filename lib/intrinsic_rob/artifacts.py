"""Cached artifacts: keyed by a hash of their configuration, written atomically, verified on load.

An artifact folder is ``artifacts/<profile>/<kind>-<hash>/`` (or under
$INTRINSIC_ROB_ARTIFACTS). Tensor files are safetensors; each has a ``.sha256`` sidecar
written after it. A file whose digest does not match, or that does not parse, is treated
as absent, so the caller rebuilds it rather than using it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

ARTIFACTS_ENV = "INTRINSIC_ROB_ARTIFACTS"


def config_hash(config: Any, length: int = 12) -> str:
    """Stable short hash of a dataclass or JSON-able configuration.

    Example:
        >>> config_hash({"a": 1, "b": 2})  # sha256 of the sorted JSON, first 12 hex digits
        'd8497d9d8277'
        >>> config_hash({"b": 2, "a": 1}) == config_hash({"a": 1, "b": 2}) != config_hash({"a": 1, "b": 3})
        True
    """
    if dataclasses.is_dataclass(config):
        config = dataclasses.asdict(config)
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def artifact_dir(kind: str, config: Any, profile: str, root: Path | None = None) -> Path:
    """``<base>/<profile>/<kind>-<hash>``, created, with the configuration saved beside it."""
    base = Path(os.environ[ARTIFACTS_ENV]) if os.environ.get(ARTIFACTS_ENV) else (root or Path.cwd()) / "artifacts"
    folder = base / profile / f"{kind}-{config_hash(config)}"
    folder.mkdir(parents=True, exist_ok=True)
    cfg = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config
    atomic_write_bytes(folder / "config.json", (json.dumps(cfg, indent=2, sort_keys=True, default=str) + "\n").encode())
    return folder


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def atomic_write(path: Path, writer: Callable[[str], Any]) -> None:
    """Call ``writer(tmp_path)`` and move the result onto ``path``; no partial file remains."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        writer(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".sha256")


def _write_verified(path: Path, writer: Callable[[str], Any]) -> None:
    """Write ``path`` atomically, then its sha256 sidecar (so a sidecar implies a whole file)."""
    atomic_write(path, writer)
    atomic_write_bytes(_sidecar(path), (_digest(path) + "\n").encode())


def _read_verified(path: Path, reader: Callable[[Path], Any]) -> Any | None:
    """``reader(path)`` if the file exists, matches its sidecar and parses; otherwise None."""
    sidecar = _sidecar(path)
    if not path.exists() or not sidecar.exists() or sidecar.read_text().strip() != _digest(path):
        return None
    try:
        return reader(path)
    except Exception:  # a file that matches its digest but does not parse is unusable too
        return None


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Save tensors as safetensors atomically, then their sha256 sidecar."""
    contiguous = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    _write_verified(path, lambda tmp: save_file(contiguous, tmp, metadata=metadata))


def load_tensors(path: Path) -> dict[str, torch.Tensor] | None:
    """Tensors from ``path`` if it exists and matches its sidecar; otherwise None."""
    return _read_verified(path, load_file)


def load_tensors_and_metadata(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]] | None:
    """Tensors and the safetensors header's metadata (empty if none) if intact; otherwise None."""

    def read(p: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        with safe_open(str(p), framework="pt") as handle:
            return {k: handle.get_tensor(k) for k in handle.keys()}, dict(handle.metadata() or {})

    return _read_verified(path, read)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Save a training checkpoint (tensors, numbers, lists, dicts) atomically."""
    _write_verified(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """A checkpoint loaded with ``weights_only=True`` if present and intact, else None."""
    return _read_verified(path, lambda p: torch.load(p, map_location="cpu", weights_only=True))
