"""``intrinsic-rob bench``: benchmarks against baselines measured in the same run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from intrinsic_rob.cli.options import Parser, int_in

if TYPE_CHECKING:
    from intrinsic_rob.bench.in_dist import BudgetBenchmark

#: The ``bench`` commands' counted options: (flag, low, high, default, metavar, what, note on the default).
_BENCH_COUNTS: dict[str, tuple[tuple[str, int, int, int, str, str, str], ...]] = {
    "lipschitz": (("--samples", 1, 100000, 16, "S", "latents per run", ""),
                  ("--neighbors", 1, 100000, 500, "N", "neighbours per latent", ""),
                  ("--repeats", 1, 100, 5, "R", "interleaved rounds, each implementation credited with its best",
                   "")),
    "attack": (("--batch", 1, 4096, 128, "B", "images per attack", ""),
               ("--steps", 1, 10000, 100, "T", "PGD steps", ", Table 5"),
               ("--repeats", 1, 100, 3, "R", "interleaved rounds, each implementation credited with its best", ""),
               ("--strength-examples", 1, 4000, 1000, "N", "held-out digits attacked to compare strength", ""),
               ("--strength-seeds", 1, 100, 3, "S", "random starts averaged in the strength comparison", "")),
    "in-dist": (("--examples", 1, 1000, 64, "N", "correctly classified generated test digits attacked", ""),),
    "sweep": (("--points", 1, 100, 6, "N", "points (seeds) of examples/isoperimetry_sweep.py", ""),
              ("--workers", 1, 64, 2, "W", "LocalCluster worker processes", "")),
    "concentration": (("--n-fit", 3, 200_000, 20_000, "N", "images the half-spaces are fitted on", ""),
                      ("--n-eval", 2, 10_000_000, 100_000, "N", "fresh images their measures are counted on",
                       "; the recorded run's")),
    "train": (("--examples", 1, 5000, 512, "N", "embedded real digits in the epoch", ""),
              ("--inner-steps", 1, 1000, 10, "K", "PGD steps of the inner maximisation", "; Table 4: 40")),
}


def _record_bench(name: str, result) -> Path:  # noqa: ANN001 - any bench result with table() and as_dict()
    """Write a benchmark's table and its measurements (with provenance) to results/quick/bench_<name>.{csv,json}."""
    from intrinsic_rob.pipeline.results import write_table
    from intrinsic_rob.pipeline.run import Run

    return write_table(result.table(), f"bench_{name}", Run.from_environment(Path.cwd(), "quick"),
                       extra={"measurements": result.as_dict()})


def _lipschitz_command(args: argparse.Namespace) -> int:
    from intrinsic_rob.bench.speed import bench_lipschitz

    result = bench_lipschitz(num_samples=args.samples, num_neighbors=args.neighbors, repeats=args.repeats)
    path = _record_bench("lipschitz", result)
    if args.json:
        print(json.dumps(result.as_dict()))
        return 0
    r = result
    print(f"Lipschitz estimator benchmark (ACGAN generator, S = {r.num_samples}, N = {r.num_neighbors}, "
          f"{r.threads} threads, best of {r.rounds} interleaved rounds, "
          f"allocator {'pinned' if r.allocator_pinned else 'as found'})")
    print(f"  {'implementation':34s} {'ratios/s':>10s} {'speed-up':>9s} {'GFLOP/s':>8s} {'of matmul':>10s}")
    print(f"  {'straightforward Algorithm 1':34s} {r.baseline_ratios_per_s:10.0f} {1.0:8.2f}x")
    print(f"  {'batched, dense forward pass':34s} {r.dense_ratios_per_s:10.0f} {r.dense_speedup:8.2f}x "
          f"{r.dense_gflops:8.1f} {r.dense_fraction_of_matmul:10.0%}")
    print(f"  {'estimator (with ball evaluator)':34s} {r.estimator_ratios_per_s:10.0f} {r.speedup:8.2f}x "
          f"{r.estimator_gflops:8.1f} {r.fraction_of_matmul:10.0%}  (effective)")
    print(f"  {'first transposed convolution only':34s} {r.first_deconv_ratios_per_s:10.0f} {r.ceiling_speedup:8.2f}x"
          "  (ceiling: the rest of the pass free)")
    print(f"  fp32 matmul rate: {r.matmul_gflops:.1f} GFLOP/s")
    print(f"written to {path}")
    return 0


