"""Keyed, quiet and stable book runs: a run's output folder and kernel environment,
progress bars on the terminal only, notebooks and result tables that do not change when
the outputs do not (so building the book leaves the repository clean).

The executions use a tiny chapter in a throwaway project (chapters/ and book/ under
tmp_path); each takes a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from intrinsic_rob import cli
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.pipeline import book, results

ENV_NAMES = ["TQDM_DISABLE", "INTRINSIC_ROB_PROGRESS", "INTRINSIC_ROB_RESULTS", "IR_TEST_VAR"]

TINY_CHAPTER = f"""\
# %% [markdown]
# # A tiny chapter

# %% tags=["parameters"]
profile = "quick"
seed = 0

# %%
import json
import os
from pathlib import Path

import pandas as pd

from intrinsic_rob.pipeline.book import setup_chapter
from intrinsic_rob.core.progress import progress_bar
from intrinsic_rob.pipeline.results import write_table

RUN = setup_chapter(profile)
Path("kernel_env.json").write_text(json.dumps({{n: os.environ.get(n) for n in {ENV_NAMES!r}}}))
total = sum(i for i in progress_bar(range(3), desc="tiny-bar"))
write_table(pd.DataFrame({{"total": [total]}}), "tiny", RUN)
print(total)
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A throwaway project root holding chapters/99_tiny.py and an empty book/."""
    root = tmp_path / "project"
    (root / "chapters").mkdir(parents=True)
    (root / "book").mkdir()
    (root / "chapters" / "99_tiny.py").write_text(TINY_CHAPTER)
    return root


def _kernel_env(root: Path) -> dict:
    """What the tiny chapter's kernel saw of :data:`ENV_NAMES`."""
    return json.loads((root / "kernel_env.json").read_text())


def test_env_reaches_the_kernel_only_and_output_dir_is_honoured(project, tmp_path, capfd):
    before = dict(os.environ)
    out = tmp_path / "runs" / "a"  # does not exist yet
    scratch = str(tmp_path / "tables")
    target = book.execute_chapter(
        project / "chapters" / "99_tiny.py", project, "quick", progress=False, output_dir=out,
        env={"IR_TEST_VAR": "kernel only", "INTRINSIC_ROB_RESULTS": scratch},
    )
    assert target == out / "99_tiny.ipynb" and target.is_file()
    assert list((project / "book").iterdir()) == []  # nothing in book/, no temporary folder left
    assert [p.name for p in out.iterdir()] == ["99_tiny.ipynb"]
    assert _kernel_env(project) == {
        "TQDM_DISABLE": "1", "INTRINSIC_ROB_PROGRESS": None,
        "INTRINSIC_ROB_RESULTS": scratch, "IR_TEST_VAR": "kernel only",
    }
    assert dict(os.environ) == before
    assert (Path(scratch) / "quick" / "tiny.csv").read_text() == "total\n3\n"
    nb = nbformat.read(target, as_version=4)
    assert nb.cells[-1].outputs[0]["text"] == "3\n"
    err = capfd.readouterr().err
    assert "tiny-bar" not in err  # progress=False: no bars anywhere
    assert "without encryption" not in err and "KeyboardInterrupt" not in err


def test_progress_bars_reach_stderr_not_the_notebook(project, tmp_path, capfd, monkeypatch):
    """The kernel captures its file descriptor 2 into the notebook unless it runs under
    pytest ($PYTEST_CURRENT_TEST, which it would inherit); without it, as under
    ``intrinsic-rob book``, the bars still go to the original standard error (here capfd's)."""
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    target = book.execute_chapter(
        project / "chapters" / "99_tiny.py", project, "quick", progress=True, output_dir=tmp_path / "out",
        env={"INTRINSIC_ROB_RESULTS": str(tmp_path / "tables")},
    )
    assert _kernel_env(project)["INTRINSIC_ROB_PROGRESS"] == "stderr"
    assert _kernel_env(project)["TQDM_DISABLE"] == "1"
    err = capfd.readouterr().err
    assert "tiny-bar" in err and "3/3" in err
    outputs = json.dumps([c.get("outputs", []) for c in nbformat.read(target, as_version=4).cells])
    assert "tiny-bar" not in outputs and "%|" not in outputs and '"stderr"' not in outputs
    assert "without encryption" not in err and "KeyboardInterrupt" not in err


