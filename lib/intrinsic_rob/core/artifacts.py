"""Cached artifacts: keyed by a hash of their configuration, written atomically, verified on load.

An artifact folder is ``<artifacts>/<group>/<kind>-<hash>/``, where ``<artifacts>`` is a
run's cache folder (:attr:`intrinsic_rob.pipeline.run.Run.artifacts`). Tensor files are safetensors; each has a ``.sha256`` sidecar
written after it. A file whose digest does not match, or that does not parse, is treated
as absent, so the caller rebuilds it rather than using it.

Two processes that want the same artifact at once (two notebooks, a notebook and the
CLI) build it once: :func:`load_or_build` loads it if it is there, and otherwise builds it
under :func:`building`, an exclusive lock on ``<folder>/.lock``; the process that waited
for the lock then loads what the other one wrote.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

try:  # POSIX (the project runs on Linux); elsewhere building() does not lock, see there
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file


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


def artifact_dir(kind: str, config: Any, group: str, artifacts: Path | None = None) -> Path:
    """``<artifacts>/<group>/<kind>-<hash>``, created, with the configuration saved beside it.

    ``artifacts`` is the cache folder (a run's :attr:`~intrinsic_rob.pipeline.run.Run.artifacts`;
    default ``artifacts/`` in the working directory). The key holds, beside ``config``,
    the CPU kernels the computation runs on (:data:`~intrinsic_rob.core.kernels.KERNELS`):
    weights trained on other kernels are other weights.
    """
    from intrinsic_rob.core.kernels import KERNELS

    base = Path(artifacts) if artifacts is not None else Path.cwd() / "artifacts"
    cfg = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    cfg = {**cfg, "cpu_kernels": KERNELS}
    folder = base / group / f"{kind}-{config_hash(cfg)}"
    folder.mkdir(parents=True, exist_ok=True)
    _write_if_changed(folder / "config.json", (json.dumps(cfg, indent=2, sort_keys=True, default=str) + "\n").encode())
    return folder


def _write_if_changed(path: Path, data: bytes) -> None:
    """Write ``data`` atomically unless ``path`` already holds exactly it.

    Safe when several processes do it at once: each writes its own temporary file and
    renames it over ``path``, so a reader sees one whole file or another, never a mix.
    A file that already holds the same bytes (the usual case: same folder, same
    configuration) is not rewritten, so a read-only cache works too; and if the rename
    fails because another process is replacing the same file (possible on Windows) but
    the file now holds the same bytes, that is success.
    """

    def same() -> bool:
        try:
            return path.read_bytes() == data
        except OSError:
            return False

    if same():
        return
    try:
        atomic_write_bytes(path, data)
    except OSError:
        if not same():
            raise


LOCK_NAME = ".lock"
T = TypeVar("T")

_held = threading.local()  # .counts: {lock path: depth} for the locks this thread holds


@contextmanager
def building(folder: Path, timeout: float | None = None, poll: float = 0.05) -> Iterator[Path]:
    """Hold an exclusive, cross-process lock on ``folder`` while building its artifact.

    The lock is ``fcntl.flock`` on ``<folder>/.lock`` (created if absent, never deleted:
    deleting it would let two processes lock two different files). The operating system
    releases it when the file is closed, so when the ``with`` block ends, raises, or the
    process dies (killed, out of memory); a ``.lock`` file left behind never blocks a
    later run. Threads are excluded from one another too; the same thread may nest
    ``building`` on the same folder. The file holds the holder's process id, for
    diagnosis only.

    ``timeout`` is how many seconds to wait for another holder (None: as long as it
    takes); past it, ``TimeoutError``. Yields the lock file's path.

    Not POSIX (no ``fcntl``): a ``RuntimeWarning`` says that there is no lock, and the
    block runs unlocked; two processes may then both build, which wastes time but
    corrupts nothing, as every file is written atomically.

    Use :func:`load_or_build`, which checks for the finished artifact before and after
    taking the lock. Directly:

        >>> import tempfile
        >>> scratch = tempfile.TemporaryDirectory()
        >>> folder = Path(scratch.name)
        >>> with building(folder, timeout=10) as lock:
        ...     if not (folder / "result.txt").exists():  # look again: another process may have made it
        ...         atomic_write_bytes(folder / "result.txt", b"42")
        >>> lock.name, (folder / "result.txt").read_text()
        ('.lock', '42')
        >>> scratch.cleanup()
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    key = str(path.resolve())
    counts: dict[str, int] | None = getattr(_held, "counts", None)
    if counts is None:
        counts = _held.counts = {}
    if counts.get(key):  # this thread holds it already: flock on a second descriptor would wait for itself
        counts[key] += 1
        try:
            yield path
        finally:
            counts[key] -= 1
        return
    if fcntl is None:  # pragma: no cover - not POSIX
        warnings.warn(f"no file locking on this platform: {folder} is built without a lock, so two processes "
                      "may both build it (each file is still written atomically)", RuntimeWarning, stacklevel=3)
        yield path
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        _lock(fd, path, timeout, poll)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:  # the note is for people; the lock does not need it
            pass
        counts[key] = 1
        try:
            yield path
        finally:
            del counts[key]
    finally:
        os.close(fd)  # releases the lock


def _lock(fd: int, path: Path, timeout: float | None, poll: float) -> None:
    """flock ``fd`` exclusively, waiting at most ``timeout`` seconds (None: no limit)."""
    if timeout is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                try:
                    holder = path.read_text().strip() or "unknown"
                except OSError:
                    holder = "unknown"
                raise TimeoutError(
                    f"{path} is still locked after {timeout:g} s (process {holder} is building this artifact); "
                    "wait for it, or stop it if it is stuck"
                ) from None
            time.sleep(min(poll, left))


def load_or_build(
    folder: Path, load: Callable[[], T | None], build: Callable[[], T], timeout: float | None = None
) -> T:
    """The artifact in ``folder``: loaded if it is there, otherwise built, once across processes.

    ``load()`` returns the artifact, or None when it is absent or damaged (the
    ``load_*`` functions here return None for a missing, truncated or tampered file).
    ``build()`` makes it, writes it into ``folder`` (atomically, e.g. with
    :func:`save_tensors`) so that ``load()`` finds it, and returns it.

    The steps: ``load()``; if None, take the lock (:func:`building`, waiting at most
    ``timeout`` seconds); ``load()`` again, since another process may have finished it
    while this one waited; if still None, ``build()``; release. So when two processes
    ask at once, one builds and the other waits and then loads. If ``build()`` raises,
    the lock is released and the error propagates; a waiting process then tries the
    build itself.

    Example:
        >>> import tempfile
        >>> scratch = tempfile.TemporaryDirectory()
        >>> folder = Path(scratch.name)
        >>> def load():
        ...     return load_tensors(folder / "x.safetensors")
        >>> def build():
        ...     tensors = {"x": torch.arange(3.0)}
        ...     save_tensors(folder / "x.safetensors", tensors)
        ...     return tensors
        >>> load_or_build(folder, load, build)["x"]  # built
        tensor([0., 1., 2.])
        >>> load_or_build(folder, load, lambda: 1 / 0)["x"]  # loaded; build is not called
        tensor([0., 1., 2.])
        >>> scratch.cleanup()
    """
    found = load()
    if found is not None:
        return found
    with building(folder, timeout=timeout):
        found = load()
        if found is not None:
            return found
        return build()


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
