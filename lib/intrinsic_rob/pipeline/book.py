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

A run can be keyed: :func:`execute_chapter` takes the folder its notebook goes to and an
environment for the kernel alone (for example $INTRINSIC_ROB_RESULTS, where the chapter's
result tables go); this process's ``os.environ`` is never changed. The kernel always gets
TQDM_DISABLE=1 (no progress bars in the notebook) and, with progress on,
INTRINSIC_ROB_PROGRESS=stderr (the library's bars on this process's terminal, see
:mod:`intrinsic_rob.core.progress`), while papermill's own bar (one tick per cell) shows here.

The written notebook is a function of the chapter and its outputs only: cell ids are
derived from the cells' sources, and the volatile metadata papermill and nbclient record
(timestamps, durations, temporary paths, papermill's version) is dropped, so executing a
chapter whose outputs do not change leaves the file as it was.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from intrinsic_rob.core.errors import InputError
from intrinsic_rob.pipeline.profiles import resolve_parameters

if TYPE_CHECKING:
    from intrinsic_rob.pipeline.run import Run

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
# myst-nb leaves a cell with this tag out of the rendered page (it stays in the notebook).
HIDDEN_TAG = "remove-cell"
# ... and shows a cell with this one collapsed: its output in view, its code behind a toggle.
COLLAPSED_TAG = "hide-input"
NO_PROGRESS_ENV = "TQDM_DISABLE"  # honoured by intrinsic_rob.core.progress.progress_bar
PROGRESS_ENV = "INTRINSIC_ROB_PROGRESS"  # = intrinsic_rob.pipeline.run.PROGRESS_ENV, read by setup_chapter
# What papermill records in the notebook's metadata that does not change between runs:
# the parameters (the book's tests read them) and the run's outcome. The rest (start and
# end times, duration, temporary input and output paths, papermill's version) is dropped.
STABLE_PAPERMILL_KEYS = ("default_parameters", "parameters", "environment_variables", "exception")


def find_root(start: Path | None = None) -> Path:
    """The project root: the nearest folder above ``start`` holding chapters/ and book/."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "chapters").is_dir() and (folder / "book").is_dir():
            return folder
    raise InputError(f"root: no folder holding chapters/ and book/ at or above {here}")


def book_root_or_folder(start: Path | None = None) -> Path:
    """The book's root (:func:`find_root`) when ``start`` (default the working directory) lies inside one, else
    ``start`` itself: a user's own notebooks are swept from their own folder.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp()).resolve()
        >>> book_root_or_folder(folder) == folder
        True
    """
    here = (start or Path.cwd()).resolve()
    try:
        return find_root(here)
    except InputError:
        return here


def setup_chapter(profile: str, *, precision: int = 3, threads: int = 2, mnist_dir: str | Path | None = None,
                  biggan_dir: str | Path | None = None) -> "Run":
    """A chapter's first lines: the figures' settings, the tables' precision, fixed threads; returns its :class:`Run`.

    Figures: :func:`~intrinsic_rob.pipeline.plotting.setup_figures` (the theme, the column's
    width, each figure's legibility record).

    The run (:meth:`Run.from_environment <intrinsic_rob.pipeline.run.Run.from_environment>`) is
    where the chapter (or a notebook of one's own, or a sweep's point) reads and writes:
    the book's root, or the working directory outside a book; the results and artifacts
    folders and the data folders the kernel's environment names (``mnist_dir`` and
    ``biggan_dir``, a chapter's parameters, win when given). The progress bars' route is
    read here too (:func:`~intrinsic_rob.core.progress.route_bars`). The environment is read
    nowhere else in the kernel.

    The thread count is fixed, for torch and for the BLAS libraries numpy and scipy call
    (threadpoolctl), so that float sums, and hence printed digits, do not depend on the
    machine's cores (training fixes its own count, one thread:
    :data:`~intrinsic_rob.core.kernels.TRAINING_THREADS`) or on the threading variables the kernel inherited
    (a Dask worker sets OMP_NUM_THREADS=1 for a sweep point's kernel, a chapter's has
    none; ``OPENBLAS_NUM_THREADS`` is set to the count for BLAS libraries loaded later, and
    the kernel's children inherit it), and torch runs the kernels that x86-64 machines of
    other models with AVX2 share (:func:`~intrinsic_rob.core.kernels.use_portable_cpu_kernels`); the allocator is
    pinned (:func:`~intrinsic_rob.core.devices.pin_allocator`) so that timings do not depend
    on history.
    """
    import pandas as pd
    import torch
    from threadpoolctl import threadpool_limits

    from intrinsic_rob.core.devices import pin_allocator
    from intrinsic_rob.core.kernels import use_portable_cpu_kernels
    from intrinsic_rob.core.progress import route_bars
    from intrinsic_rob.pipeline.plotting import setup_figures
    from intrinsic_rob.pipeline.run import Run, progress_route

    setup_figures()
    pd.set_option("display.precision", precision)
    use_portable_cpu_kernels()
    torch.set_num_threads(threads)
    # threadpoolctl limits the BLAS libraries already loaded: scipy ships its own OpenBLAS,
    # loaded with scipy.linalg, so load it now; a library loaded later reads the variable
    # (set whatever the kernel inherited, as the count is).
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    import scipy.linalg  # noqa: F401

    threadpool_limits(limits=threads)
    pin_allocator()
    route_bars(progress_route())
    return Run.from_environment(book_root_or_folder(), profile, mnist_dir=mnist_dir, biggan_dir=biggan_dir)


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
    overrides = dict(overrides or {})
    params = {**overrides, **resolve_parameters(chapter, profile, overrides)}
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
    cell, whose defaults papermill's injected cell supersedes, and ``hide-input`` on the
    injected cell, so that the parameters in effect are one click away and the page opens
    with prose and results.

    Example:
        >>> book_tags(["parameters"]), book_tags(["injected-parameters"])
        (['parameters', 'remove-cell'], ['injected-parameters', 'hide-input'])
    """
    tags = list(tags)
    if PARAMETERS_TAG in tags and HIDDEN_TAG not in tags:
        tags.append(HIDDEN_TAG)
    if INJECTED_TAG in tags and COLLAPSED_TAG not in tags:
        tags.append(COLLAPSED_TAG)
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


def cell_id(cell_type: str, source: str, seen: dict[str, int] | None = None) -> str:
    """A cell id derived from the cell's type and source: the same on every run.

    ``seen`` counts the ids given so far in the notebook; a repeated cell gets ``-2``,
    ``-3``, ... appended, so ids stay unique. Ids do not depend on a cell's position, so
    inserting a cell changes no other cell's id.

    Example:
        >>> cell_id("code", "x = 1") == cell_id("code", "x = 1") != cell_id("markdown", "x = 1")
        True
        >>> seen = {}
        >>> a, b = cell_id("code", "pass", seen), cell_id("code", "pass", seen)
        >>> b == a + "-2"
        True
    """
    base = hashlib.sha256(f"{cell_type}\0{source}".encode()).hexdigest()[:12]
    if seen is None:
        return base
    seen[base] = seen.get(base, 0) + 1
    return base if seen[base] == 1 else f"{base}-{seen[base]}"


def stable_notebook(nb):
    """Make an executed notebook a function of its cells and outputs (in place; returns it).

    Sets each cell's id with :func:`cell_id`, drops per-cell timing metadata (papermill's
    ``papermill`` and nbclient's ``execution`` timestamps) and keeps only
    :data:`STABLE_PAPERMILL_KEYS` of the notebook's ``papermill`` metadata. Idempotent;
    sources, tags and outputs are untouched.
    """
    seen: dict[str, int] = {}
    for cell in nb.cells:
        cell["id"] = cell_id(cell.cell_type, cell.source, seen)
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    if "papermill" in nb.metadata:
        meta = nb.metadata["papermill"]
        nb.metadata["papermill"] = {k: meta[k] for k in STABLE_PAPERMILL_KEYS if k in meta}
    return nb


@functools.lru_cache(maxsize=None)
def chapter_kernel_manager():
    """The kernel manager class :func:`execute_chapter` gives papermill (built on first use).

    An ``AsyncKernelManager`` (nbclient's default) that

    * starts the kernel with the environment in its ``kernel_env`` trait (set through
      traitlets config), so a run's variables reach the kernel alone;
    * talks to the kernel over ipc (Unix sockets in a private temporary folder) where it
      can, rather than unencrypted TCP on localhost, about which ipykernel logs
      "Kernel is running over TCP without encryption" on every start;
    * does not interrupt the kernel when shutting it down. jupyter_client sends SIGINT
      before every shutdown request; papermill shuts down right after the reply to its last
      ``kernel_info_request``, when the kernel may still be inside that handler (where
      SIGINT raises KeyboardInterrupt) rather than idle (where it ignores SIGINT), and the
      kernel then logs "ERROR | KeyboardInterrupt caught in kernel". The kernel handles the
      shutdown request on its control thread whether busy or not, and jupyter_client still
      escalates to SIGTERM and SIGKILL if it does not exit within ``shutdown_wait_time``.
    """
    import tempfile as _tempfile

    from jupyter_client import AsyncKernelManager
    from traitlets import Dict, default

    class ChapterKernelManager(AsyncKernelManager):
        """AsyncKernelManager with a given kernel environment, ipc and no interrupt at shutdown."""

        kernel_env = Dict(
            default_value=None, allow_none=True, config=True,
            help="The kernel's whole environment (default: this process's).",
        )
        _ipc_folder: str | None = None

        @default("transport")
        def _default_transport(self) -> str:
            """ipc on POSIX where a socket path in the temporary folder stays short (< 108 bytes)."""
            short = len(os.fsencode(_tempfile.gettempdir())) < 60
            return "ipc" if os.name == "posix" and short else "tcp"

        @default("ip")
        def _default_ip(self) -> str:
            """For ipc, socket paths in a private temporary folder; else jupyter_client's default."""
            if self.transport != "ipc":
                return super()._ip_default()
            self._ipc_folder = _tempfile.mkdtemp(prefix="intrinsic-rob-kernel-")
            return os.path.join(self._ipc_folder, "kernel")

        async def start_kernel(self, **kw: Any) -> None:
            """Start the kernel with ``kernel_env`` as its environment, if set."""
            if self.kernel_env is not None:
                kw["env"] = dict(self.kernel_env)
            await AsyncKernelManager.start_kernel(self, **kw)

        async def _async_interrupt_kernel(self) -> None:
            """Interrupt, except as part of a shutdown (see the factory's docstring)."""
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            """jupyter_client's clean-up, then remove the private ipc folder (unless restarting)."""
            await super()._async_cleanup_resources(restart=restart)
            if not restart and self._ipc_folder is not None:
                shutil.rmtree(self._ipc_folder, ignore_errors=True)
                self._ipc_folder = None

        cleanup_resources = _async_cleanup_resources

    return ChapterKernelManager


def kernel_environment(progress: bool, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a chapter's kernel runs with: this process's, TQDM_DISABLE=1,
    INTRINSIC_ROB_PROGRESS=stderr if ``progress`` (else removed), then ``env`` on top."""
    if env is not None and not isinstance(env, dict):
        raise InputError(f"env must be a dict of variable names to strings, got a {type(env).__name__}")
    for name, value in (env or {}).items():
        if not (isinstance(name, str) and isinstance(value, str)):
            raise InputError(f"env must map variable names to strings, got {name!r}: {value!r}")
    kernel = dict(os.environ)
    # Progress bars belong on a terminal, not in the book (or in nbval's comparisons).
    kernel[NO_PROGRESS_ENV] = "1"
    if progress:
        kernel[PROGRESS_ENV] = "stderr"
    else:
        kernel.pop(PROGRESS_ENV, None)
    kernel.update(env or {})
    return kernel


def run_notebook(nb, params: dict[str, Any], output: Path, *, cwd: Path, kernel_env: dict[str, str],
                 progress_bar: bool = False, failed: Path | None = None) -> None:
    """Execute ``nb`` with papermill in ``cwd``, injecting ``params``, into ``output``.

    The kernel is :func:`chapter_kernel_manager`'s, with ``kernel_env`` as its whole
    environment (see :func:`kernel_environment`); ``progress_bar`` is papermill's per-cell
    bar. The unexecuted notebook is written beside ``output`` and removed afterwards.
    papermill writes ``output`` even when a cell raises (then with the error), and raises
    its ``PapermillExecutionError``; that notebook is then moved to ``failed`` if given
    (its folder created), for the user to read.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError
    from traitlets.config import Config

    manager = chapter_kernel_manager()
    raw = output.with_name(f".{output.stem}.input.ipynb")
    nbformat.write(nb, raw)
    try:
        papermill.execute_notebook(
            str(raw),
            str(output),
            parameters=params,
            kernel_name=KERNELSPEC["name"],
            cwd=str(cwd),
            progress_bar=progress_bar,
            report_mode=False,
            # engine keywords, passed on to nbclient's NotebookClient
            kernel_manager_class=manager,
            config=Config({manager.__name__: {"kernel_env": kernel_env}}),
            record_timing=False,
        )
    except PapermillExecutionError:
        if failed is not None and output.is_file():
            failed.parent.mkdir(parents=True, exist_ok=True)
            os.replace(output, failed)
        raise
    finally:
        raw.unlink(missing_ok=True)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_FRAME = re.compile(r"Cell In\[\d+\], line (\d+)")
_MARKED_LINE = re.compile(r"^\s*-+>\s*\d+\s?(.*)$")


def describe_failure(err: Exception) -> str:
    """One line for a notebook cell that raised: its number, the line of the cell that
    raised, and the exception (papermill's ``PapermillExecutionError``).

    The line matters where the exception has no message, as a bare ``assert`` has: it is
    taken from the first frame of the traceback that lies in the notebook's cell.

    Example:
        >>> class Err(Exception):
        ...     exec_count, ename, evalue = 5, "AssertionError", ""
        ...     traceback = ["Cell In[5], line 31", "     30 x = 1", "---> 31 assert x == 2", ""]
        >>> describe_failure(Err())
        'cell 5, line 31 `assert x == 2`: AssertionError'
    """
    where = f"cell {getattr(err, 'exec_count', None) or '?'}"
    lines = [_ANSI.sub("", line) for entry in (getattr(err, "traceback", None) or [])
             for line in str(entry).splitlines()]
    for i, line in enumerate(lines):
        frame = _CELL_FRAME.search(line)
        if frame:
            marked = next((m for m in map(_MARKED_LINE.match, lines[i + 1:]) if m), None)
            where += f", line {frame.group(1)}" + (f" `{marked.group(1).strip()}`" if marked else "")
            break
    ename = getattr(err, "ename", None) or type(err).__name__
    evalue = str(getattr(err, "evalue", "") or "").strip()
    what = f"{ename}: {evalue}" if evalue else ename
    return f"{where}: {what}".splitlines()[0]


class ChapterFailed(RuntimeError):
    """A chapter's cell raised: :func:`describe_failure`'s line, and where the executed
    notebook, up to and with the error, was kept (``notebook``)."""

    def __init__(self, message: str, notebook: Path | None) -> None:
        super().__init__(message)
        self.notebook = notebook


def execute_chapter(
    source: Path,
    root: Path,
    profile: str,
    overrides: dict[str, Any] | None = None,
    *,
    progress: bool = True,
    output_dir: Path | None = None,
    env: dict[str, str] | None = None,
) -> Path:
    """Execute one chapter with papermill and write ``<output_dir>/<stem>.ipynb`` atomically.

    ``output_dir`` defaults to ``root / "book"`` (created if missing). ``env`` is added to
    the kernel's environment only (see :func:`kernel_environment`); ``os.environ`` is left
    alone. ``progress`` shows papermill's per-cell bar here and the library's bars on this
    process's standard error, never in the notebook. The notebook is made stable
    (:func:`stable_notebook`) and the target is left untouched if its content would not change.
    A cell that raises gives :class:`ChapterFailed`, the target is left as it was, and the
    executed notebook, error included, is kept in results/<profile>/failed/ until the
    chapter next succeeds.
    """
    import nbformat
    from papermill.exceptions import PapermillExecutionError

    output = Path(output_dir) if output_dir is not None else root / "book"
    if output.exists() and not output.is_dir():
        raise InputError(f"output_dir must be a folder, got the file {output}")
    kernel_env = kernel_environment(progress, env)
    nb = read_chapter(source)
    params = effective_parameters(nb, source.stem, profile, overrides)
    output.mkdir(parents=True, exist_ok=True)
    target = output / f"{source.stem}.ipynb"
    with tempfile.TemporaryDirectory(prefix=".papermill-", dir=output) as tmp:
        done = Path(tmp) / target.name
        failed = _failed_path(source.stem, profile, root, env)
        failed.unlink(missing_ok=True)  # an earlier failure's notebook is stale now
        try:
            run_notebook(nb, params, done, cwd=root, kernel_env=kernel_env, progress_bar=progress, failed=failed)
        except PapermillExecutionError as err:
            raise ChapterFailed(describe_failure(err), failed if failed.is_file() else None) from err
        executed = stable_notebook(present_for_book(nbformat.read(done, as_version=4)))
        # nbformat.writes, as papermill itself writes (no trailing newline added).
        text = nbformat.writes(executed)
        if not (target.is_file() and target.read_text(encoding="utf-8") == text):
            done.write_text(text, encoding="utf-8")
            os.replace(done, target)
    return target


def _failed_path(stem: str, profile: str, root: Path, env: dict[str, str] | None) -> Path:
    """Where a failed chapter's notebook is kept: results/<profile>/failed/<stem>.ipynb (git
    ignores it), in the results/ the chapter writes to ($INTRINSIC_ROB_RESULTS from ``env``
    if set there, else the root's)."""
    from intrinsic_rob.pipeline.run import results_folder

    return results_folder(root, env or {}) / profile / "failed" / f"{stem}.ipynb"


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
