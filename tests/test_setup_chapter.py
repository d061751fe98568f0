"""setup_chapter fixes the thread count of every BLAS library a chapter uses, scipy's own included; the
ACGAN module stays below the estimators."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_PROBE = """
import json
from intrinsic_rob.pipeline.book import setup_chapter
setup_chapter("quick", threads=1)
import scipy.optimize, scipy.stats  # loaded after the set-up, as a chapter's later cells may
from threadpoolctl import threadpool_info
import os
print(json.dumps([[(i["internal_api"], i["num_threads"], i["filepath"]) for i in threadpool_info()],
                  os.environ["OPENBLAS_NUM_THREADS"]]))
"""


@pytest.mark.parametrize("inherited", [None, "4"])
def test_every_blas_library_runs_the_chapters_thread_count(tmp_path: Path, inherited: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    if inherited is not None:  # a kernel started with another count (a Dask worker's, say) still runs the chapter's
        env["OPENBLAS_NUM_THREADS"] = inherited
    env["PYTHONPATH"] = str(ROOT / "lib")
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300, check=True).stdout
    pools, variable = json.loads(out.strip().splitlines()[-1])
    blas = [p for p in pools if p[0] in ("openblas", "mkl", "blis")]
    assert any("scipy" in p[2] for p in blas), pools  # scipy's own OpenBLAS is among them
    assert all(p[1] == 1 for p in pools), pools
    assert variable == "1"  # what a BLAS library loaded later, or a child process, reads


def test_the_acgan_module_imports_no_estimator() -> None:
    code = ("import sys, intrinsic_rob.generators.acgan; "
            "print(sorted(m for m in sys.modules if m in ('intrinsic_rob.estimators.lipschitz', 'intrinsic_rob.estimators.spectral')))")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                         check=True).stdout
    assert out.strip() == "['intrinsic_rob.estimators.spectral']"
