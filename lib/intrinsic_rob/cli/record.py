"""``intrinsic-rob record``: collect a recorded profile's finished trials into its tables."""

from __future__ import annotations

import argparse
from pathlib import Path

from intrinsic_rob.cli.options import PROG
from intrinsic_rob.pipeline.profiles import PROFILES


def command(args: argparse.Namespace) -> int:
    """Turn a finished Table 3 sweep into the committed record (intrinsic_rob.pipeline.recorded)."""
    from intrinsic_rob.pipeline.book import find_root
    from intrinsic_rob.pipeline.recorded import record_table3, recorded_table3
    from intrinsic_rob.pipeline.run import Run

    root = find_root(Path(args.root) if args.root else None)
    paths = record_table3(Run.from_environment(root, args.profile))
    rec = recorded_table3(args.profile, root)
    counts = rec.provenance.groupby("method", sort=False)["trial"].nunique()
    print(f"[{PROG}] recorded {', '.join(f'{m} {n} trial(s)' for m, n in counts.items())} of the {args.profile} "
          f"profile: {', '.join(str(p.relative_to(root)) for p in paths)}", flush=True)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    rd = sub.add_parser(
        "record", help="turn a finished Table 3 sweep into the committed record of its profile",
        description="Read the finished points of results/<profile>/sweeps/table3_mnist (a sweep of "
                    "chapters/points/robust_trial.py) and write results/<profile>/table3_trials_mnist.csv (every "
                    "trial's accuracies) and table3_provenance_mnist.csv (per trial: wall time, versions, commit, "
                    "machine, the generator's and the weights' sha256), which Chapters 4 and 7 show.")
    rd.add_argument("--profile", default="cpu", choices=tuple(PROFILES), help="the recorded profile (default cpu)")
    rd.add_argument("--root", help="project root (default: found from the current folder)")
    rd.set_defaults(func=command)
