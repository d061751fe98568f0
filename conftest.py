"""pytest set-up for the whole project (unit tests and nbval on book/)."""

from __future__ import annotations

import os
import tempfile

import pytest
from _pytest.doctest import DoctestItem


def pytest_configure(config):
    # The kernels' environment for this process and the notebook kernels it starts (intrinsic_rob.kernels).
    from intrinsic_rob.kernels import pin_environment

    pin_environment()
    # Notebook kernels started by nbval inherit the environment: re-executed chapters then
    # write their result tables to a scratch folder, leaving results/ as committed.
    os.environ.setdefault("INTRINSIC_ROB_RESULTS", tempfile.mkdtemp(prefix="intrinsic-rob-results-"))
    # As in `intrinsic-rob book`: no progress bars in re-executed notebooks.
    os.environ["TQDM_DISABLE"] = "1"


@pytest.fixture(autouse=True)
def _doctest_random_state(request):
    """Docstring examples (--doctest-modules on lib/) start from seed 0 and leave the global
    torch and numpy random state of the test process as they found it."""
    if not isinstance(request.node, DoctestItem):
        yield
        return
    import numpy as np
    import torch

    saved = np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        np.random.seed(0)
        yield
    np.random.set_state(saved)
