"""setup_chapter fixes the thread count of every BLAS library a chapter uses, scipy's own included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_PROBE = """
import json
from intrinsic_rob.book import setup_chapter
setup_chapter("quick", threads=1)
import scipy.optimize, scipy.stats  # loaded after the set-up, as a chapter's later cells may
from threadpoolctl import threadpool_info
print(json.dumps([(i["internal_api"], i["num_threads"], i["filepath"]) for i in threadpool_info()]))
"""


def test_every_blas_library_runs_the_chapters_thread_count(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env["PYTHONPATH"] = str(ROOT / "lib")
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300, check=True).stdout
    pools = json.loads(out.strip().splitlines()[-1])
    blas = [p for p in pools if p[0] in ("openblas", "mkl", "blis")]
    assert any("scipy" in p[2] for p in blas), pools  # scipy's own OpenBLAS is among them
    assert all(p[1] == 1 for p in pools), pools
