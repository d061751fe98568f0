"""``intrinsic-rob data generate``: write a generated dataset's train and test splits."""

from __future__ import annotations

import argparse
import json

from intrinsic_rob.cli.options import Parser, add_generator_options, generator_from_args, run_of, writable_folder
from intrinsic_rob.core.errors import InputError


def command(args: argparse.Namespace) -> int:
    from intrinsic_rob.core.devices import resolve_device
    from intrinsic_rob.data.datasets import generate_splits
    from intrinsic_rob.pipeline.profiles import get_profile
    from intrinsic_rob.pipeline.results import provenance

    prof = get_profile(args.profile)
    sizes = list(prof.dataset_sizes[args.dataset])
    if args.train_size is not None:
        sizes[0] = args.train_size
    if args.test_size is not None:
        sizes[1] = args.test_size
    for name, value in zip(("--train-size", "--test-size"), sizes):
        if value < 1:
            raise InputError(f"{name} must be >= 1, got {value}")
    device = resolve_device(args.device)
    out = writable_folder(args.out, "--out")
    run = run_of(args)
    source = generator_from_args(args, run)
    gen = source.generator
    if hasattr(gen, "to"):
        gen = gen.to(device)
    train, test = generate_splits(gen, (sizes[0], sizes[1]), seed=prof.seed, device=device,
                                  progress=not args.no_progress)
    paths = [train.save(out / "train.npz"), test.save(out / "test.npz")]
    meta = {
        "dataset": args.dataset, "profile": args.profile, "seed": prof.seed,
        "train_size": sizes[0], "test_size": sizes[1], "generator": source.description,
        "pretrained": source.pretrained, "z_dim": gen.z_dim, "num_classes": gen.num_classes,
        **provenance(run.root, run.commit),
    }
    from intrinsic_rob.core.artifacts import atomic_write_bytes

    atomic_write_bytes(out / "metadata.json", (json.dumps(meta, indent=2) + "\n").encode())
    for path in paths:
        print(path)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("data", help="generated datasets (Section 5.1)")
    dsub = d.add_subparsers(dest="data_command", required=True, parser_class=Parser)
    g = dsub.add_parser("generate", help="write DIR/train.npz and DIR/test.npz (arrays x, y, z)")
    add_generator_options(g)
    g.add_argument("--out", required=True, help="output folder")
    g.add_argument("--train-size", type=int, help="override the profile's training-set size")
    g.add_argument("--test-size", type=int, help="override the profile's test-set size")
    g.set_defaults(func=command)