def _attack_command(args: argparse.Namespace) -> int:
    from intrinsic_rob.bench.speed import bench_attack
    from intrinsic_rob.core.validation import check_value

    check_value("--eps", args.eps, low=0, low_open=True)
    check_value("--step-size", args.step_size, low=0, low_open=True)
    r = bench_attack(batch=args.batch, eps=args.eps, step_size=args.step_size, steps=args.steps, repeats=args.repeats,
                     strength_examples=args.strength_examples, strength_seeds=args.strength_seeds)
    path = _record_bench("attack", r)
    if args.json:
        print(json.dumps(r.as_dict()))
        return 0
    print(f"PGD-L2 benchmark (seven-layer CNN, eps {r.eps:g}, step {r.step_size:g}, {r.steps} steps, {r.threads} "
          f"threads). Speed: batch {r.batch}, best of {r.rounds} interleaved rounds. Strength: {r.strength_examples} "
          f"held-out digits (natural accuracy {r.natural_accuracy:.1%}), mean over {r.strength_seeds} seeds")
    print(f"  {'implementation':16s} {'steps/s':>8s} {'robust accuracy':>16s}  per seed")
    for name, rate in r.steps_per_s.items():
        seeds = " ".join(f"{v:.1%}" for v in r.robust_accuracy_per_seed[name])
        print(f"  {name:16s} {rate:8.1f} {r.robust_accuracy[name]:16.2%}  {seeds}")
    print(f"  pgd_l2 / obvious: {r.speedup_over_obvious:.2f}x" + (
        f"; pgd_l2 / torchattacks: {r.speedup_over_torchattacks:.2f}x" if r.speedup_over_torchattacks else
        "; torchattacks not installed (pip install --no-deps torchattacks==3.5.1)"))
    print(f"written to {path}")
    return 0


def _train_command(args: argparse.Namespace) -> int:
    from intrinsic_rob.bench.speed import bench_train

    r = bench_train(examples=args.examples, inner_steps=args.inner_steps)
    path = _record_bench("train", r)
    if args.json:
        print(json.dumps(r.as_dict()))
        return 0
    print(f"Adv-Train, one epoch of {r.examples} digits (batch {r.batch_size}, {r.inner_steps} inner PGD steps, "
          f"{r.threads} threads): {r.seconds:.1f} s, {r.examples_per_s:.1f} examples/s, "
          f"{r.example_steps_per_s:.0f} example-steps/s (forward and backward passes of one example)")
    print(f"written to {path}")
    return 0


def _concentration_command(args: argparse.Namespace) -> int:
    from intrinsic_rob.bench.speed import bench_concentration

    r = bench_concentration(n_fit=args.n_fit, n_eval=args.n_eval)
    path = _record_bench("concentration", r)
    if args.json:
        print(json.dumps(r.as_dict()))
        return 0
    print(f"Half-space estimate of intrinsic robustness (ACGAN generator, {r.n_fit:,} fit and {r.n_eval:,} fresh "
          f"images, {r.halfspaces} half-spaces, {r.threads} threads)")
    print(f"  generating the images alone (baseline): {r.generation_seconds:6.1f} s ({r.images_per_s:,.0f} images/s)")
    print(f"  the whole estimate:                     {r.estimate_seconds:6.1f} s "
          f"({r.estimate_seconds / r.generation_seconds:.2f}x the baseline)")
    print(f"  of which fitting and counting:          {r.other_seconds:6.1f} s "
          f"(generation {r.generation_share:.0%} of the estimate)")
    print(f"written to {path}")
    return 0


