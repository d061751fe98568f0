"""``intrinsic-rob recognisability``: are generated digits their labels?"""

from __future__ import annotations

import argparse

from intrinsic_rob.cli.options import add_generator_options, generator_from_args, run_of
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.data.datasets import get_dataset


def command(args: argparse.Namespace) -> int:
    from intrinsic_rob.data.datasets import class_names, generate_dataset, seed_of_test_split
    from intrinsic_rob.data.mnist import load_mnist
    from intrinsic_rob.estimators.recognisability import goals_met, judge_generated, train_judges
    from intrinsic_rob.pipeline.profiles import get_profile
    from intrinsic_rob.pipeline.results import module_digest, write_table

    if not get_dataset(args.dataset).real_digits:
        raise InputError(f"--dataset must be mnist for recognisability (the judges are trained on real digits), "
                         f"got {args.dataset}")
    prof = get_profile(args.profile)
    chapter = prof.parameters("02_generators")
    epochs = args.classifier_epochs if args.classifier_epochs is not None else chapter["classifier_epochs"]
    test_size = args.test_size if args.test_size is not None else prof.dataset_sizes[args.dataset][1]
    for name, value in (("--classifier-epochs", epochs), ("--test-size", test_size)):
        if value < 1:
            raise InputError(f"{name} must be >= 1, got {value}")
    goal_overall, goal_worst = chapter["recognisability_goal"]
    run = run_of(args)
    source = generator_from_args(args, run)
    real = load_mnist(run.mnist_dir)
    judges = train_judges(real, epochs=epochs, seed=prof.seed)
    # The test split of chapter 2 and `data generate`: the same seed, so the same latents and labels.
    test = generate_dataset(source.generator, test_size, seed=seed_of_test_split(prof.seed),
                            progress=not args.no_progress, desc="test set")
    names = class_names(args.dataset)
    per_class, summary = judge_generated(judges, test.x, test.y, names)
    met = all(goals_met(summary, goal_overall, goal_worst).values())
    extra = {"generator": source.description, "generator_sha256": module_digest(source.generator),
             "judges": summary.reset_index().to_dict(orient="records"),
             "judge_training": {"classifier_epochs": epochs, "real_train": judges.train_count,
                                "real_held_out": len(judges.held_out_y), "seed": prof.seed},
             "test_images": test_size, "test_seed": seed_of_test_split(prof.seed),
             "recognisability_goal": {"overall": goal_overall, "worst class": goal_worst}, "goal_met": met}
    path = write_table(per_class.assign(profile=args.profile), "mnist_generated_recognisability", run,
                       extra=extra)
    print(f"{source.description}; {test_size} generated test digits")
    print(per_class.round(3).to_string(index=False))
    print(summary.round(3).to_string())
    print(f"goals ({args.profile} profile): CNN judge >= {goal_overall:.0%} overall and >= {goal_worst:.0%} on every "
          f"class: {'met' if met else 'NOT met'}; written to {path}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    rc = sub.add_parser("recognisability",
                        help="how often real-digit classifiers label generated MNIST digits as their labels "
                             "(writes results/<profile>/mnist_generated_recognisability.csv)")
    add_generator_options(rc)
    rc.add_argument("--classifier-epochs", type=int, help="training epochs of the CNN judge (default: the profile's)")
    rc.add_argument("--test-size", type=int, help="generated test digits (default: the profile's test-set size)")
    rc.set_defaults(func=command)
