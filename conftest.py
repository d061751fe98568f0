"""pytest set-up for the whole project (unit tests and nbval on book/)."""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config):
    # Notebook kernels started by nbval inherit the environment: re-executed chapters then
    # write their result tables to a scratch folder, leaving results/ as committed.
    os.environ.setdefault("INTRINSIC_ROB_RESULTS", tempfile.mkdtemp(prefix="intrinsic-rob-results-"))
    # As in `intrinsic-rob book`: no progress bars in re-executed notebooks.
    os.environ["TQDM_DISABLE"] = "1"
