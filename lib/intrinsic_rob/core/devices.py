"""Where tensors live ('auto' means CUDA when present, else the CPU), models' device and eval mode, and CPU
memory behaviour."""

from __future__ import annotations

import ctypes
import ctypes.util
from contextlib import contextmanager
from typing import Iterator, TypeVar

import torch
import torch.nn as nn

from intrinsic_rob.core.errors import InputError

T = TypeVar("T")


def resolve_device(name: str = "auto") -> torch.device:
    """'auto', 'cpu' or 'cuda' (optionally 'cuda:N') as a torch.device; CUDA must exist.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(f"device must be 'cpu' or 'auto' here: no CUDA device is available (got {name!r})")
        return torch.device(name)
    raise InputError(f"device must be 'auto', 'cpu' or 'cuda', got {name!r}")


def device_of(module: object) -> torch.device:
    """Where ``module``'s first parameter lives; the CPU when it has none or is not a module.

    Anything with a ``parameters()`` method (an ``nn.Module``, or another object offering
    one) counts; the project's generators and classifiers keep all their weights on one
    device, so the first parameter's is the model's. The Lipschitz estimators and
    :func:`intrinsic_rob.generators.check_generator` put their inputs there.

    Example:
        >>> device_of(nn.Linear(2, 2))
        device(type='cpu')
        >>> device_of(nn.ReLU()), device_of(lambda z, y: z)  # no parameters, not a module
        (device(type='cpu'), device(type='cpu'))
    """
    parameters = getattr(module, "parameters", None)
    if callable(parameters):
        for p in parameters():
            return p.device
    return torch.device("cpu")


@contextmanager
def eval_mode(module: T) -> Iterator[T]:
    """Put an ``nn.Module`` in eval mode for the enclosed code, restoring its previous mode.

    Every submodule gets back the ``training`` flag it had before (also when the block
    raises), so a model in training mode, or one with some parts frozen in eval mode, is
    left as it was. Objects that are not modules (a plain function used as a generator)
    pass through unchanged. Yields ``module``.

    Example:
        >>> net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)).train()
        >>> with eval_mode(net):
        ...     net.training, net[1].training
        (False, False)
        >>> net.training, net[1].training
        (True, True)
        >>> with eval_mode(len) as f:  # not a module: nothing to do
        ...     f is len
        True
    """
    if not isinstance(module, nn.Module):
        yield module
        return
    saved = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        module.train(saved[0][1])  # through train(), which a module may override
        for m, training in saved:  # submodules whose mode differed from the top's
            m.training = training


@contextmanager
def frozen_parameters(*modules: object) -> Iterator[None]:
    """Switch off ``requires_grad`` on the modules' parameters for the enclosed code, restoring it after.

    An attack differentiates with respect to its input only; with the parameters frozen,
    autograd builds no graph for them and never touches their ``.grad``. Objects that are
    not modules pass through.

    Example:
        >>> net = nn.Linear(2, 2)
        >>> with frozen_parameters(net, len):
        ...     net.weight.requires_grad
        False
        >>> net.weight.requires_grad
        True
    """
    params = [p for m in modules if isinstance(m, nn.Module) for p in m.parameters() if p.requires_grad]
    try:
        for p in params:
            p.requires_grad_(False)
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


@contextmanager
def full_precision() -> Iterator[None]:
    """Run the enclosed code with true fp32 arithmetic on CUDA (no TF32), restoring the settings after.

    cuDNN convolutions use TF32 by default on Ampere and later GPUs: a 10-bit mantissa,
    relative errors near 1e-3 per output. A Lipschitz ratio divides a difference of two
    nearby images by a step of 0.5, so such errors would move the estimates by percents
    and make GPU and CPU results disagree. On the CPU this changes nothing.

    Example:
        >>> saved = torch.backends.cudnn.allow_tf32
        >>> with full_precision():
        ...     torch.backends.cudnn.allow_tf32
        False
        >>> torch.backends.cudnn.allow_tf32 == saved  # restored on exit
        True
    """
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def pin_allocator() -> bool:
    """Keep freed memory in this process (glibc ``mallopt``), so timings do not depend on history.

    By default glibc returns large freed blocks to the operating system and adapts its
    thresholds to past allocations, so the same tensor operation page-faults its buffers
    afresh in one run and not in another; on this project's 2-core machine that changed
    transposed-convolution throughput by up to 2x between otherwise identical runs.
    Pinning both thresholds at 1 GiB removes the effect. It holds for the rest of the
    process (freed memory is reused, not returned to the system). Returns False (and
    changes nothing) where the C library is not glibc.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 1 << 30)) and bool(mallopt(_M_TRIM_THRESHOLD, 1 << 30))


@contextmanager
def fixed_cpu_threads(threads: int) -> Iterator[None]:
    """Run the enclosed code with ``threads`` CPU threads for torch and the BLAS libraries
    (threadpoolctl), restoring torch's count after.

    Example:
        >>> before = torch.get_num_threads()
        >>> with fixed_cpu_threads(1):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == before
        True
    """
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(previous)
