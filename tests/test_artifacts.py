"""The artifact cache: load_or_build builds once, also when two processes ask at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch

from intrinsic_rob.core import artifacts
from intrinsic_rob.core.artifacts import building, load_or_build, load_tensors, save_tensors
from intrinsic_rob.core.kernels import KERNELS

pytestmark = pytest.mark.skipif(artifacts.fcntl is None, reason="cross-process locking needs fcntl (POSIX)")


class Counted:
    """A tensor artifact in ``folder``, with counts of how often it was loaded and built."""

    def __init__(self, folder: Path):
        self.path = folder / "x.safetensors"
        self.loads = self.builds = 0

    def load(self):
        self.loads += 1
        found = load_tensors(self.path)
        return None if found is None else found["x"]

    def build(self):
        self.builds += 1
        x = torch.arange(4.0) + self.builds
        save_tensors(self.path, {"x": x})
        return x


def test_builds_once_then_loads(tmp_path):
    art = Counted(tmp_path)
    first = load_or_build(tmp_path, art.load, art.build)
    assert art.builds == 1 and art.loads == 2  # before and after taking the lock
    second = load_or_build(tmp_path, art.load, art.build)
    assert art.builds == 1 and art.loads == 3 and torch.equal(first, second)
    assert (tmp_path / ".lock").exists()  # left behind, harmlessly: see test_a_killed_builder_does_not_block


def test_damaged_artifact_is_rebuilt(tmp_path):
    art = Counted(tmp_path)
    load_or_build(tmp_path, art.load, art.build)
    data = bytearray(art.path.read_bytes())
    data[-1] ^= 0xFF
    art.path.write_bytes(bytes(data))  # no longer matches its sha256 sidecar
    assert art.load() is None
    rebuilt = load_or_build(tmp_path, art.load, art.build)
    assert art.builds == 2 and torch.equal(rebuilt, torch.arange(4.0) + 2)
    assert torch.equal(load_or_build(tmp_path, art.load, art.build), rebuilt) and art.builds == 2


def test_artifact_finished_while_waiting_is_loaded_not_rebuilt(tmp_path):
    answers = iter([None, "made by another process"])
    assert load_or_build(tmp_path, lambda: next(answers), lambda: pytest.fail("built twice")) == "made by another process"


def test_failed_build_releases_the_lock(tmp_path):
    def broken():
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        load_or_build(tmp_path, lambda: None, broken)
    assert load_or_build(tmp_path, lambda: None, lambda: "second try", timeout=1) == "second try"


def test_the_same_thread_may_nest_other_threads_wait(tmp_path):
    with building(tmp_path, timeout=1):
        with building(tmp_path, timeout=1):  # would wait for itself without the per-thread count
            pass
        errors = []

        def other_thread():
            try:
                with building(tmp_path, timeout=0.2):
                    pass
            except TimeoutError as exc:
                errors.append(exc)

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert len(errors) == 1 and str(os.getpid()) in str(errors[0])
    with building(tmp_path, timeout=1):  # released on leaving the outer block
        pass


# --- two processes --------------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    from intrinsic_rob.core import artifacts

    name, sync, counter, cache = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])

    def barrier(stage):  # both processes arrive before either goes on
        (sync / f"{stage}-{name}").touch()
        deadline = time.monotonic() + 120
        while len(list(sync.glob(f"{stage}-*"))) < 2:
            assert time.monotonic() < deadline, f"the other worker never reached {stage}"
            time.sleep(0.01)

    barrier("start")
    for _ in range(100):  # both write the same config.json at once, over and over
        folder = artifacts.artifact_dir("demo", {"n": 1}, "test", cache)
        (folder / "config.json").unlink(missing_ok=True)
    folder = artifacts.artifact_dir("demo", {"n": 1}, "test", cache)
    result = folder / "result.json"
    first_load = []

    def load():
        try:
            found = json.loads(result.read_text())
        except (OSError, ValueError):
            found = None
        first_load.append(found)
        return found

    def build():
        time.sleep(1.0)
        with open(counter, "a") as handle:
            handle.write(f"{name}\\n")
        made = {"by": name, "token": os.urandom(8).hex()}
        artifacts.atomic_write_bytes(result, json.dumps(made).encode())
        return made

    barrier("build")
    got = artifacts.load_or_build(folder, load, build, timeout=60)
    print(json.dumps({"name": name, "result": got, "first_load": first_load[0]}))
    """
)


def test_two_processes_build_once_and_get_the_same_result(tmp_path, monkeypatch):
    sync, counter = tmp_path / "sync", tmp_path / "counter.txt"
    sync.mkdir()
    env = dict(os.environ)
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, name, str(sync), str(counter),
                          str(tmp_path / "artifacts")],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in ("a", "b")
    ]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    reports = [json.loads(out) for out, _ in outputs]
    assert len(counter.read_text().splitlines()) == 1  # built exactly once
    assert reports[0]["result"] == reports[1]["result"]
    builder = reports[0]["result"]["by"]
    assert {r["name"] for r in reports} == {"a", "b"} and builder in {"a", "b"}
    # both found nothing at first; the loser waited on the lock and then loaded the winner's file
    assert [r["first_load"] for r in reports] == [None, None]
    folder = artifacts.artifact_dir("demo", {"n": 1}, "test", tmp_path / "artifacts")
    keyed = {"n": 1, "cpu_kernels": KERNELS}  # the kernels are part of every key
    assert folder == tmp_path / "artifacts" / "test" / f"demo-{artifacts.config_hash(keyed)}"
    assert json.loads((folder / "config.json").read_text()) == keyed
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "config.json", "result.json"]  # no temporary files left


def test_a_killed_builder_does_not_block(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from intrinsic_rob.core.artifacts import building\n"
         "with building(sys.argv[1]):\n"
         "    print('locked', flush=True)\n"
         "    time.sleep(120)\n",
         str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        start = time.monotonic()
        with pytest.raises(TimeoutError, match=rf"still locked after 0.3 s \(process {holder.pid} is building"):
            with building(tmp_path, timeout=0.3):
                pass
        assert time.monotonic() - start >= 0.3
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert (tmp_path / ".lock").exists()
    with building(tmp_path, timeout=5):  # the dead process's lock went with it
        pass


def test_config_json_is_not_rewritten_when_unchanged(tmp_path, monkeypatch):
    folder = artifacts.artifact_dir("demo", {"n": 2}, "test", tmp_path)
    config = folder / "config.json"
    os.utime(config, (0, 0))
    assert artifacts.artifact_dir("demo", {"n": 2}, "test", tmp_path) == folder
    assert config.stat().st_mtime == 0  # same bytes: left alone (so a read-only cache works too)
    config.write_text("{}\n")
    artifacts.artifact_dir("demo", {"n": 2}, "test", tmp_path)
    assert json.loads(config.read_text()) == {"n": 2, "cpu_kernels": KERNELS}
