"""Parameter sweeps on Dask (intrinsic_rob.pipeline.sweep, `intrinsic-rob sweep`).

The sweeps execute tests/notebooks/probe.py, a notebook of a few lines, so each point
costs a kernel start (seconds), not a chapter.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

from intrinsic_rob.cli import main
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.pipeline import sweep

from .paths import ROOT

PROBE = ROOT / "tests" / "notebooks" / "probe.py"


@pytest.fixture()
def project(tmp_path, monkeypatch):
    """A scratch project root (chapters/ and book/ folders) whose results/ the sweeps fill."""
    (tmp_path / "chapters").mkdir()
    (tmp_path / "book").mkdir()
    monkeypatch.delenv("INTRINSIC_ROB_RESULTS", raising=False)
    monkeypatch.setenv("INTRINSIC_ROB_ARTIFACTS", str(tmp_path / "artifacts"))
    return tmp_path


def probe_target():
    return sweep.resolve_target(str(PROBE), "quick", ROOT)


# ------------------------------------------------------------------ grid, no Dask


def test_grid_values_take_the_parameters_types():
    target = probe_target()
    grid = sweep.parse_grid(["x=1,2.5", "seed=0,1", "fail=false,true", "label=a,b c"], target)
    assert grid == {"x": [1.0, 2.5], "seed": [0, 1], "fail": [False, True], "label": ["a", "b c"]}
    assert all(isinstance(v, float) for v in grid["x"])
    points = sweep.grid_points(grid)
    assert len(points) == 16 and points[0] == {"x": 1.0, "seed": 0, "fail": False, "label": "a"}
    assert sweep.check_grid({"x": [1, 2], "seed": [3]}, target) == {"x": [1.0, 2.0], "seed": [3]}


def test_a_chapters_profiled_parameters_take_the_profiles_types():
    target = sweep.resolve_target("04_robust", "quick", ROOT)
    assert target.chapter and target.defaults["robust_epochs"] is None
    grid = sweep.parse_grid(["robust_epochs=1,2", "seed=0"], target)
    assert grid == {"robust_epochs": [1, 2], "seed": [0]}


@pytest.mark.parametrize("options, message", [
    (["nope=1"], r"grid: 'nope' is not a parameter of probe \(it takes: fail, label, "),
    (["seed=1.5"], r"grid: seed must be an int \(its type in probe\), got '1.5'"),
    (["x=big"], r"grid: x must be a float \(its type in probe\), got 'big'"),
    (["fail=maybe"], r"grid: fail must be true or false"),
    (["seed"], r"grid must be NAME=V1,V2,..., got 'seed'"),
    (["seed=1,1"], r"grid: seed lists a value twice"),
    (["seed=1", "seed=2"], r"grid: seed is given twice"),
    (["seed="], r"grid: seed must be an int"),
    (["profile=paper"], r"grid: profile is chosen with --profile, not swept"),
    ([], r"grid must name at least one parameter"),
])
def test_bad_grids_are_one_line_errors(options, message):
    with pytest.raises(InputError, match=message):
        sweep.parse_grid(options, probe_target())


def test_python_grids_are_checked_too():
    target = probe_target()
    with pytest.raises(InputError, match=r"grid: seed must be a int|grid: seed must be an int"):
        sweep.check_grid({"seed": [1.5]}, target)
    with pytest.raises(InputError, match="must map to a list of values"):
        sweep.check_grid({"seed": 3}, target)
    lists = sweep.resolve_target("02_generators", "quick", ROOT)
    with pytest.raises(InputError, match="only int, float, bool and str parameters can be swept"):
        sweep.parse_grid(["mnist_sizes=1"], lists)


def test_unknown_notebooks_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match=r"notebook must be a chapter \(01_theory, .*\) or an existing"):
        sweep.resolve_target("99_nothing", "quick", ROOT)
    with pytest.raises(InputError, match="profile"):
        sweep.resolve_target("01_theory", "fast", ROOT)
    plain = tmp_path / "plain.py"
    plain.write_text("# %%\nx = 1\n")
    with pytest.raises(InputError, match="exactly one cell tagged 'parameters'"):
        sweep.resolve_target(str(plain), "quick", ROOT)


def test_point_keys_are_stable_unique_and_safe():
    a = sweep.point_key({"seed": 1, "label": "x/y z"})
    assert a == sweep.point_key({"label": "x/y z", "seed": 1})
    assert "/" not in a and " " not in a
    assert sweep.point_key({"x": 1.0}) != sweep.point_key({"x": 1})  # typed: 1.0 is not 1
    assert sweep.point_key({"label": "a_b"}) != sweep.point_key({"label": "a b"})


def test_glued_scalars_are_numbers_or_text_and_figures_are_left_out():
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    def glued(name, text, extra=None):
        data = {sweep.GLUE_PREFIX + "text/plain": text, **(extra or {})}
        return new_output("display_data", data=data,
                          metadata={"scrapbook": {"name": name, "mime_prefix": sweep.GLUE_PREFIX}})

    cell = new_code_cell("glue(...)", outputs=[
        glued("a", "0.25"), glued("b", "np.float64(1.5)"), glued("c", "'12.0%'"), glued("d", "3"),
        glued("fig", "<Figure>", {sweep.GLUE_PREFIX + "image/png": "..."}), glued("table", "a\nb"),
        glued("flag", "True"),
    ])
    values = sweep.glued_scalars(nbformat.from_dict(new_notebook(cells=[cell])))
    assert values == {"a": 0.25, "b": 1.5, "c": "12.0%", "d": 3, "flag": True}


def test_summary_is_mean_std_and_count_over_the_repetitions():
    frame = pd.DataFrame({"eps": [1.0, 1.0, 2.0, 2.0], "seed": [0, 1, 0, 1],
                          "acc": [0.5, 0.7, 0.2, 0.4], "name": ["p", "q", "r", "s"]})
    out = sweep.summarise(frame, ["eps", "seed"], ["seed"])
    assert list(out.columns) == ["eps", "quantity", "mean", "std", "n"]
    assert out["quantity"].tolist() == ["acc", "acc"]  # text columns are not averaged
    assert out["mean"].round(6).tolist() == [0.6, 0.3] and out["n"].tolist() == [2, 2]
    assert out["std"].round(6).tolist() == [round(0.02 ** 0.5, 6)] * 2


def test_a_second_execution_of_a_point_keeps_the_first(tmp_path):
    final = tmp_path / "points" / "k"
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, text in ((first, "1"), (second, "2")):
        folder.mkdir()
        (folder / "value").write_text(text)
        (folder / sweep.DONE).write_text("{}")
    final.parent.mkdir()
    sweep._commit(first, final)
    sweep._commit(second, final)  # a twin finishing later: discarded
    assert (final / "value").read_text() == "1"
    (final / sweep.DONE).unlink()  # not done any more: the next execution replaces it
    third = tmp_path / "third"
    third.mkdir()
    (third / "value").write_text("3")
    (third / sweep.DONE).write_text("{}")
    sweep._commit(third, final)
    assert (final / "value").read_text() == "3"
    assert sorted(p.name for p in final.parent.iterdir()) == ["k"]


def test_the_slurm_job_script_renders_from_a_config_file(tmp_path):
    config = tmp_path / "jobqueue.yaml"
    config.write_text(
        "jobqueue:\n"
        "  slurm:\n"
        "    cores: 4\n"
        "    processes: 4\n"
        "    memory: 16GB\n"
        "    queue: gpu\n"
        "    walltime: '02:00:00'\n"
        "    job-extra-directives: ['--gres=gpu:1']\n"
        "    worker-extra-args: ['--resources', 'GPU=1']\n"
        "    job-script-prologue: ['cd /scratch/project', 'source .venv/bin/activate']\n"
    )
    script = sweep.job_script("slurm", config)
    lines = script.splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    for directive in ("#SBATCH -p gpu", "#SBATCH -t 02:00:00", "#SBATCH --gres=gpu:1", "#SBATCH --cpus-per-task=4"):
        assert directive in lines
    assert any(line.startswith("#SBATCH --mem=") for line in lines)
    worker = lines[-1]
    assert "distributed.cli.dask_worker" in worker and "--resources GPU=1" in worker and "--nworkers 4" in worker
    assert lines.index("cd /scratch/project") < len(lines) - 1
    bash = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    assert bash.returncode == 0, bash.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("jobqueue:\n  slurm:\n    cores: 1\n    memory: 1GB\n    no-such-option: 1\n")
    with pytest.raises(InputError, match="jobqueue_config: .*'no-such-option' is not a dask-jobqueue slurm setting"):
        sweep.job_script("slurm", bad)
    with pytest.raises(InputError, match="has no 'jobqueue: pbs:' section"):
        sweep.job_script("pbs", config)


def test_bad_sweep_options_fail_before_anything_runs(project, capsys):
    for argv, message in [
        (["sweep", str(PROBE), "--grid", "nope=1"], "'nope' is not a parameter of probe"),
        (["sweep", str(PROBE), "--grid", "seed=0,1", "--repeat", "x"], "repeat: 'x' is not a swept parameter"),
        (["sweep", str(PROBE), "--grid", "seed=0", "--name", "../up"], "name must be letters"),
        (["sweep", "--grid", "seed=0"], "NOTEBOOK is required"),
        (["sweep", str(PROBE), "--grid", "seed=0", "--job-script"], "--job-script needs --cluster"),
    ]:
        assert main([*argv, "--root", str(project)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
    assert not (project / "results").exists()


# ------------------------------------------------------------- sweeps on Dask


def run(project, grid, **kw):
    kw.setdefault("workers", 2)
    return sweep.run_sweep(str(PROBE), profile="quick", grid=grid, root=project, progress=False, **kw)


def expected_y(point):
    return point["x"] ** 2 + point["seed"]


def test_a_sweep_collects_each_point_once_and_a_rerun_executes_nothing(project):
    grid = {"x": [1.0, 2.0], "seed": [0, 1]}
    environment = dict(os.environ)
    res = run(project, grid, name="demo", repeat=["seed"])
    # Dask's nannies set OMP_NUM_THREADS=1 and more in the caller's environment; the sweep puts it back
    assert dict(os.environ) == environment
    assert sorted(res.executed) == sorted(sweep.point_key(p) for p in res.points) and not res.failed
    folder = project / "results" / "quick" / "sweeps" / "demo"
    collected = pd.read_csv(folder / "collected.csv")
    assert list(collected.columns[:2]) == ["x", "seed"]
    assert collected[["x", "seed"]].to_dict("records") == [
        {"x": 1.0, "seed": 0}, {"x": 1.0, "seed": 1}, {"x": 2.0, "seed": 0}, {"x": 2.0, "seed": 1}]
    assert collected["y"].tolist() == [expected_y(p) for p in res.points]
    assert collected["doubled"].tolist() == [2.0, 2.0, 4.0, 4.0]
    assert collected["label_text"].tolist() == ["a-0", "a-1", "a-0", "a-1"]
    tables = pd.read_csv(folder / "collected_probe_values.csv")
    assert len(tables) == 8 and list(tables.columns) == ["x", "seed", "i", "value"]
    assert res.tables["probe_values"].equals(tables)  # what the files hold, from Python
    summary = pd.read_csv(folder / "summary.csv")
    y = summary[summary["quantity"] == "y"]
    assert y["x"].tolist() == [1.0, 2.0] and y["mean"].tolist() == [1.5, 4.5] and y["n"].tolist() == [2, 2]
    for point in res.points:  # each point keeps its executed notebook and tables
        done = folder / "points" / sweep.point_key(point)
        assert (done / "probe.ipynb").is_file() and (done / "results" / "quick" / "probe_values.csv").is_file()
        assert json.loads((done / sweep.DONE).read_text())["point"] == point
    assert not [p for p in (folder / "points").iterdir() if p.name.startswith(".")]  # no temporary folders

    again = run(project, grid, name="demo", repeat=["seed"])
    assert again.executed == [] and len(again.skipped) == 4
    assert pd.read_csv(folder / "collected.csv").equals(collected)

    one = sweep.point_key({"x": 2.0, "seed": 0})
    (folder / "points" / one / sweep.DONE).unlink()
    third = run(project, grid, name="demo", repeat=["seed"], workers=1)
    assert third.executed == [one] and len(third.skipped) == 3
    assert pd.read_csv(folder / "collected.csv").equals(collected)
    assert json.loads((folder / "points" / one / sweep.DONE).read_text())["profile_sha256"] == \
        sweep.profile_digest("quick", sweep.resolve_target(str(PROBE), "quick", project).defaults)

    # a point that ran under other profile values is set aside (kept in stale/) and runs again
    done = folder / "points" / one / sweep.DONE
    done.write_text(json.dumps({**json.loads(done.read_text()), "profile_sha256": "0" * 64}))
    fourth = run(project, grid, name="demo", repeat=["seed"], workers=1)
    assert fourth.executed == [one] and len(fourth.skipped) == 3
    assert (folder / "stale" / f"{one}-{'0' * 12}" / sweep.DONE).is_file()
    assert pd.read_csv(folder / "collected.csv").equals(collected)


def test_a_sweep_started_while_port_8787_is_held_says_nothing_about_it(project, capfd):
    """A chapter's cluster never asks for Dask's default dashboard port, so another cluster holding it
    puts no warning into the chapter's output."""
    held = socket.socket()
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        held.bind(("", 8787))
    except OSError:
        pass  # something else holds it already: the same situation
    else:
        held.listen()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = run(project, {"x": [1.0], "seed": [0]}, name="port", workers=1)
    finally:
        held.close()
    assert res.executed and not res.failed
    said = [str(w.message) for w in caught] + [capfd.readouterr().err]
    assert not [text for text in said if "8787" in text or "already in use" in text]


