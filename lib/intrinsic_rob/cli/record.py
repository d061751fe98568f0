"""``intrinsic-rob record``: collect a recorded profile's finished trials into its tables."""

from __future__ import annotations

import argparse
from pathlib import Path

from intrinsic_rob.cli.options import PROG
from intrinsic_rob.pipeline.profiles import PROFILES


def command(args: argparse.Namespace) -> int:
    """Turn the finished Table 3 and Figure 2 sweeps into the committed record (intrinsic_rob.pipeline.recorded)."""
    from intrinsic_rob.core.errors import InputError
    from intrinsic_rob.pipeline.book import find_root
    from intrinsic_rob.pipeline.recorded import finished_figure2, finished_trials, record_figure2, record_table3
    from intrinsic_rob.pipeline.run import Run

    root = find_root(Path(args.root) if args.root else None)
    run = Run.from_environment(root, args.profile)
    trials, figure2 = finished_trials(args.profile, root), finished_figure2(args.profile, root)
    if trials is None and figure2 is None:
        raise InputError(f"no finished point in results/{args.profile}/sweeps/table3_mnist/points or "
                         f"results/{args.profile}/sweeps/figure2_mnist_*/points: run the sweeps first")
    for name, found, record in (("Table 3", trials, record_table3), ("Figure 2", figure2, record_figure2)):
        if found is None:
            continue
        paths = record(run, found)
        counts = found.provenance.groupby("method", sort=False).size()
        unit = "trial(s)" if name == "Table 3" else "model(s)"
        print(f"[{PROG}] recorded {name}: {', '.join(f'{m} {n} {unit}' for m, n in counts.items())} of the "
              f"{args.profile} profile: {', '.join(str(p.relative_to(root)) for p in paths)}", flush=True)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    rd = sub.add_parser(
        "record", help="turn finished Table 3 and Figure 2 sweeps into the committed record of their profile",
        description="Read the finished points of results/<profile>/sweeps/table3_mnist (a sweep of "
                    "chapters/points/robust_trial.py) and write results/<profile>/table3_trials_mnist.csv (every "
                    "trial's accuracies) and table3_provenance_mnist.csv (per trial: wall time, versions, commit, "
                    "machine, the generator's and the weights' sha256), which Chapters 4 and 8 show; and those of "
                    "results/<profile>/sweeps/figure2_mnist_<method> (sweeps of chapters/points/figure2_model.py) "
                    "into figure2_points_mnist.csv, figure2_outcomes_mnist.csv and figure2_provenance_mnist.csv, "
                    "which Chapter 5 shows.")
    rd.add_argument("--profile", default="cpu", choices=tuple(PROFILES), help="the recorded profile (default cpu)")
    rd.add_argument("--root", help="project root (default: found from the current folder)")
    rd.set_defaults(func=command)
