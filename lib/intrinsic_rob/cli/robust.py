"""``intrinsic-rob robust``: train or load a robust classifier and evaluate it (Table 3's rows)."""

from __future__ import annotations

import argparse
import dataclasses

from intrinsic_rob.cli.options import add_generator_options, robust_run_arguments
from intrinsic_rob.models.methods import METHODS


def command(args: argparse.Namespace) -> int:
    from intrinsic_rob.core.devices import resolve_device
    from intrinsic_rob.pipeline.experiments import evaluate_trial, robust_model
    from intrinsic_rob.pipeline.results import module_digest, write_table

    run = robust_run_arguments(args, "04_robust", ("test_size",))
    config = run.training.config(args.dataset, args.method, run.seed)
    device = resolve_device(args.device)
    sizes = list(run.profile.dataset_sizes[args.dataset])
    sizes[0] = args.train_size or sizes[0]
    sizes[1] = args.test_size or (run.evaluation.eval_size and min(sizes[1], run.evaluation.eval_size)) or sizes[1]
    data = run.data(args, (sizes[0], sizes[1]), device)
    # the chapter's settings: the same cached model
    trained = robust_model(run.training, args.dataset, args.method, run.seed, data, run.run, device=device,
                           progress=not args.no_progress)
    sizes[0] = min(sizes[0], run.training.train_size(args.method) or sizes[0])
    trial = evaluate_trial(trained.model, data.test, dataclasses.replace(run.evaluation, eval_size=None),
                           method=args.method, seed=run.seed, eps_values=run.eps_values, device=device,
                           progress=not args.no_progress)
    frame = trial.rows
    for column, value in (("seed", run.seed), ("method", args.method), ("dataset", args.dataset)):
        frame.insert(0, column, value)
    extra = {"generator": data.source.description, "config": dataclasses.asdict(config), "train_size": sizes[0],
             "test_size": sizes[1], "pgd_steps": run.evaluation.pgd_steps, "history": trained.history,
             "model_sha256": module_digest(trained.model)}
    path = write_table(frame, f"robust_{args.dataset}_{args.method}_seed{run.seed}", run.run, extra=extra)
    print(f"{args.method} on generated {args.dataset} ({data.source.description}); {sizes[0]} training and "
          f"{sizes[1]} test images, {config.epochs} epochs, seed {run.seed}; PGD-L2 with {run.evaluation.pgd_steps} "
          "steps")
    _print_robust_rows(frame, args.dataset, args.method)
    print(f"written to {path}")
    return 0


def _print_robust_rows(frame, dataset: str, method: str) -> None:  # noqa: ANN001 - a DataFrame
    """A trial's rows beside the paper's Table 3 values."""
    from intrinsic_rob.paper import TABLE3_ROBUST_PERCENT
    from intrinsic_rob.pipeline.tables import ASCII_PLUS_MINUS, mean_std

    printed = TABLE3_ROBUST_PERCENT.get((dataset, method), {})
    print(f"  {'metric':<22} {'ours':>8} {'paper (mean +- std)':>22}")
    for row in frame.itertuples():
        label = "natural accuracy" if row.metric == "natural" else f"{row.metric} at eps = {row.eps:g}"
        paper_value = printed.get("natural" if row.metric == "natural" else row.eps) if row.metric != "certified" \
            else None
        paper_text = mean_std(*paper_value, digits=1, sep=ASCII_PLUS_MINUS) + "%" if paper_value else "-"
        print(f"  {label:<22} {100 * row.value:>7.1f}% {paper_text:>22}")


def add_parser(sub: argparse._SubParsersAction) -> None:
    ro = sub.add_parser(
        "robust", help="Table 3: train (or load) a robust classifier on a generated dataset and evaluate it",
        description="Trains (or loads from the cache) an LP-Certify, Adv-Train or TRADES classifier on the "
                    "profile's generated training set with Table 4's settings (the profile may shorten them), "
                    "then measures natural accuracy and PGD-L2 robust accuracy (and, for LP-Certify, certified "
                    "accuracy) on the generated test set at each eps, beside the paper's Table 3. Rows are "
                    "written to results/<profile>/robust_<dataset>_<method>_seed<S>.csv and .json.")
    add_generator_options(ro)
    ro.add_argument("--method", required=True, choices=tuple(METHODS),
                    help="lp: LP-Certify (Wong et al. 2018, MNIST only); adv: Adv-Train (Madry et al. 2018); "
                         "trades: TRADES (Zhang et al. 2019)")
    ro.add_argument("--seed", type=int, help="training and attack seed, >= 0 (default: the profile's)")
    ro.add_argument("--epochs", type=int, help="training epochs, >= 1 (default: the profile's, else Table 4's)")
    ro.add_argument("--train-size", type=int, help="generated training images, >= 1 (default: the profile's)")
    ro.add_argument("--test-size", type=int, help="generated test images evaluated, >= 1 (default: the profile's)")
    ro.add_argument("--pgd-steps", type=int, help="PGD-L2 steps, >= 1 (default: the profile's; Table 5: 100)")
    ro.add_argument("--eps", type=float, nargs="+", help="l2 radii > 0 (default: Table 3's 1, 2, 3)")
    ro.set_defaults(func=command)
