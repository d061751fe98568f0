"""``intrinsic-rob concentration``: intrinsic robustness bracketed, a half-space's lower estimate against
Theorem 4.4's upper bound for the same generator."""

from __future__ import annotations

import argparse
import json
import time

from intrinsic_rob.cli.options import add_generator_options, generator_from_args, int_in, run_of
from intrinsic_rob.core.errors import InputError


def command(args: argparse.Namespace) -> int:
    import pandas as pd

    from intrinsic_rob import paper
    from intrinsic_rob.core.devices import resolve_device
    from intrinsic_rob.estimators.concentration import (
        check_alphas,
        check_settings,
        generator_sampler,
        halfspace_robustness,
    )
    from intrinsic_rob.pipeline.profiles import get_profile
    from intrinsic_rob.pipeline.results import module_digest, write_table

    eps = check_settings(args.alpha, args.eps, args.confidence)  # before any generator is trained
    alphas = check_alphas(args.alpha)
    prof = get_profile(args.profile)
    run = run_of(args)
    source = generator_from_args(args, run)
    device = resolve_device(args.device)
    generator = source.generator.to(device).eval()
    digest = module_digest(generator)
    bounds, about = _upper_bounds(args, run, source.description, digest, generator.num_classes,
                                  paper.LIPSCHITZ_RADIUS)
    started = time.perf_counter()
    estimates = halfspace_robustness(generator_sampler(generator, device), alphas, eps, n_fit=args.n_fit,
                                     n_eval=args.n_eval, seed=prof.seed, per_class=args.per_class,
                                     confidence=args.confidence, progress=not args.no_progress)
    seconds = time.perf_counter() - started
    rows = pd.DataFrame([e.as_row() for e in estimates])
    for name, bound in bounds.items():
        rows[f"upper_{name}"] = [bound.curve(a, e) for a, e in zip(rows["alpha"], rows["eps"])]
    rows.insert(0, "generator", source.description)
    extra = {"generator": source.description, "generator_sha256": digest, "upper_bound": about,
             "seconds": round(seconds, 1), "seed": prof.seed}
    form = "_per_class" if args.per_class else ""
    path = write_table(rows, f"concentration_{args.dataset}{form}", run, extra=extra)
    if args.json:
        print(json.dumps({"generator": source.description, "alpha": alphas, "per_class": args.per_class,
                          "upper_bound": about, "rows": rows.drop(columns="generator").to_dict(orient="records")}))
        return 0
    _print_bracket(args, rows, bounds, about, source.description)
    print(f"{seconds:.0f} s; written to {path}")
    return 0


def _upper_bounds(args: argparse.Namespace, run, description: str, digest: str, classes: int,  # noqa: ANN001
                  radius: float):
    """Theorem 4.4's bound per Lipschitz estimate of this generator, from the run's recorded constants: chapter
    3's by radius or, without them, ``intrinsic-rob lipschitz``'s per estimate; ({}, the reason) where there are
    none for this generator (named by description and, where recorded, by its weights' sha256)."""
    import numpy as np
    import pandas as pd

    from intrinsic_rob.estimators.in_dist import generator_bounds
    from intrinsic_rob.pipeline.results import read_table

    by_radius = f"lipschitz_by_radius_{args.dataset}"
    names = [f"lipschitz_{args.dataset}_{m}" for m in ("sample", "gradient")]
    chapter3 = read_table(by_radius, run)
    found = {by_radius: chapter3} if chapter3 is not None else {
        n: t for n in names if (t := read_table(n, run)) is not None}
    if not found:
        return {}, (f"none: no {by_radius} table (chapter 3 writes it) nor {names[0]} (intrinsic-rob lipschitz) "
                    f"under {run.tables}")
    for name, (table, meta) in found.items():
        if "generator" not in table:
            return {}, f"none: {name} does not name the generator its constants belong to"
        if set(table["generator"]) != {description} or meta.get("generator_sha256", digest) != digest:
            return {}, f"none: {name} holds the constants of another generator"
    table = pd.concat([t for t, _ in found.values()], ignore_index=True)
    try:
        bounds = generator_bounds(table, radius, np.full(classes, 1.0 / classes), per_class_risk=args.per_class)
    except ValueError as exc:  # no estimate at the radius
        raise InputError(f"{', '.join(found)}: {exc}") from None
    about = {b.estimate: {"lmax": b.lmax, "radius": b.radius, "delta": b.delta} for b in bounds.values()}
    about["source"] = {name: {"commit": meta.get("commit"), "generator_sha256": meta.get("generator_sha256")}
                       for name, (_, meta) in found.items()}
    return bounds, about