def test_executing_twice_gives_the_same_untouched_notebook(project, tmp_path):
    source = project / "chapters" / "99_tiny.py"
    env = {"INTRINSIC_ROB_RESULTS": str(tmp_path / "tables")}
    target = book.execute_chapter(source, project, "quick", progress=False, env=env)
    assert target == project / "book" / "99_tiny.ipynb"
    first = target.read_bytes()
    os.utime(target, ns=(10**18, 10**18))
    again = book.execute_chapter(source, project, "quick", progress=False, env=env)
    assert again == target and target.read_bytes() == first
    assert target.stat().st_mtime_ns == 10**18  # not rewritten
    nb = nbformat.reads(first.decode(), as_version=4)
    seen: dict[str, int] = {}
    assert [c.id for c in nb.cells] == [book.cell_id(c.cell_type, c.source, seen) for c in nb.cells]
    for cell in nb.cells:
        assert not {"papermill", "execution"} & set(cell.metadata)
    assert set(nb.metadata["papermill"]) <= set(book.STABLE_PAPERMILL_KEYS)
    assert nb.metadata["papermill"]["parameters"] == {"profile": "quick", "seed": 0}
    assert book.drift(source, target) == []


def test_stable_notebook_drops_volatile_metadata_and_is_idempotent():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_markdown_cell("x = 1")]
    for cell in nb.cells:
        cell.metadata.update(papermill={"duration": 0.1}, execution={"iopub.status.busy": "now"}, tags=["t"])
    nb.metadata["papermill"] = {"parameters": {"a": 1}, "duration": 2.0, "start_time": "then",
                                "input_path": "/tmp/x", "version": "2.7.0"}
    text = nbformat.writes(book.stable_notebook(nb))
    assert nbformat.writes(book.stable_notebook(nbformat.reads(text, as_version=4))) == text
    ids = [c.id for c in nb.cells]
    assert len(set(ids)) == 3 and ids[1] == ids[0] + "-2"
    assert all(c.metadata == {"tags": ["t"]} for c in nb.cells)
    assert nb.metadata["papermill"] == {"parameters": {"a": 1}}
    nbformat.validate(nb)


def test_book_command_output_keeps_notebooks_and_tables_together(project, tmp_path, capsys):
    out = tmp_path / "run-7"
    code = cli.main(["book", "--root", str(project), "--chapter", "99_tiny", "--output", str(out),
                     "--no-progress"])
    assert code == 0
    assert (out / "99_tiny.ipynb").is_file()
    assert (out / "results" / "quick" / "tiny.csv").read_text() == "total\n3\n"
    assert not (project / "results").exists() and list((project / "book").iterdir()) == []
    assert "no HTML build" in capsys.readouterr().out