def _in_dist_command(args: argparse.Namespace) -> int:
    from intrinsic_rob.bench.in_dist import bench_in_dist_budgets, plot_budgets
    from intrinsic_rob.core.validation import check_value
    from intrinsic_rob.pipeline.book import find_root
    from intrinsic_rob.pipeline.results import write_table
    from intrinsic_rob.pipeline.run import Run

    for b in args.budgets:
        check_value("--budgets", b, low=1, integer=True)
    if args.image_steps is not None:
        check_value("--image-steps", args.image_steps, low=1, integer=True)
    if args.lagrangian_budget is not None:
        check_value("--lagrangian-budget", args.lagrangian_budget, low=1, integer=True)
    run = Run.from_environment(find_root(), "quick")  # the book's quick models and its recorded baseline
    bench, about = bench_in_dist_budgets(examples=args.examples, budgets=args.budgets,
                                         lagrangian_budget=args.lagrangian_budget,
                                         image_steps=None if args.no_cross_check else (args.image_steps or 1000),
                                         run=run, progress=not args.no_progress)
    extra = {"about": about, "seconds": {k: round(v, 1) for k, v in bench.seconds.items()}, "verdict": bench.verdict}
    path = write_table(bench.table, "bench_in_dist_budgets", run, extra=extra)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = plot_budgets(bench.table)
    ax.set_title(f"{about['examples']} generated test digits, quick ACGAN, {about['method'].upper()}")
    figure = run.tables / "bench_in_dist_budgets.png"
    ax.figure.savefig(figure, dpi=150, bbox_inches="tight")
    plt.close(ax.figure)
    if args.json:
        print(json.dumps({"table": bench.table.to_dict(orient="records"), **extra}, default=float))
        return 0
    _print_bench_in_dist(bench, about)
    print(f"written to {path} and {figure}")
    return 0


def _print_bench_in_dist(bench: "BudgetBenchmark", about: dict) -> None:
    """bench in-dist's report: the table by attack and budget, the seconds, the targets' verdict, the cross-check."""
    from intrinsic_rob.bench.in_dist import (
        BASELINE,
        LAGRANGIAN,
        STRETCH_BUDGET,
        STRETCH_SLACK,
        TARGET_BUDGET,
        TARGET_EPS,
    )

    print(f"In-distribution attacks by budget: {about['examples']} generated test digits the quick profile's "
          f"{about['method'].upper()} classifier gets right, quick ACGAN, latents fitted once "
          f"({about['fit_seconds']:.0f} s); "
          f"{about['threads']} threads; baseline at budgets {about['baseline_reused'] or 'none'} read from "
          f"{about['record']}, the rest run and recorded there")
    eps_columns = [c for c in bench.table.columns if c.startswith("success_eps")]
    print(f"  {'attack':22s} {'budget':>7s} {'median':>7s} {'mean':>7s} {'found':>6s} "
          + " ".join(f"{'eps=' + c[len('success_eps'):]:>7s}" for c in eps_columns))
    for row in bench.table.itertuples(index=False):
        r = row._asdict()
        print(f"  {r['attack']:22s} {r['budget']:7d} {r['median']:7.3f} {r['mean']:7.3f} {r['found']:6.1%} "
              + " ".join(f"{r[c]:7.1%}" for c in eps_columns))
    for attack, seconds in bench.seconds.items():
        print(f"  {attack}: {seconds:.0f} s")
    v = bench.verdict
    key = f"success_eps{TARGET_EPS:g}"
    for name, budget, what in (("target", TARGET_BUDGET, "no larger"), ("stretch", STRETCH_BUDGET,
                                                                        f"within {STRETCH_SLACK:.0%} of")):
        t = v.get(name)
        if t is None:
            print(f"  {name}: not measured ({LAGRANGIAN} at {budget:,} is not in the budgets)")
            continue
        print(f"  {name} ({LAGRANGIAN} at {budget:,} against {BASELINE} at {v['baseline_budget']:,}: mean and "
              f"median {what}" + (f", success at eps={TARGET_EPS:g} no smaller" if name == "target" else "")
              + f"): {'met' if t['met'] else 'missed'}; mean x{t['mean_ratio']:.3f}, median x{t['median_ratio']:.3f}"
              + (f", success {t[key]:.1%} against {t['baseline_' + key]:.1%}" if name == "target" else ""))
    for attack, c in about["cross_check"].items():
        if "violations" in c:
            print(f"  image-space cross-check, {attack} at {c['budget']:,}: {c['violations']} of {c['examples']} "
                  f"digits closer than adv-lib's FMN found in image space (median ratio {c['median_ratio']:.2f})")


