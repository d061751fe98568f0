"""Independent CPU computations run at once, one single-threaded process per core.

Every training in the book runs on one CPU thread
(:data:`~intrinsic_rob.core.kernels.TRAINING_THREADS`): the weights depend on the thread
count, so it is fixed, and at one thread independent trainings can use the other cores.
Where a chapter must train several models that do not depend on each other (the ACGAN and
its unconditional counterpart; Table 3's three classifiers), :func:`in_parallel` trains
them in separate processes of one thread each, which fill the artifact cache with the
weights that training them one after another would give.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity where the platform tells it).

    Example:
        >>> available_cores() >= 1
        True
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _call_on_one_thread(call: Callable[[], T]) -> T:
    from intrinsic_rob.core.devices import fixed_cpu_threads
    from intrinsic_rob.core.kernels import use_portable_cpu_kernels

    use_portable_cpu_kernels()
    with fixed_cpu_threads(1):
        return call()


def in_parallel(calls: Sequence[Callable[[], T]], *, workers: int | None = None) -> list[T]:
    """``[call() for call in calls]``, computed in up to ``workers`` processes of one CPU thread each.

    ``workers`` defaults to one per available core, and never exceeds the number of calls;
    with one worker the calls run here, in order, with this process's threads. Each call
    must pickle (a module-level function, or a ``functools.partial`` of one with picklable
    arguments), and so must its result. The workers start with the book's portable CPU
    kernels (:func:`~intrinsic_rob.core.kernels.use_portable_cpu_kernels`). An exception in
    a call is raised here.

    Example:
        >>> import functools, operator
        >>> in_parallel([functools.partial(operator.add, 1, 2), functools.partial(operator.mul, 3, 4)], workers=1)
        [3, 12]
    """
    from intrinsic_rob.core.validation import check_value

    check_value("workers", workers, low=1, integer=True, optional=True)
    count = min(len(calls), workers or available_cores())
    if count <= 1:
        return [call() for call in calls]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: a forked child would inherit the parent's thread pools (and, in a notebook, its kernel)
    with ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_call_on_one_thread, calls))