def test_book_command_refuses_a_file_as_output(project, tmp_path, capsys):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    assert cli.main(["book", "--root", str(project), "--output", str(not_a_folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--output" in err[0]


def test_bad_output_dir_and_env_are_input_errors(project, tmp_path):
    source = project / "chapters" / "99_tiny.py"
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="^output_dir"):
        book.execute_chapter(source, project, "quick", output_dir=tmp_path / "file")
    with pytest.raises(InputError, match="^env"):
        book.execute_chapter(source, project, "quick", env={"X": 1})


def test_kernel_manager_uses_ipc_and_does_not_interrupt_at_shutdown():
    km = book.chapter_kernel_manager()(kernel_name="python3")
    if os.name == "posix" and len(tempfile.gettempdir()) < 60:
        assert km.transport == "ipc"
        folder = Path(km.ip).parent
        assert folder.is_dir() and folder.parent == Path(tempfile.gettempdir())
    else:
        folder = None
    with pytest.raises(RuntimeError, match="No kernel is running"):
        asyncio.run(km._async_interrupt_kernel())  # an ordinary interrupt goes through
    km.shutting_down = True
    asyncio.run(km._async_interrupt_kernel())  # at shutdown it is skipped
    asyncio.run(km.cleanup_resources())
    assert folder is None or not folder.exists()


def _mtimes(*paths: Path) -> list[int]:
    return [p.stat().st_mtime_ns for p in paths]


def test_write_table_leaves_an_unchanged_table_untouched(tmp_path):
    from dataclasses import replace

    from intrinsic_rob.pipeline.run import Run

    folder = tmp_path / "tables"
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, 0.25]})
    run = Run(root=tmp_path, profile="quick", results=tmp_path, artifacts=tmp_path, commit="commit-1")
    csv = results.write_table(frame, "t", run, extra={"n": (1, 2)}, folder=folder)
    meta = folder / "t.json"
    assert csv == folder / "t.csv" and json.loads(meta.read_text())["commit"] == "commit-1"
    for path in (csv, meta):
        os.utime(path, ns=(10**18, 10**18))
    before = csv.read_bytes(), meta.read_bytes()

    # a later commit, the same result: neither file is touched
    run = replace(run, commit="commit-2")
    results.write_table(frame, "t", run, extra={"n": [1, 2]}, folder=folder)
    assert (csv.read_bytes(), meta.read_bytes()) == before
    assert _mtimes(csv, meta) == [10**18, 10**18]

    # the provenance changes (not only the commit): the JSON is rewritten, the CSV is not
    results.write_table(frame, "t", run, extra={"n": [1, 3]}, folder=folder)
    assert _mtimes(csv)[0] == 10**18 and _mtimes(meta)[0] != 10**18
    assert json.loads(meta.read_text())["n"] == [1, 3] and json.loads(meta.read_text())["commit"] == "commit-2"

    # wall-clock seconds differ, the result does not: nothing is rewritten
    results.write_table(frame, "t", run, extra={"n": [1, 4], "seconds": 9.5}, folder=folder)
    assert json.loads(meta.read_text())["seconds"] == 9.5
    results.write_table(frame, "t", run, extra={"n": [1, 4], "seconds": 11.0}, folder=folder)
    assert json.loads(meta.read_text())["seconds"] == 9.5

    # the table changes: both are rewritten, with the current commit
    os.utime(meta, ns=(10**18, 10**18))
    results.write_table(frame.assign(b=[0.5, 0.3]), "t", replace(run, commit="commit-3"), extra={"n": [1, 4]},
                        folder=folder)
    assert 10**18 not in _mtimes(csv, meta)
    assert csv.read_text() == "a,b\n1,0.5\n2,0.3\n" and json.loads(meta.read_text())["commit"] == "commit-3"


def test_write_table_folder_defaults_to_the_runs_results_and_the_run_reads_its_environment_once(tmp_path):
    from intrinsic_rob.pipeline.run import RESULTS_ENV, RESULTS_INPUT_ENV, Run

    run = Run.from_environment(tmp_path, "paper", {RESULTS_ENV: str(tmp_path / "res"),
                                                   RESULTS_INPUT_ENV: str(tmp_path / "in")})
    path = results.write_table(pd.DataFrame({"a": [1]}), "t", run)
    assert path == tmp_path / "res" / "paper" / "t.csv" and path.with_suffix(".json").is_file()
    assert results.read_table("t", run)[0]["a"].tolist() == [1]
    (tmp_path / "in" / "paper").mkdir(parents=True)
    pd.DataFrame({"b": [2]}).to_csv(tmp_path / "in" / "paper" / "u.csv", index=False)
    (tmp_path / "in" / "paper" / "u.json").write_text("{}")
    assert results.read_table("u", run)[0]["b"].tolist() == [2]  # not written by this run: read from its input
    assert results.read_table("v", run) is None
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="^folder"):
        results.write_table(pd.DataFrame({"a": [1]}), "t", run, folder=tmp_path / "file")
    with pytest.raises(InputError, match="^run must be an intrinsic_rob.pipeline.run.Run .*got 'paper'$"):
        results.write_table(pd.DataFrame({"a": [1]}), "t", "paper")
    plain = Run.from_environment(tmp_path, "quick", {})
    assert (plain.results, plain.artifacts, plain.results_input) == (tmp_path / "results", tmp_path / "artifacts", None)


def test_routed_bars_go_to_stderr_whatever_tqdm_disable_says(monkeypatch, capfd):
    from intrinsic_rob.core.progress import progress_bar, route_bars

    monkeypatch.setenv("TQDM_DISABLE", "1")
    route_bars("")
    assert progress_bar(range(2)).disable
    try:
        route_bars("stderr")
        list(progress_bar(range(2), desc="unit-bar"))
        assert "unit-bar" in capfd.readouterr().err
        assert progress_bar(range(2), enabled=False).disable  # --no-progress still wins
    finally:
        route_bars("")
    with pytest.raises(InputError, match="^\\$INTRINSIC_ROB_PROGRESS"):
        route_bars("elsewhere")
