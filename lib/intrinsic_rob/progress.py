"""Progress bars that a caller can turn off, and that $TQDM_DISABLE turns off everywhere.

tqdm reads TQDM_* variables only for arguments not passed explicitly, so a library that
passes ``disable=`` must honour the variable itself; the book pipeline sets it so that
executed notebooks carry no progress output.
"""

from __future__ import annotations

import os
from typing import Any

from tqdm import tqdm


def progress_bar(*args: Any, enabled: bool = True, **kwargs: Any) -> tqdm:
    """``tqdm(*args, **kwargs)``, shown only if ``enabled`` and $TQDM_DISABLE is unset."""
    off = not enabled or os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes")
    return tqdm(*args, disable=off, **kwargs)
