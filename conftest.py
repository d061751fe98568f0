"""pytest set-up for the whole project (unit tests and nbval on book/)."""

from __future__ import annotations

import os
import tempfile

import pytest
from _pytest.doctest import DoctestItem


def pytest_configure(config):
    # The kernels' environment for this process and the notebook kernels it starts (intrinsic_rob.core.kernels).
    from intrinsic_rob.core.kernels import pin_environment

    pin_environment()
    # Notebook kernels started by nbval inherit the environment: re-executed chapters then
    # write their result tables to a scratch folder, leaving results/ as committed.
    os.environ.setdefault("INTRINSIC_ROB_RESULTS", tempfile.mkdtemp(prefix="intrinsic-rob-results-"))
    # As in `intrinsic-rob book`: no progress bars in re-executed notebooks.
    os.environ["TQDM_DISABLE"] = "1"


def pytest_report_header(config):
    # Which processor computed the re-executed notebooks: the first thing to read when nbval differs.
    import platform

    import torch

    fields = {}
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    flags = set(fields.get("flags", "").split())
    wide = sorted(flags & {"avx2", "avx512f", "amx_tile"})
    return (f"processor: {fields.get('model name', platform.machine())}, {fields.get('cache size', '?')} cache, "
            f"{' '.join(wide) or 'no AVX2'}; torch {torch.__version__} on {torch.backends.cpu.get_cpu_capability()} kernels")


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
