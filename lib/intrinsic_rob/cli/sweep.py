"""``intrinsic-rob sweep``: one notebook executed per point of a grid, on Dask."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from intrinsic_rob.cli.options import PROG, int_in, writable_folder
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.pipeline.profiles import PROFILES


def command(args: argparse.Namespace) -> int:
    """Run a sweep; exit 1 naming the failed points, if any."""
    from intrinsic_rob.pipeline.book import book_root_or_folder, find_root
    from intrinsic_rob.pipeline.run import Run
    from intrinsic_rob.pipeline.sweep import job_script, run_sweep

    if args.job_script:
        if not args.cluster:
            raise InputError("--job-script needs --cluster slurm|pbs")
        print(job_script(args.cluster, Path(args.jobqueue_config) if args.jobqueue_config else None))
        return 0
    if args.notebook is None:
        raise InputError("NOTEBOOK is required: a chapter's name (e.g. 04_robust) or a .py or .ipynb path")
    root = find_root(Path(args.root)) if args.root else book_root_or_folder()
    results = writable_folder(args.results, "--results") if args.results else \
        Run.from_environment(root, args.profile).results
    res = run_sweep(args.notebook, profile=args.profile, grid=args.grid or [], name=args.name,
                    repeat=args.repeat or [], workers=args.workers, scheduler=args.scheduler, cluster=args.cluster,
                    jobqueue_config=Path(args.jobqueue_config) if args.jobqueue_config else None, root=root,
                    results=results, progress=not args.no_progress)
    shown = res.folder.relative_to(root) if res.folder.is_relative_to(root) else res.folder
    print(f"[{PROG}] sweep {shown}: {len(res.points)} points, {len(res.executed)} executed, "
          f"{len(res.skipped)} already done, {len(res.failed)} failed ({res.seconds:.1f} s); "
          f"collected {shown / 'collected.csv'}", flush=True)
    if res.failed:
        for key, error in res.failed.items():
            print(f"{PROG}: error: point {key} failed: {error}".splitlines()[0], file=sys.stderr)
        return 1
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    sw = sub.add_parser(
        "sweep", help="execute a notebook once per point of a parameter grid, on Dask",
        description="Execute a chapter (e.g. 04_robust) or any Jupytext .py or .ipynb notebook with a 'parameters' "
                    "cell once per point of the product of the --grid options, with papermill on Dask distributed. "
                    "Results go to results/<profile>/sweeps/<name>/ (collected.csv: one row per point). Finished "
                    "points are skipped when the sweep is run again.")
    sw.add_argument("notebook", nargs="?", help="a chapter's name or the path of a notebook")
    sw.add_argument("--profile", default="quick", choices=tuple(PROFILES),
                    help="the profile whose parameters each point starts from (default quick)")
    sw.add_argument("--grid", action="append", metavar="NAME=V1,V2,...",
                    help="a swept parameter and its values (repeatable; the points are the product)")
    sw.add_argument("--name", help="the sweep's folder name (default: the notebook's)")
    sw.add_argument("--repeat", action="append", metavar="NAME",
                    help="a swept parameter that only repeats the measurement (e.g. seed): summary.csv averages "
                         "over it (repeatable)")
    sw.add_argument("--workers", type=int_in(1, 1024), metavar="N",
                    help="LocalCluster worker processes, 1..1024 (default: half the cores), or jobs with --cluster")
    where = sw.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing Dask scheduler (tcp://host:8786)")
    where.add_argument("--cluster", choices=("slurm", "pbs"), help="start workers as batch jobs with dask-jobqueue")
    sw.add_argument("--jobqueue-config", metavar="FILE",
                    help="dask-jobqueue settings (default: ~/.config/dask/jobqueue.yaml)")
    sw.add_argument("--job-script", action="store_true",
                    help="print the batch script --cluster would submit, and exit")
    sw.add_argument("--no-progress", action="store_true", help="no progress bar")
    sw.add_argument("--root", help="this book's root, for its chapters (default: the book holding the current "
                                   "folder, else the current folder, where a notebook of one's own runs)")
    sw.add_argument("--results", metavar="DIR",
                    help="the folder that receives <profile>/sweeps/<name>/ (default: results/ under the root)")
    sw.set_defaults(func=command)
