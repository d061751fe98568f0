"""``intrinsic-rob bound``: Theorem 4.4's upper bound on intrinsic robustness for given constants."""

from __future__ import annotations

import argparse
import json

import numpy as np

from intrinsic_rob.cli.options import int_in
from intrinsic_rob.core.errors import InputError


def command(args: argparse.Namespace) -> int:
    from intrinsic_rob.theory.bounds import robustness_bound, robustness_bound_a4

    if args.radius is None and not args.global_lipschitz:
        raise InputError(
            "--radius is required: the radius r at which the local constants were measured "
            "(Theorem 4.3 needs r * L >= eps); give --global-lipschitz for global constants"
        )
    if args.radius is not None and args.global_lipschitz:
        raise InputError("--radius and --global-lipschitz exclude each other")
    lip = np.asarray(args.lipschitz, dtype=float)
    probs = None if args.class_probs is None else np.asarray(args.class_probs, dtype=float)
    if probs is not None and lip.size not in (1, probs.size):
        raise InputError(
            f"--class-probs has {probs.size} entries but --lipschitz has {lip.size}; "
            "give one Lipschitz constant per class or a single one"
        )
    kwargs = dict(class_probs=probs, delta=args.delta, per_class_lipschitz=args.per_class_lipschitz)
    if args.per_class_risk or not args.any_alpha:
        res = robustness_bound(args.alpha, args.eps, lip, radius=args.radius, per_class_risk=args.per_class_risk,
                               **kwargs)
    else:
        res = robustness_bound_a4(args.alpha, args.eps, lip, radius=args.radius, **kwargs)
    results = [
        {"eps": float(e), "robustness_bound": round(float(v), args.digits), "capped": bool(c),
         "lipschitz_used": float(used.max()), "eps_over_lipschitz": float(e / used.max())}
        for e, v, c, used in zip(res.eps, np.atleast_1d(res.value), np.atleast_1d(res.capped), res.lipschitz)
    ]
    if args.json:
        print(json.dumps({"alpha": args.alpha, "delta": args.delta, "lipschitz_max": float(lip.max()),
                          "radius": args.radius, "per_class_risk": bool(args.per_class_risk), "results": results}))
    else:
        _print_bound(args, results, lip_max=float(lip.max()), classes=probs.size if probs is not None else lip.size)
    return 0


def _print_bound(args: argparse.Namespace, results: list[dict], *, lip_max: float, classes: int) -> None:
    """The bound command's table, one row per eps, with what capped or made a row vacuous."""
    digits = args.digits
    form = "per-class risk >= alpha (F~_alpha)" if args.per_class_risk else "total risk >= alpha (F_alpha)"
    scope = "global constants" if args.radius is None else f"local constants measured at r = {args.radius:g}"
    print("Theorem 4.4: upper bound on intrinsic robustness")
    print(f"  classifiers: {form}")
    print(f"  alpha = {args.alpha:g}   delta = {args.delta:g}   L_max = {lip_max:g}   classes = {classes}")
    print(f"  Lipschitz: {scope}")
    print()
    print(f"  {'eps':>8}  {'eps/L':>8}  {'bound':>{digits + 4}}")
    for row in results:
        notes = []
        if row["capped"]:
            notes.append(f"capped: eps > r*L, L raised to eps/r = {row['lipschitz_used']:g}")
        if row["robustness_bound"] >= 1:
            notes.append("vacuous")
        note = f"  ({'; '.join(notes)})" if notes else ""
        print(f"  {row['eps']:>8g}  {row['eps_over_lipschitz']:>8.4f}  "
              f"{row['robustness_bound']:>{digits + 4}.{digits}f}{note}")


def add_parser(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser(
        "bound", help="Theorem 4.4's upper bound on intrinsic robustness",
        description="Theorem 4.4's upper bound on the intrinsic robustness of classifiers with risk at least alpha, "
                    "for a conditional generator with local Lipschitz constants L_i(r). Where eps > r * L the "
                    "constant is raised to eps / r, as Theorem 4.3's hypothesis requires, and the row says so.")
    b.add_argument("--alpha", type=float, required=True, help="risk threshold in (0, 1)")
    b.add_argument("--eps", type=float, nargs="+", required=True, help="l2 radii (>= 0)")
    b.add_argument(
        "--lipschitz", type=float, nargs="+", required=True, help="local Lipschitz constants, one per class"
    )
    b.add_argument("--delta", type=float, default=0.0, help="failure probability in [0, 1) (default 0)")
    b.add_argument("--class-probs", type=float, nargs="+", help="class probabilities (default uniform)")
    b.add_argument(
        "--per-class-risk", action="store_true", help="classifiers with risk >= alpha on every class"
    )
    b.add_argument(
        "--per-class-lipschitz", action="store_true", help="use each class's L_i instead of L_max"
    )
    b.add_argument(
        "--any-alpha",
        action="store_true",
        help="F_alpha form for alpha > min class probability, by solving (A.4) exactly",
    )
    b.add_argument("--radius", type=float,
                   help="r > 0 at which the local constants were measured (Condition 4.1); where eps > r * L "
                        "the constant is raised to eps / r, as Theorem 4.3 requires, and the row says so")
    b.add_argument("--global-lipschitz", action="store_true",
                   help="the constants are global (valid at every eps); instead of --radius")
    b.add_argument("--digits", type=int_in(1, 15), default=4, metavar="1..15",
                   help="decimals printed (default 4)")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.set_defaults(func=command)
