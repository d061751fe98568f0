"""The ``intrinsic-rob`` command: one module per subcommand, each with its ``add_parser`` and its command.

    intrinsic-rob bound --alpha 0.015 --eps 1 2 3 --lipschitz 7.9 ... --radius 0.5 --delta 0.001 --per-class-risk
    intrinsic-rob book --profile quick

The command line parses, resolves the run (:func:`~intrinsic_rob.cli.options.run_of`) and calls the
library; the experiments themselves live in :mod:`intrinsic_rob.pipeline.experiments`. Bad input
exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from intrinsic_rob.cli import (
    bench,
    book,
    bound,
    concentration,
    data,
    in_dist,
    lipschitz,
    recognisability,
    record,
    robust,
    sweep,
)
from intrinsic_rob.cli.options import PROG, Parser
from intrinsic_rob.core.errors import InputError

#: The subcommands, in the order ``intrinsic-rob --help`` lists them.
SUBCOMMANDS = (bound, data, lipschitz, recognisability, robust, in_dist, concentration, bench, sweep, record, book)


def build_parser() -> argparse.ArgumentParser:
    """The command's parser: each subcommand's module adds its own."""
    parser = Parser(prog=PROG, description="Intrinsic robustness of conditional generative models.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns its exit status (2 with one line on stderr for bad input)."""
    from intrinsic_rob.core.kernels import use_portable_cpu_kernels
    from intrinsic_rob.core.progress import route_bars
    from intrinsic_rob.pipeline.run import progress_route

    parser = build_parser()
    try:
        use_portable_cpu_kernels()
        route_bars(progress_route())
        args = parser.parse_args(argv)
        return int(args.func(args))
    except InputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