def test_a_failing_point_is_reported_and_the_others_kept(project, capsys):
    argv = ["sweep", str(PROBE), "--grid", "x=1,3", "--grid", "fail=false,true", "--name", "failing",
            "--workers", "2", "--no-progress", "--root", str(project)]
    assert main(argv) == 1
    out, err = capsys.readouterr()
    failed = [sweep.point_key({"x": x, "fail": True}) for x in (1.0, 3.0)]
    lines = err.strip().splitlines()
    assert len(lines) == 2
    for key in failed:
        assert any(f"point {key} failed: cell " in line and "RuntimeError: asked to fail" in line for line in lines)
    folder = project / "results" / "quick" / "sweeps" / "failing"
    collected = pd.read_csv(folder / "collected.csv")
    assert collected[["x", "fail"]].to_dict("records") == [{"x": 1.0, "fail": False}, {"x": 3.0, "fail": False}]
    assert collected["y"].tolist() == [1.0, 9.0]
    for key in failed:
        record = json.loads((folder / "failed" / f"{key}.json").read_text())
        assert record["status"] == "failed" and "asked to fail" in record["error"]
        assert (folder / "failed" / f"{key}.ipynb").is_file()
        assert not (folder / "points" / key).exists()
    assert "2 executed, 0 already done, 2 failed" in out


