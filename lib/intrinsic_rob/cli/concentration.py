"""``intrinsic-rob concentration``: intrinsic robustness bracketed, a half-space's lower estimate against
Theorem 4.4's upper bound for the same generator."""

from __future__ import annotations

import argparse
import json
import time

from intrinsic_rob.cli.options import add_generator_options, generator_from_args, int_in, run_of


def command(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from intrinsic_rob import paper
    from intrinsic_rob.core.devices import resolve_device
    from intrinsic_rob.estimators.concentration import generator_sampler, halfspace_robustness
    from intrinsic_rob.pipeline.profiles import get_profile
    from intrinsic_rob.pipeline.results import module_digest, write_table

    prof = get_profile(args.profile)
    run = run_of(args)
    source = generator_from_args(args, run)
    generator = source.generator.to(resolve_device(args.device)).eval()
    started = time.perf_counter()
    estimates = halfspace_robustness(generator_sampler(generator, resolve_device(args.device)), args.alpha, args.eps,
                                     n_fit=args.n_fit, n_eval=args.n_eval, seed=prof.seed, per_class=args.per_class,
                                     confidence=args.confidence, progress=not args.no_progress)
    seconds = time.perf_counter() - started
    bounds, about = _upper_bounds(args, run, source.description, generator.num_classes, paper.LIPSCHITZ_RADIUS)
    rows = pd.DataFrame([e.as_row() for e in estimates])
    for name, bound in bounds.items():
        rows[f"upper_{name}"] = [bound.curve(args.alpha, e) for e in rows["eps"]]
    rows.insert(0, "generator", source.description)
    extra = {"generator": source.description, "generator_sha256": module_digest(generator), "upper_bound": about,
             "directions": {f"{e.eps:g}": np.round(e.halfspace.direction, 8).tolist() for e in estimates},
             "seconds": round(seconds, 1), "seed": prof.seed}
    path = write_table(rows, f"concentration_{args.dataset}", run, extra=extra)
    if args.json:
        print(json.dumps({"generator": source.description, "alpha": args.alpha, "per_class": args.per_class,
                          "upper_bound": about, "rows": rows.drop(columns="generator").to_dict(orient="records")}))
        return 0
    _print_bracket(args, rows, bounds, about, source.description)
    print(f"{seconds:.0f} s; written to {path}")
    return 0


def _upper_bounds(args: argparse.Namespace, run, description: str, classes: int, radius: float):  # noqa: ANN001
    """Theorem 4.4's bound per Lipschitz estimate of this generator, from the constants by radius recorded under
    the run's results (chapter 3 writes them); ({}, the reason) where there are none for this generator."""
    import numpy as np

    from intrinsic_rob.estimators.in_dist import generator_bounds
    from intrinsic_rob.pipeline.results import read_table

    name = f"lipschitz_by_radius_{args.dataset}"
    found = read_table(name, run)
    if found is None:
        return {}, f"none: no {name} table under {run.tables} (chapter 3 writes it)"
    table, _ = found
    if set(table.get("generator", [])) != {description}:
        return {}, f"none: {name} holds the constants of another generator"
    bounds = generator_bounds(table, radius, np.full(classes, 1.0 / classes))
    about = {b.estimate: {"lmax": b.lmax, "radius": b.radius, "delta": b.delta} for b in bounds.values()}
    return bounds, about


def _print_bracket(args: argparse.Namespace, rows, bounds: dict, about, description: str) -> None:  # noqa: ANN001
    form = "per-class risk >= alpha (F~_alpha)" if args.per_class else "risk >= alpha (F_alpha)"
    print(f"Intrinsic robustness of {description}, classifiers of {form}, alpha = {args.alpha:g}")
    print(f"  lower: a half-space fitted on {args.n_fit:,} images, measured on {args.n_eval:,} fresh ones "
          f"(one-sided {args.confidence:.0%} bound in brackets)")
    if bounds:
        for name, info in about.items():
            print(f"  upper: Theorem 4.4 with {name} L_max = {info['lmax']:.3f} at r = {info['radius']:g}, "
                  f"delta = {info['delta']:.4f}, eps/L capped at r")
    else:
        print(f"  upper: {about}")
    uppers = "".join(f"  {'upper ' + n:>16}" for n in bounds)
    print(f"  {'eps':>5}  {'lower':>7} {'(bound)':>9}  {'mu(E)':>7}{uppers}")
    for row in rows.itertuples():
        flag = "" if row.in_class else f"  (mu(E) not shown >= alpha at {args.confidence:.0%})"
        uppers = "".join(f"  {getattr(row, 'upper_' + n):>16.4f}" for n in bounds)
        print(f"  {row.eps:>5g}  {row.robustness:>7.4f} ({row.robustness_lower:>7.4f})  {row.measure:>7.4f}"
              f"{uppers}{flag}")


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "concentration",
        help="intrinsic robustness bracketed: a half-space's lower estimate and Theorem 4.4's upper bound",
        description="Fits a half-space of measure alpha to the generated distribution and measures its "
                    "eps-expansion on fresh images: 1 - mu(E_eps) is a lower estimate of the intrinsic robustness. "
                    "Beside it, Theorem 4.4's bound from the generator's Lipschitz constants recorded by chapter 3. "
                    "Writes results/<profile>/concentration_<dataset>.{csv,json}.")
    add_generator_options(parser)
    parser.add_argument("--alpha", type=float, required=True, help="the classifiers' risk, in (0, 1)")
    parser.add_argument("--eps", type=float, nargs="+", default=[1.0, 2.0, 3.0], help="l2 radii >= 0 (default 1 2 3)")
    parser.add_argument("--per-class", action="store_true", help="classifiers of per-class risk >= alpha")
    parser.add_argument("--n-fit", type=int_in(2, 10_000_000), default=20_000, help="images the half-space is fitted "
                        "on, 2..10000000 (default 20000)")
    parser.add_argument("--n-eval", type=int_in(2, 100_000_000), default=100_000, help="fresh images its measures "
                        "are counted on, 2..100000000 (default 100000)")
    parser.add_argument("--confidence", type=float, default=0.95, help="of each one-sided bound, in [0.5, 1) "
                        "(default 0.95)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.set_defaults(func=command)

