"""The book pipeline: Jupytext chapter -> papermill (profile parameters) -> book/ -> HTML.

``chapters/NN_name.py`` (percent format, with a cell tagged ``parameters``) is converted
to a notebook, executed by papermill with the profile's parameters in the project root,
and written to ``book/NN_name.ipynb`` only once execution has succeeded. Jupyter Book then
renders ``book/`` with execution off and warnings as errors.

The book shows each chapter's parameters once, with the values in effect: papermill is
given every parameter the chapter declares (the profile's values over the chapter's
defaults), so its injected cell lists them all, and the chapter's own ``parameters`` cell
(the defaults, which may differ from the profile's values) is tagged ``remove-cell``. It
stays in the notebook, so the drift check and nbval still see the chapter as written.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable

from .errors import InputError
from .profiles import get_profile

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
# myst-nb leaves a cell with this tag out of the rendered page (it stays in the notebook).
HIDDEN_TAG = "remove-cell"
NO_PROGRESS_ENV = "TQDM_DISABLE"  # honoured by intrinsic_rob.progress.progress_bar


def find_root(start: Path | None = None) -> Path:
    """The project root: the nearest folder above ``start`` holding chapters/ and book/."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "chapters").is_dir() and (folder / "book").is_dir():
            return folder
    raise InputError(f"root: no folder holding chapters/ and book/ at or above {here}")


def list_chapters(root: Path, names: Iterable[str] | None = None) -> list[Path]:
    """Chapter sources in book order, optionally only those whose stem is in ``names``."""
    sources = sorted((root / "chapters").glob("[0-9][0-9]_*.py"))
    if names is None:
        return sources
    wanted = list(names)
    by_stem = {p.stem: p for p in sources}
    unknown = [n for n in wanted if n not in by_stem]
    if unknown:
        raise InputError(
            f"chapter must be one of {', '.join(by_stem)}, got {', '.join(unknown)}"
        )
    return [by_stem[n] for n in wanted]


def read_chapter(source: Path):
    """The chapter as an (unexecuted) nbformat notebook with the project's kernelspec."""
    import jupytext

    nb = jupytext.read(source, fmt="py:percent")
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.setdefault("language_info", {"name": "python"})
    nb.metadata.pop("jupytext", None)
    return nb


def declared_parameters(nb) -> dict[str, Any]:
    """Names and default values assigned in the cell tagged ``parameters``."""
    cells = [c for c in nb.cells if PARAMETERS_TAG in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise InputError(f"chapter must have exactly one cell tagged 'parameters', found {len(cells)}")
    params: dict[str, Any] = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    params[target.id] = ast.literal_eval(node.value)
    return params


def chapter_parameters(
    nb, chapter: str, profile: str, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The profile's parameters for ``chapter`` plus ``overrides``, checked against the chapter."""
    params = get_profile(profile).parameters(chapter)
    params.update(overrides or {})
    declared = declared_parameters(nb)
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise InputError(
            f"parameter {unknown[0]!r} is not a parameter of chapter {chapter} "
            f"(it takes: {', '.join(sorted(declared))})"
        )
    return params


def effective_parameters(
    nb, chapter: str, profile: str, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Every parameter the chapter declares, in its order: the profile's and ``overrides``'
    values over the chapter's defaults. This is what papermill injects, so the injected
    cell (the one the book shows) lists all the values in effect."""
    params = chapter_parameters(nb, chapter, profile, overrides)
    return {**declared_parameters(nb), **params}


def book_tags(tags: Iterable[str]) -> list[str]:
    """The tags a cell carries in book/: its own, plus ``remove-cell`` on the ``parameters``
    cell, whose defaults papermill's injected cell supersedes."""
    tags = list(tags)
    if PARAMETERS_TAG in tags and HIDDEN_TAG not in tags:
        tags.append(HIDDEN_TAG)
    return tags


def present_for_book(nb):
    """Tag an executed notebook for the book (in place; returns it): see :func:`book_tags`.

    Idempotent, and changes cell metadata only, never sources or outputs.
    """
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        wanted = book_tags(tags)
        if wanted != list(tags):
            cell.metadata["tags"] = wanted
    return nb


def execute_chapter(
    source: Path,
    root: Path,
    profile: str,
    overrides: dict[str, Any] | None = None,
    *,
    progress: bool = True,
) -> Path:
    """Execute one chapter with papermill and write ``book/<stem>.ipynb`` atomically."""
    import nbformat
    import papermill

    nb = read_chapter(source)
    params = effective_parameters(nb, source.stem, profile, overrides)
    book = root / "book"
    target = book / f"{source.stem}.ipynb"
    with tempfile.TemporaryDirectory(prefix=".papermill-", dir=book) as tmp:
        raw = Path(tmp) / "input.ipynb"
        done = Path(tmp) / target.name
        nbformat.write(nb, raw)
        # Progress bars belong on a terminal, not in the book (or in nbval's comparisons).
        previous = os.environ.get(NO_PROGRESS_ENV)
        os.environ[NO_PROGRESS_ENV] = "1"
        try:
            papermill.execute_notebook(
                str(raw),
                str(done),
                parameters=params,
                kernel_name=KERNELSPEC["name"],
                cwd=str(root),
                progress_bar=progress,
                report_mode=False,
            )
        finally:
            if previous is None:
                os.environ.pop(NO_PROGRESS_ENV, None)
            else:
                os.environ[NO_PROGRESS_ENV] = previous
        executed = present_for_book(nbformat.read(done, as_version=4))
        # nbformat.writes, as papermill itself writes (no trailing newline added).
        done.write_text(nbformat.writes(executed), encoding="utf-8")
        os.replace(done, target)
    return target


def build_html(root: Path, output: Path | None = None, *, strict: bool = True) -> Path:
    """Run ``jupyter-book build book/`` (execution is off in _config.yml).

    Returns the folder holding ``index.html``.
    """
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(root / "book")]
    if output is not None:
        cmd += ["--path-output", str(output)]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    result = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-25:]
        raise RuntimeError("jupyter-book build failed:\n" + "\n".join(tail))
    return (output or root / "book") / "_build" / "html"


def drift(source: Path, executed: Path) -> list[str]:
    """Differences between a chapter source and its executed notebook in book/.

    Compares cell types, sources and tags (as :func:`book_tags` sets them) in order,
    ignoring the cell papermill injects. Returns human-readable descriptions; an empty
    list means the two agree.
    """
    import nbformat

    if not executed.exists():
        return [f"{executed.name} is missing: run `intrinsic-rob book` to create it"]
    want = read_chapter(source).cells
    have = [
        c
        for c in nbformat.read(executed, as_version=4).cells
        if INJECTED_TAG not in c.metadata.get("tags", [])
    ]
    problems = []
    if len(want) != len(have):
        problems.append(f"{executed.name}: {len(have)} cells, the source has {len(want)}")
    for i, (w, h) in enumerate(zip(want, have)):
        first = (w.source.strip().splitlines() or [""])[0][:60]
        if w.cell_type != h.cell_type or w.source.strip() != h.source.strip():
            problems.append(f"{executed.name}: cell {i} differs from the source ({first!r})")
        elif book_tags(w.metadata.get("tags", [])) != list(h.metadata.get("tags", [])):
            problems.append(
                f"{executed.name}: cell {i} has tags {list(h.metadata.get('tags', []))}, "
                f"the source gives {book_tags(w.metadata.get('tags', []))} ({first!r})"
            )
    return problems


def clean_build(root: Path) -> None:
    """Remove book/_build so the next build starts afresh."""
    shutil.rmtree(root / "book" / "_build", ignore_errors=True)
