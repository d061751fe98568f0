"""``intrinsic-rob lipschitz``: a generator's local Lipschitz constants (Algorithm 1)."""

from __future__ import annotations

import argparse
import time

from intrinsic_rob.cli.options import add_generator_options, generator_from_args, run_of
from intrinsic_rob.data.datasets import get_dataset


def command(args: argparse.Namespace) -> int:
    from dataclasses import asdict, replace

    from intrinsic_rob.core.devices import pin_allocator, resolve_device
    from intrinsic_rob.data.datasets import class_names
    from intrinsic_rob.estimators.lipschitz import lipschitz_table, summarise_table
    from intrinsic_rob.paper import UNCONDITIONAL_MNIST_LIPSCHITZ
    from intrinsic_rob.pipeline.profiles import get_profile
    from intrinsic_rob.pipeline.results import module_digest, write_table
    from intrinsic_rob.pipeline.tables import ASCII_PLUS_MINUS, beside_paper, mean_std

    prof = get_profile(args.profile)
    pin_allocator()
    given = {key: getattr(args, key) for key in ("num_samples", "num_neighbors", "trials", "radius", "delta")}
    settings = replace(prof.lipschitz, **{k: v for k, v in given.items() if v is not None})
    device = resolve_device(args.device)
    names = class_names(args.dataset, unconditional=args.unconditional)
    run = run_of(args)
    source = generator_from_args(args, run)
    generator = source.generator.to(device)
    started = time.perf_counter()
    table = lipschitz_table(generator, names, settings, method=args.method, seed=prof.seed,
                            progress=not args.no_progress)
    seconds = time.perf_counter() - started
    summary = summarise_table(table)
    if args.unconditional:
        summary["paper"] = [f"{UNCONDITIONAL_MNIST_LIPSCHITZ:.2f}"]
    else:
        summary = beside_paper(summary, get_dataset(args.dataset).paper_lipschitz, sep=ASCII_PLUS_MINUS)
    name = f"lipschitz_{args.dataset}{'_unconditional' if args.unconditional else ''}_{args.method}"
    extra = {"generator": source.description, "generator_sha256": module_digest(generator),
             "settings": {**asdict(settings), "method": args.method, "seed": prof.seed}, "seconds": round(seconds, 1)}
    path = write_table(table.assign(generator=source.description), name, run, extra=extra)
    print(f"Algorithm 1 ({args.method}), {source.description}")
    print(f"S = {settings.num_samples}, N = {settings.num_neighbors}, r = {settings.radius:g}, "
          f"delta = {settings.delta:g}, {settings.trials} trials; images in [0, 1]")
    print()
    print(f"  {'class':<14} {'L (mean +- std)':>18} {'paper':>14}")
    for row in summary.itertuples():
        print(f"  {row.name:<14} {mean_std(row.mean, row.std, sep=ASCII_PLUS_MINUS):>18} {row.paper:>14}")
    print()
    print(f"L_max = {summary['mean'].max():.3f}; {seconds:.0f} s on {device}; per-trial values written to {path}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    lp = sub.add_parser(
        "lipschitz", help="Tables 1 and 2: local Lipschitz constants per class (Algorithm 1)",
        description="Local Lipschitz constants per class (Algorithm 1, or gradient ascent with the same budget), "
                    "printed beside the paper's; the per-trial values and their provenance are written to "
                    "results/<profile>/lipschitz_<dataset>[_unconditional]_<method>.csv and .json.")
    add_generator_options(lp)
    lp.add_argument("--method", default="sample", choices=("sample", "gradient"),
                    help="sample: Algorithm 1's random neighbours (default); gradient: projected gradient ascent "
                         "of the ratio with the same budget of generator evaluations")
    lp.add_argument("--unconditional", action="store_true",
                    help="MNIST only: the unconditional GAN of Section 5.2 (same networks, labels dropped)")
    lp.add_argument("--samples", dest="num_samples", type=int, help="S (default: the profile's)")
    lp.add_argument("--neighbors", dest="num_neighbors", type=int, help="N (default: the profile's)")
    lp.add_argument("--trials", type=int, help="repetitions (default: the profile's)")
    lp.add_argument("--radius", type=float, help="r (default: the profile's)")
    lp.add_argument("--delta", type=float, help="delta (default: the profile's)")
    lp.set_defaults(func=command)
