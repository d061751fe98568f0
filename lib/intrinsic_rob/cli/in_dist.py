"""``intrinsic-rob in-dist``: in-distribution robustness of a trained classifier (Section 5.4)."""

from __future__ import annotations

import argparse

from intrinsic_rob.cli.options import add_generator_options, robust_run_arguments
from intrinsic_rob.data.datasets import get_dataset
from intrinsic_rob.models.methods import METHODS


def command(args: argparse.Namespace) -> int:
    from intrinsic_rob.attacks import fit_latent
    from intrinsic_rob.core.devices import resolve_device
    from intrinsic_rob.estimators.in_dist import measure_model
    from intrinsic_rob.pipeline.experiments import model_at_epoch, robust_model
    from intrinsic_rob.pipeline.profiles import in_dist_settings
    from intrinsic_rob.pipeline.results import module_digest, write_table

    run = robust_run_arguments(args, "05_in_distribution", ("size", "max_iterations", "search_steps", "epoch",
                                                             "budget"))
    seed = run.seed
    z_init = args.z_init or get_dataset(args.dataset).z_init  # Appendix B.2's choice for the dataset
    settings = in_dist_settings(run.values, method=args.attack, budget=args.budget, search_steps=args.search_steps,
                                max_iterations=args.max_iterations)
    device = resolve_device(args.device)
    sizes = list(run.profile.dataset_sizes[args.dataset])
    sizes[0] = args.train_size or sizes[0]
    data = run.data(args, (sizes[0], sizes[1]), device)
    gen, test = data.source.generator, data.test
    trained = robust_model(run.training, args.dataset, args.method, seed, data, run.run, device=device,
                           progress=not args.no_progress)
    model, epoch = trained.model, run.training.config(args.dataset, args.method, seed).epochs  # the trained model's
    if args.epoch is not None and args.epoch != epoch:
        model, epoch = model_at_epoch(trained, args.dataset, args.method, args.epoch, name="--epoch"), args.epoch
    model = model.to(device)
    n = min(args.size or run.values["indist_size"] or len(test), len(test))
    x, y = test.x[:n].to(device), test.y[:n].to(device)
    if z_init == "recorded":
        z0 = test.z[:n].to(device)
    else:
        z0, _ = fit_latent(gen, x, y, steps=settings.fit_steps, restarts=settings.fit_restarts, lr=settings.lr,
                           seed=seed)
    frame, result, _ = measure_model(gen, model, x, y, z0, eps_values=run.eps_values,
                                     pgd_steps=run.evaluation.pgd_steps, settings=settings, seed=seed,
                                     progress=not args.no_progress)
    frame = frame.rename(columns={"unconstrained": "unconstrained robustness",
                                  "in_distribution": "in-distribution robustness"})
    for column, value in (("seed", seed), ("epoch", epoch), ("method", args.method), ("dataset", args.dataset)):
        frame.insert(0, column, value)
    extra = {"generator": data.source.description, "z_init": z_init, "attacked": n,
             "pgd_steps": run.evaluation.pgd_steps, "in_distribution_settings": settings.describe(),
             "evaluations": result.evaluations, "model_sha256": module_digest(model)}
    path = write_table(frame, f"in_dist_{args.dataset}_{args.method}_epoch{epoch}_seed{seed}_{z_init}_"
                              f"{settings.method}", run.run, extra=extra)
    print(f"{args.method} on generated {args.dataset} ({data.source.description}), epoch {epoch}, seed {seed}; "
          f"{n} test images, z_init {z_init}, attack {settings.method}; risk {frame['risk'].iloc[0]:.1%}")
    print(f"  {'eps':>5} {'unconstrained':>14} {'in-distribution':>16}")
    for _, row in frame.iterrows():
        print(f"  {row['eps']:>5g} {row['unconstrained robustness']:>14.1%} {row['in-distribution robustness']:>16.1%}")
    print(f"written to {path}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    di = sub.add_parser(
        "in-dist", help="Figure 2: unconstrained and in-distribution robustness of a robust classifier",
        description="Loads (or trains) the profile's robust classifier, or one of its intermediate models "
                    "(--epoch), and measures its risk, its PGD-L2 robustness and its in-distribution robustness "
                    "(a latent-space attack, Section 5.4) on the generated test set at each eps. Rows are written to "
                    "results/<profile>/in_dist_<dataset>_<method>_epoch<E>_seed<S>_<z-init>_<attack>.csv.")
    add_generator_options(di)
    di.add_argument("--method", required=True, choices=tuple(METHODS),
                    help="lp: LP-Certify (MNIST only); adv: Adv-Train; trades: TRADES")
    di.add_argument("--epoch", type=int, help="an intermediate model's epoch (default: the trained model)")
    di.add_argument("--z-init", choices=("recorded", "optimised"),
                    help="the attack's starting latents: the recorded z* or argmin_z ||G(z, y) - x|| (default: "
                         "Appendix B.2's, optimised on MNIST, recorded on ImageNet10)")
    di.add_argument("--seed", type=int, help="model and attack seed, >= 0 (default: the profile's)")
    di.add_argument("--epochs", type=int, help="training epochs of the model, >= 1 (default: the profile's)")
    di.add_argument("--train-size", type=int, help="generated training images, >= 1 (default: the profile's)")
    di.add_argument("--size", type=int, help="generated test images attacked, >= 1 (default: the profile's)")
    di.add_argument("--attack", choices=("alm", "cw"),
                    help="alm: the augmented Lagrangian in latent space (default); cw: (5.2) with Appendix B.2's "
                         "schedule, the paper's")
    di.add_argument("--budget", type=int, help="alm: propagations per example, >= 1 (default: the profile's)")
    di.add_argument("--max-iterations", type=int, help="cw: Adam iterations per round, >= 1 (default: the "
                                                       "profile's; B.2: 10000)")
    di.add_argument("--search-steps", type=int, help="cw: binary-search rounds on lambda, >= 1 (default: 5)")
    di.add_argument("--pgd-steps", type=int, help="PGD-L2 steps, >= 1 (default: the profile's; Table 5: 100)")
    di.add_argument("--eps", type=float, nargs="+", help="l2 radii > 0 (default: 1, 2, 3)")
    di.set_defaults(func=command)
