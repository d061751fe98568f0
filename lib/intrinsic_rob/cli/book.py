"""``intrinsic-rob book``: execute the chapters with papermill and build the book."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from intrinsic_rob.cli.options import PROG, parse_override, writable_folder
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.pipeline.profiles import PROFILES


def command(args: argparse.Namespace) -> int:
    """Execute the chapters into book/ (and build the HTML), or into --output DIR (no HTML)."""
    from intrinsic_rob.pipeline import book
    from intrinsic_rob.pipeline.profiles import get_profile
    from intrinsic_rob.pipeline.run import RESULTS_ENV

    get_profile(args.profile)
    root = book.find_root(Path(args.root) if args.root else None)
    overrides = dict(parse_override(p) for p in args.param or [])
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


def add_parser(sub: argparse._SubParsersAction) -> None:
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
    k.set_defaults(func=command)