def _sweep_command(args: argparse.Namespace) -> int:
    from intrinsic_rob.bench.speed import bench_sweep

    r = bench_sweep(points=args.points, workers=args.workers)
    path = _record_bench("sweep", r)
    if args.json:
        print(json.dumps(r.as_dict()))
        return 0
    print(f"Sweep of {r.notebook} over {r.points} seeds (the notebook's own work: {r.compute_seconds:.2f} s a point)")
    print(f"  serially, one point after another: {r.serial_seconds:6.1f} s "
          f"({r.serial_seconds / r.points:.2f} s a point)")
    print(f"  on a LocalCluster of {r.workers} workers: {r.dask_seconds:6.1f} s (cluster start "
          f"{r.cluster_start_seconds:.1f} s, not included)")
    print(f"  speed-up: {r.speedup:.2f}x; overhead a point: {r.serial_overhead:.2f} s papermill and kernel, "
          f"{r.dask_overhead:+.2f} s Dask")
    print(f"written to {path}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    bn = sub.add_parser("bench", help="benchmarks against baselines measured in the same run")
    bsub = bn.add_subparsers(dest="bench_command", required=True, parser_class=Parser)
    commands = {
        "lipschitz": (dict(help="sampled estimator vs a straightforward Algorithm 1, and FLOP rate"),
                      _lipschitz_command),
        "attack": (dict(help="pgd_l2 vs the obvious PGD-L2 and torchattacks' PGDL2: steps/s and strength"),
                   _attack_command),
        "in-dist": (dict(help="in-distribution attacks by distance against budget (propagations per example), the "
                              "targets' verdict, and adv-lib's image-space cross-check",
                         description="Attacks the first N generated test digits the quick profile's TRADES model "
                                     "gets right with (5.2) under Appendix B.2's schedule (recorded under "
                                     "results/quick/ chunk by chunk, resumed and reused), the original schedule and "
                                     "the augmented Lagrangian; prints median and mean distance and success at "
                                     "eps = 1, 2, 3 at each budget; writes "
                                     "results/quick/bench_in_dist_budgets.{csv,json,png}."),
                    _in_dist_command),
        "sweep": (dict(help="a small sweep serially and on a two-worker LocalCluster: speed-up and overhead per "
                            "point"), _sweep_command),
        "concentration": (dict(help="the half-space estimate of intrinsic robustness: generation against fitting "
                                    "and counting"), _concentration_command),
        "train": (dict(help="Adv-Train throughput: examples per second and per inner PGD step"), _train_command),
    }
    for name, (texts, command) in commands.items():
        parser = bsub.add_parser(name, **texts)
        for flag, low, high, default, metavar, what, note in _BENCH_COUNTS[name]:
            parser.add_argument(flag, type=int_in(low, high), default=default, metavar=metavar,
                                help=f"{what}, {low}..{high} (default {default}{note})")
            if name == "attack" and flag == "--batch":
                parser.add_argument("--eps", type=float, default=2.0, help="l2 radius > 0 (default 2.0)")
                parser.add_argument("--step-size", type=float, default=0.3, help="step length > 0 (default 0.3)")
        if name == "in-dist":
            _add_bench_in_dist_options(parser)
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.set_defaults(func=command)


def _add_bench_in_dist_options(bi: argparse.ArgumentParser) -> None:
    bi.add_argument("--budgets", type=int, nargs="+", default=[100, 1000, 10_000, 50_000], metavar="B",
                    help="propagations per example at which distances are read, >= 1 (default 100 1000 10000 "
                         "50000; the last is Appendix B.2's 5 x 10,000)")
    bi.add_argument("--lagrangian-budget", type=int, metavar="B",
                    help="run the augmented Lagrangian only up to this budget, >= 1 (default: the largest of "
                         "--budgets)")
    bi.add_argument("--image-steps", type=int, metavar="S",
                    help="steps of adv-lib's FMN for the image-space cross-check, >= 1 (default 1000)")
    bi.add_argument("--no-cross-check", action="store_true", help="skip the image-space cross-check")
    bi.add_argument("--no-progress", action="store_true", help="no progress bar for the baseline's runs")
