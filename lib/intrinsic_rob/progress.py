"""Progress bars that a caller can turn off, and that $TQDM_DISABLE turns off everywhere.

tqdm reads TQDM_* variables only for arguments not passed explicitly, so a library that
passes ``disable=`` must honour the variable itself.

$INTRINSIC_ROB_PROGRESS=stderr sends the bars to the process's *original* standard error
instead, and then $TQDM_DISABLE does not hide them. The book pipeline sets both in the
kernel that executes a chapter (never in its own process): TQDM_DISABLE keeps every
progress bar out of the notebook's outputs, and INTRINSIC_ROB_PROGRESS puts the library's
bars on the terminal of ``intrinsic-rob book``. Under ipykernel, ``sys.stderr`` is the
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

from .errors import InputError

PROGRESS_ENV = "INTRINSIC_ROB_PROGRESS"
DISABLE_ENV = "TQDM_DISABLE"
_TERMINAL: dict[int, TextIO] = {}  # per process id: the original standard error, opened once


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

    With $INTRINSIC_ROB_PROGRESS=stderr the bar is written to :func:`original_stderr`
    (unless ``file=`` is given) and shown whenever ``enabled``, whatever $TQDM_DISABLE says.
    """
    where = os.environ.get(PROGRESS_ENV, "")
    if where:
        if where != "stderr":
            raise InputError(f"${PROGRESS_ENV} must be 'stderr' or unset, got {where!r}")
        if enabled:
            kwargs.setdefault("file", original_stderr())
        return tqdm(*args, disable=not enabled, **kwargs)
    off = not enabled or os.environ.get(DISABLE_ENV, "").lower() in ("1", "true", "yes")
    return tqdm(*args, disable=off, **kwargs)
