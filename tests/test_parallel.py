"""intrinsic_rob.core.parallel: calls computed at once in one-thread worker processes, in order, errors raised here."""

from __future__ import annotations

import functools
import operator

import pytest
import torch

from intrinsic_rob.core.errors import InputError
from intrinsic_rob.core.parallel import available_cores, in_parallel


def _threads_and_kernels(tag: str) -> tuple[str, int, str]:
    import os

    return tag, torch.get_num_threads(), os.environ.get("MKL_CBWR", "")


def _fail(message: str) -> None:
    raise InputError(message)


def test_calls_run_in_workers_of_one_thread_on_the_books_kernels_and_come_back_in_order():
    got = in_parallel([functools.partial(_threads_and_kernels, t) for t in ("a", "b", "c")], workers=2)
    assert [g[0] for g in got] == ["a", "b", "c"]
    assert all(threads == 1 and cbwr == "COMPATIBLE" for _, threads, cbwr in got), got


def test_one_worker_runs_the_calls_here_in_order():
    before = torch.get_num_threads()
    got = in_parallel([functools.partial(_threads_and_kernels, "x"), functools.partial(operator.add, 2, 3)], workers=1)
    assert got[0][1] == before and got[1] == 5
    assert in_parallel([]) == []


def test_an_error_in_a_worker_is_raised_here_and_bad_workers_are_refused():
    with pytest.raises(InputError, match="^no such digit$"):
        in_parallel([functools.partial(_fail, "no such digit"), functools.partial(operator.add, 1, 1)], workers=2)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InputError, match="^workers must be (an integer )?>= 1( or None)?, got "):
            in_parallel([functools.partial(operator.add, 1, 1)], workers=bad)
    assert available_cores() >= 1


def test_make_acgans_trains_only_the_missing_generators_and_returns_them_in_order(tmp_path, monkeypatch):
    import numpy as np

    from intrinsic_rob.core import parallel
    from intrinsic_rob.data.datasets import make_acgans
    from intrinsic_rob.generators.acgan import ACGANRecipe
    from tests.test_data import write_idx

    rng = np.random.default_rng(0)
    write_idx(tmp_path, "train", rng.integers(0, 256, (64, 28, 28), dtype=np.uint8), np.arange(64) % 10)
    asked: list[int] = []

    def inline(calls, workers=None):  # the calls a rebuild would start processes for
        asked.append(len(calls))
        return [call() for call in calls]

    monkeypatch.setattr(parallel, "in_parallel", inline)
    from intrinsic_rob.data import mnist

    reads: list[str] = []
    load_mnist = mnist.load_mnist
    monkeypatch.setattr(mnist, "load_mnist", lambda path=None: reads.append(str(path)) or load_mnist(path))
    options = dict(seed=0, acgan=ACGANRecipe(steps=1), group="t", artifacts=tmp_path / "a", mnist_dir=tmp_path)
    conditional, unconditional = make_acgans(**options)
    reads.clear()
    again = make_acgans(**options)
    assert reads == [str(tmp_path)]  # a rebuild reads the digits once, for both generators
    only = make_acgans((True,), **options)
    assert asked == [2, 0, 0]
    assert [s.description for s in again] == [conditional.description, unconditional.description]
    assert conditional.generator.num_classes == 10 and unconditional.generator.num_classes == 1
    assert [s.generator.num_classes for s in again] == [10, 1] and only[0].generator.num_classes == 1
    for a, b in zip((conditional, unconditional), again):
        assert all(torch.equal(p, q) for p, q in zip(a.generator.state_dict().values(),
                                                      b.generator.state_dict().values()))
