"""Paths for the tests: a plain module (not a test module), so test modules may import it.

Where a test needs the path only inside a function, the ``root`` fixture in conftest.py
gives the same path; import ``ROOT`` from here where it is needed at import time (e.g.
to parametrise over the chapters).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