def _print_bracket(args: argparse.Namespace, rows, bounds: dict, about, description: str) -> None:  # noqa: ANN001
    form = "per-class risk >= alpha (F~_alpha)" if args.per_class else "risk >= alpha (F_alpha)"
    print(f"Intrinsic robustness of {description}, classifiers of {form}")
    region = "a union of one half-space per class" if args.per_class else "a half-space"
    print(f"  estimate: {region} fitted on {args.n_fit:,} images, measured on {args.n_eval:,} fresh ones; in "
          f"brackets its lower bound, which holds with the classifier's risk >= alpha at {args.confidence:.0%}")
    if bounds:
        for name, info in ((k, v) for k, v in about.items() if k in bounds):
            print(f"  upper: Theorem 4.4 with {name} L_max = {info['lmax']:.3f} at r = {info['radius']:g}, "
                  f"delta = {info['delta']:.4f}, eps/L capped at r")
    else:
        print(f"  upper: {about}")
    uppers = "".join(f"  {'upper ' + n:>16}" for n in bounds)
    print(f"  {'alpha':>7} {'eps':>5}  {'estimate':>8} {'(bound)':>9}  {'mu(E)':>7}{uppers}")
    for row in rows.itertuples():
        flag = "" if row.in_class else f"  (risk shown only >= {row.alpha_shown:.4f}: not a bound on Rob(F_alpha))"
        uppers = "".join(f"  {getattr(row, 'upper_' + n):>16.4f}" for n in bounds)
        print(f"  {row.alpha:>7g} {row.eps:>5g}  {row.robustness:>8.4f} ({row.robustness_lower:>7.4f})  "
              f"{row.measure:>7.4f}{uppers}{flag}")


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "concentration",
        help="intrinsic robustness bracketed: a half-space's lower estimate and Theorem 4.4's upper bound",
        description="Fits a half-space of measure alpha (per class: a union of half-spaces, each holding alpha of "
                    "its class) to the generated distribution and measures its "
                    "eps-expansion on fresh images: 1 - mu(E_eps) is a lower estimate of the intrinsic robustness. "
                    "Beside it, Theorem 4.4's bound from the generator's Lipschitz constants recorded by chapter 3. "
                    "Writes results/<profile>/concentration_<dataset>[_per_class].{csv,json}.")
    add_generator_options(parser)
    parser.add_argument("--alpha", type=float, nargs="+", required=True, help="the classifiers' risk(s), each in "
                        "(0, 1); further values share the images")
    parser.add_argument("--eps", type=float, nargs="+", default=[1.0, 2.0, 3.0], help="l2 radii >= 0 (default 1 2 3)")
    parser.add_argument("--per-class", action="store_true", help="classifiers of per-class risk >= alpha (a union "
                        "of one half-space per class)")
    parser.add_argument("--n-fit", type=int_in(3, 200_000), default=20_000, help="images the half-space is fitted "
                        "on, 3..200000 (default 20000)")
    parser.add_argument("--n-eval", type=int_in(2, 100_000_000), default=100_000, help="fresh images its measures "
                        "are counted on, 2..100000000 (default 100000)")
    parser.add_argument("--confidence", type=float, default=0.95, help="at which the classifier's risk >= alpha "
                        "and the lower bound hold together (each one-sided bound at (1 + c) / 2), in [0.5, 1) "
                        "(default 0.95)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.set_defaults(func=command)