def test_concurrent_points_build_a_shared_artifact_once(project, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    res = run(project, {"seed": [0, 1], "shared_build": [str(shared)]}, name="shared")
    assert not res.failed and len(res.executed) == 2
    assert len((shared / "builds.txt").read_text().splitlines()) == 1  # built once, loaded once
    assert res.collected["shared_sum"].tolist() == [6.0, 6.0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(argv, log: Path) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the process and any kernel it started
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def test_a_worker_killed_mid_sweep_loses_and_duplicates_nothing(project, tmp_path):
    grid = {"x": [1.0, 2.0, 3.0], "seed": [0, 1], "wait": [2.0]}
    reference = run(project, grid, name="reference")
    assert not reference.failed

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    bindir = Path(sys.executable).parent
    scheduler = _start([str(bindir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                        "--no-dashboard"], tmp_path / "scheduler.log")
    workers = []
    try:
        for i in range(2):
            workers.append(_start([str(bindir / "dask"), "worker", address, "--nthreads", "1", "--no-nanny",
                                   "--name", f"w{i}", "--no-dashboard"], tmp_path / f"worker{i}.log"))
        outcome = {}

        def sweep_it():
            try:
                outcome["result"] = sweep.run_sweep(str(PROBE), profile="quick", grid=grid, root=project,
                                                    name="killed", scheduler=address, progress=False)
            except BaseException as err:  # reported by the test below
                outcome["error"] = err

        thread = threading.Thread(target=sweep_it)
        thread.start()
        points = project / "results" / "quick" / "sweeps" / "killed" / "points"
        deadline = time.monotonic() + 120
        # kill a worker while it executes a point: once a point has finished and both workers are busy
        while time.monotonic() < deadline:
            running = list(points.glob(".*.tmp")) if points.is_dir() else []
            done = list(points.glob("*/" + sweep.DONE)) if points.is_dir() else []
            if done and len(running) == 2:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the sweep never got under way")
        os.kill(workers[0].pid, signal.SIGKILL)
        thread.join(timeout=300)
        assert not thread.is_alive()
        assert "error" not in outcome, outcome.get("error")
        res = outcome["result"]
        assert not res.failed and len(res.executed) + len(res.skipped) == 6
        assert res.collected.equals(reference.collected)
        assert len(res.collected) == 6 and not res.collected[["x", "seed"]].duplicated().any()
        assert sorted(p.name for p in points.iterdir()) == sorted(sweep.point_key(p) for p in res.points)
    finally:
        for proc in [*workers, scheduler]:
            _stop(proc)


def test_a_points_digest_covers_the_parameters_its_notebook_declares_and_no_others(monkeypatch):
    from intrinsic_rob.pipeline import profiles

    point = sweep.resolve_target(str(ROOT / "chapters" / "points" / "robust_trial.py"), "cpu", ROOT)
    before = sweep.profile_digest("cpu", point.defaults)
    cpu = profiles.PROFILES["cpu"]

    def changed(chapter: str, name: str, value) -> profiles.Profile:
        chapters = {c: dict(v) for c, v in cpu.chapters.items()}
        chapters[chapter][name] = value
        return dataclasses.replace(cpu, chapters=chapters)

    # chapter 4's evaluation-strength subset and chapter 5's attack budget: not the trial's parameters
    for chapter, name, value in (("04_robust", "strength_size", 7), ("05_in_distribution", "indist_budget", 7)):
        monkeypatch.setattr(profiles, "PROFILES", {**profiles.PROFILES, "cpu": changed(chapter, name, value)})
        assert sweep.profile_digest("cpu", point.defaults) == before
        assert sweep.profile_digest("cpu") != before
    # one of its own (the training length) makes its finished points stale
    monkeypatch.setattr(profiles, "PROFILES", {**profiles.PROFILES, "cpu": changed("04_robust", "robust_epochs", 7)})
    assert sweep.profile_digest("cpu", point.defaults) != before


def test_a_points_digest_changes_with_a_training_methods_loss_revision(monkeypatch):
    from intrinsic_rob.models import methods

    before = sweep.profile_digest("quick")
    revised = {**methods.METHODS, "adv": dataclasses.replace(methods.METHODS["adv"], loss_revision=7)}
    monkeypatch.setattr(methods, "METHODS", revised)
    assert sweep.profile_digest("quick") != before  # a model trained under the revised loss is another model


def test_only_points_recorded_under_other_profile_values_are_set_aside(tmp_path):
    digest = sweep.profile_digest("quick")
    for key, recorded in (("same", digest), ("other", "f" * 64), ("older", None)):
        (tmp_path / "points" / key).mkdir(parents=True)
        record = {"status": "done"} if recorded is None else {"status": "done", "profile_sha256": recorded}
        (tmp_path / "points" / key / sweep.DONE).write_text(json.dumps(record))
    (tmp_path / "points" / "unfinished").mkdir()
    moved = sweep.retire_stale_points(tmp_path, ["same", "other", "older", "unfinished", "missing"], digest)
    assert moved == ["other"]
    assert sorted(p.name for p in (tmp_path / "points").iterdir()) == ["older", "same", "unfinished"]
    assert (tmp_path / "stale" / f"other-{'f' * 12}" / sweep.DONE).is_file()


def test_a_users_notebook_sweeps_from_a_folder_outside_the_repository(tmp_path, monkeypatch, capsys):
    # a user's own folder: no chapters/ or book/ above it; results in ./results, or in a folder they name
    mine = tmp_path / "analysis"
    mine.mkdir()
    (mine / "my_analysis.py").write_text(PROBE.read_text())
    monkeypatch.chdir(mine)
    monkeypatch.delenv("INTRINSIC_ROB_RESULTS", raising=False)
    monkeypatch.setenv("INTRINSIC_ROB_ARTIFACTS", str(tmp_path / "artifacts"))
    argv = ["sweep", "my_analysis.py", "--grid", "x=1,2", "--workers", "1", "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    collected = pd.read_csv(mine / "results" / "quick" / "sweeps" / "my_analysis" / "collected.csv")
    assert collected["y"].tolist() == [1.0, 4.0]
    assert main([*argv, "--results", str(tmp_path / "elsewhere")]) == 0, capsys.readouterr().err
    assert (tmp_path / "elsewhere" / "quick" / "sweeps" / "my_analysis" / "collected.csv").is_file()
    assert main([*argv, "--results", "/proc/forbidden"]) == 2
    assert "--results: cannot write to /proc/forbidden" in capsys.readouterr().err


def test_a_points_digest_changes_with_the_cpu_kernels(monkeypatch):
    """A point finished on other CPU kernels measured other weights: its digest differs, so a sweep retires it."""
    from intrinsic_rob.core import kernels
    from intrinsic_rob.pipeline.sweep import profile_digest

    here = profile_digest("quick", ["pgd_steps"])
    monkeypatch.setattr(kernels, "KERNELS", kernels.KERNELS + "+other")
    assert profile_digest("quick", ["pgd_steps"]) != here


def test_git_keeps_recorded_points_and_ignores_points_in_progress():
    """The recorded cpu run's finished points are committed; a point in progress, or one a dead worker left
    unfinished (``.<key>.<random>.tmp``), never is; other profiles' points are not committed either."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")

    def ignored(path: str) -> bool:
        return subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0

    for points in ("results/cpu/sweeps/table3_mnist/points", "results/cpu/sweeps/figure2_mnist_lp/points"):
        assert not ignored(f"{points}/method=lp,trial=0-7b11d8f3/done.json")
        assert ignored(f"{points}/.method=lp,trial=0-7b11d8f3.0123456789ab.tmp/robust_trial.ipynb")
    assert ignored("results/quick/sweeps/table3_mnist/points/method=lp,trial=0-7b11d8f3/done.json")
