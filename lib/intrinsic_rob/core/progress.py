"""Progress bars that a caller can turn off, and that $TQDM_DISABLE turns off everywhere.

tqdm reads TQDM_* variables only for arguments not passed explicitly, so a library that
passes ``disable=`` must honour the variable itself.

:func:`route_bars` ("stderr") sends the bars to the process's *original* standard error
instead, and then $TQDM_DISABLE does not hide them. The book pipeline sets
$TQDM_DISABLE and $INTRINSIC_ROB_PROGRESS=stderr in the kernel that executes a chapter
(never in its own process), and the chapter's set-up reads the latter once
(:func:`intrinsic_rob.pipeline.book.setup_chapter` calls :func:`route_bars`): TQDM_DISABLE keeps
every progress bar out of the notebook's outputs, and the route puts the library's bars
on the terminal of ``intrinsic-rob book``. Under ipykernel, ``sys.stderr`` is the
kernel's OutStream, which sends what is written to file descriptor 2 into the notebook;
its ``fileno()`` is the copy it keeps of the descriptor the kernel was started with (the
terminal), and that copy is where the bars go. ``intrinsic-rob book --no-progress`` sets
only TQDM_DISABLE.
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any, TextIO

from tqdm import tqdm

from intrinsic_rob.core.errors import InputError

DISABLE_ENV = "TQDM_DISABLE"
_TERMINAL: dict[int, TextIO] = {}  # per process id: the original standard error, opened once
_ROUTE = {"to": ""}  # where the bars go: "" (tqdm's default) or "stderr" (route_bars)


def route_bars(where: str) -> None:
    """Send every later progress bar of this process to ``where``: "stderr" (the original standard
    error, whatever $TQDM_DISABLE says) or "" (tqdm's default, hidden by $TQDM_DISABLE)."""
    if where not in ("", "stderr"):
        raise InputError(f"$INTRINSIC_ROB_PROGRESS must be 'stderr' or unset, got {where!r}")
    _ROUTE["to"] = where


def bars_routed() -> bool:
    """Whether :func:`route_bars` sent the bars to the original standard error."""
    return _ROUTE["to"] == "stderr"


def original_stderr() -> TextIO:
    """A text stream on the process's original standard error (opened once per process).

    Under ipykernel that is the descriptor the kernel was started with, which its OutStream
    keeps (``sys.stderr.fileno()``) while it captures descriptor 2 into the notebook; where
    standard error is not captured (a plain process, or a kernel started under pytest) it
    is descriptor 2 itself. The stream does not own the descriptor.
    """
    pid = os.getpid()
    if pid not in _TERMINAL:
        try:
            fd = sys.stderr.fileno()
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
            fd = 2
        _TERMINAL[pid] = io.TextIOWrapper(
            io.FileIO(fd, "w", closefd=False), encoding="utf-8", errors="replace", line_buffering=True
        )
    return _TERMINAL[pid]


def progress_bar(*args: Any, enabled: bool = True, **kwargs: Any) -> tqdm:
    """``tqdm(*args, **kwargs)``, shown only if ``enabled`` and $TQDM_DISABLE is unset.

    Routed to "stderr" (:func:`route_bars`), the bar is written to :func:`original_stderr`
    (unless ``file=`` is given) and shown whenever ``enabled``, whatever $TQDM_DISABLE says.
    """
    if bars_routed():
        if enabled:
            kwargs.setdefault("file", original_stderr())
        return tqdm(*args, disable=not enabled, **kwargs)
    off = not enabled or os.environ.get(DISABLE_ENV, "").lower() in ("1", "true", "yes")
    return tqdm(*args, disable=off, **kwargs)
