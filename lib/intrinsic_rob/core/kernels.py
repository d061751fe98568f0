"""Which CPU code paths torch, numpy and scipy take, so that the same computation gives the same bits on x86-64
machines of different models and makers.

A float sum's value depends on the order of its terms, and the CPU libraries order
them by the machine: ATen's vectorised loops run 8 or 16 lanes wide (AVX2 or AVX-512),
MKL picks a code branch per processor, oneDNN (convolutions) generates code for the
widest instruction set it finds, OpenBLAS (numpy, scipy) picks kernels by processor
model, and NNPACK blocks its sums by the processor's caches. Training amplifies the last
bit into other weights: trained on the same two threads with the same seeds, one epoch
of the book's quick ACGAN ended at a different digest with each of ATen's, MKL's and
oneDNN's choice set otherwise on one AVX-512 machine, so a machine with another
processor trained another ACGAN, and every number downstream of it differed.

The book therefore runs on code paths that x86-64 processors with AVX2 share, whoever
made them: ATen's AVX2 kernels; MKL's COMPATIBLE branch of its conditional numerical
reproducibility mode, an SSE2 path without approximation instructions, which MKL
documents as the one fixed branch it also runs on processors not made by Intel (on an
AMD EPYC machine, ``MKL_CBWR=AVX2`` fell back to MKL's automatic branch, and the quick
ACGAN trained to other weights than on an Intel one); oneDNN capped at AVX2 in its
deterministic mode (the jit avx2 kernels it runs for the ACGAN's and the classifiers'
convolutions block their sums by the shapes, the instruction set and the thread count;
the brgemm kernels it runs for LP-Certify's strided convolutions backwards and for the
dual network's transposed ones may split theirs by the L1 and L2 cache sizes, so
LP-Certify's numbers can still differ between processors whose caches differ);
OpenBLAS on its Haswell kernels, which also multiply the ACGAN's linear layers
(:mod:`intrinsic_rob.core.blas`); NNPACK off. On two cores of an AVX-512 machine a
training or attack step took 13-19% longer than on its native kernels (the book's
classifier forward and backward, generator and classifier together, a PGD step);
leaving oneDNN out altogether, for ATen's own im2col convolutions, took the classifier's
step 2.2 times as long. MKL's compatible branch, against its automatic one on an AMD
EPYC machine, took a matrix product of the generator's size 3.9 times as long, the
generator's forward pass 34% and an in-distribution attack step 31% longer, a TRADES
training step 1% and an LP-Certify one 5%; with the ACGAN's layers on OpenBLAS, its
forward pass took as long as on MKL's automatic branch and a training step 1.4 times as
long.

* :data:`PORTABLE_ENVIRONMENT` is set (unless already set) when the package is imported,
  before torch's first operation reads it, and every process the package starts
  (papermill's kernels, Dask's workers) inherits it. OpenBLAS reads its variable when
  numpy is first imported, so a process that imported numpy before the package keeps
  its own kernels, and :func:`use_portable_cpu_kernels` refuses it in one line; the
  package sets the variable before anything it imports loads numpy.
* :func:`portable_cpu_kernels` sets oneDNN's deterministic mode and switches NNPACK off
  for a block of code (``training.fit`` trains inside it); :func:`use_portable_cpu_kernels`
  does so for the rest of the process (a chapter's kernel, a command) and checks that
  ATen and numpy's OpenBLAS took the pinned kernels.
* :func:`fingerprints` digests one small computation per library, so a machine whose
  libraries give other bits than the book's is found, and named, in seconds.
"""

from __future__ import annotations

import os
import platform
from contextlib import contextmanager
from typing import Iterator, MutableMapping

#: Environment variables that pin the instruction set of ATen's kernels, MKL's code branch, oneDNN's code and
#: (on x86-64) OpenBLAS's kernels for numpy and scipy.
PORTABLE_ENVIRONMENT: dict[str, str] = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE",
                                        "ONEDNN_MAX_CPU_ISA": "AVX2",
                                        **({"OPENBLAS_CORETYPE": "Haswell"}
                                           if platform.machine().lower() in ("x86_64", "amd64") else {})}

#: CPU threads every training run uses (:mod:`intrinsic_rob.models.training`). One: the weights depend
#: on the thread count, so it is fixed, and at one thread independent trainings run at once, one
#: per core (:mod:`intrinsic_rob.core.parallel`), as do a sweep's one-thread workers. On two cores
#: of an AMD EPYC machine, two threads made a training step 1.2 (the ACGAN) to 1.6 (TRADES) times
#: as fast as one; two trainings at once, one per core, do more.
TRAINING_THREADS = 1

#: What names these code paths, and the training's thread count, in a cache key
#: (:func:`~intrinsic_rob.core.artifacts.artifact_dir`), a sweep point's digest and a provenance.
KERNELS = ("aten-avx2+mkl-cbwr-compatible+onednn-avx2-deterministic+no-nnpack+openblas-haswell+blas-linear"
           f"+train-threads-{TRAINING_THREADS}")

#: ATen's capabilities that a machine may report under :data:`PORTABLE_ENVIRONMENT`: AVX2 where
#: the processor has it, and what a processor without it (or another architecture) falls back to.
_PORTABLE_CAPABILITIES = frozenset({"AVX2", "DEFAULT", "NO AVX", "ZVECTOR", "VSX", "SVE256", "SVE128"})


def pin_environment(environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Set :data:`PORTABLE_ENVIRONMENT` in ``environ`` where a variable is not set yet; returns what was set.

    Example:
        >>> env = {"MKL_CBWR": "AUTO"}
        >>> "MKL_CBWR" in pin_environment(env), env["MKL_CBWR"]
        (False, 'AUTO')
    """
    added = {name: value for name, value in PORTABLE_ENVIRONMENT.items() if name not in environ}
    environ.update(added)
    return added


def _switch_to_portable() -> tuple[bool, bool]:
    """Turn oneDNN's deterministic mode on and NNPACK off; returns both switches as they were."""
    import torch

    previous = (torch.backends.mkldnn.deterministic, torch._C._get_nnpack_enabled())
    # Only the switch: torch.backends.mkldnn.flags() would also reset oneDNN's TF32 setting and warn.
    torch.backends.mkldnn.deterministic = True
    torch.backends.nnpack.set_flags(False)
    return previous


@contextmanager
def portable_cpu_kernels() -> Iterator[None]:
    """Run the enclosed code with oneDNN's deterministic mode on and NNPACK off, restoring both after.

    Example:
        >>> import torch
        >>> with portable_cpu_kernels():
        ...     torch.backends.mkldnn.deterministic
        True
    """
    import torch

    deterministic, nnpack = _switch_to_portable()
    try:
        yield
    finally:
        torch.backends.mkldnn.deterministic = deterministic
        torch.backends.nnpack.set_flags(nnpack)


def use_portable_cpu_kernels() -> str:
    """Set oneDNN's deterministic mode and switch NNPACK off for the rest of the process, and check ATen's
    kernels; returns their name.

    Raises:
        InputError: ATen took kernels other than :data:`PORTABLE_ENVIRONMENT`'s (the
            process ran a tensor operation with ``ATEN_CPU_CAPABILITY`` set otherwise, or
            before the package was imported): its numbers would differ from the book's.

    Example:
        >>> import torch
        >>> with portable_cpu_kernels():  # restores both switches after
        ...     use_portable_cpu_kernels() in {"AVX2", "DEFAULT", "NO AVX"}, torch.backends.mkldnn.deterministic
        (True, True)
    """
    import torch

    from intrinsic_rob.core.errors import InputError  # here: errors imports numpy, which must load after the pin

    _switch_to_portable()
    capability = torch.backends.cpu.get_cpu_capability()
    if capability not in _PORTABLE_CAPABILITIES:
        raise InputError(f"ATEN_CPU_CAPABILITY must be 'avx2' when torch starts, for the book's numbers: this "
                         f"process runs torch's {capability} kernels (import intrinsic_rob before any tensor "
                         f"operation, or start the process with ATEN_CPU_CAPABILITY=avx2)")
    core = _openblas_core()
    wanted = PORTABLE_ENVIRONMENT.get("OPENBLAS_CORETYPE")
    if wanted and core is not None and core.lower() != wanted.lower():
        raise InputError(f"OPENBLAS_CORETYPE must be '{wanted}' when numpy loads, for the book's numbers: this "
                         f"process's numpy runs OpenBLAS's {core} kernels (import intrinsic_rob before numpy, or "
                         f"start the process with OPENBLAS_CORETYPE={wanted})")
    return capability


def _openblas_core() -> str | None:
    """The kernels numpy's OpenBLAS runs (threadpoolctl's "architecture"), or None if numpy has none loaded."""
    import numpy  # noqa: F401  (loaded here at the latest, after the pin)
    from threadpoolctl import threadpool_info

    cores = [info.get("architecture") for info in threadpool_info() if info.get("internal_api") == "openblas"
             and "numpy" in str(info.get("filepath", ""))]
    return cores[0] if cores and cores[0] else None


def fingerprints() -> dict[str, str]:
    """sha256 digests (12 hex digits) of one small, seeded computation per library the book's numbers pass
    through, on the pinned code paths and the book's two threads.

    ``aten``: reductions, exp and softmax of a (257, 333) tensor; ``mkl``: a linear layer of the
    ACGAN's widest size (1024 -> 6272), forward and both gradients; ``onednn-conv``: a strided 4x4
    convolution (64 -> 128 channels), forward and both gradients; ``onednn-deconv``: the ACGAN's two
    transposed convolutions (128 -> 64 and 64 -> 1 channels, the second on oneDNN's gemm), forward
    and both gradients; ``onednn-brgconv``: LP-Certify's strided 4x4 convolution (16 -> 32 channels),
    whose input gradient and transposed pass run on oneDNN's brgemm kernels; ``openblas``: numpy's and
    scipy's float64 matrix products on one thread; ``openblas-linear``: the ACGAN's widest linear layer
    as :class:`~intrinsic_rob.core.blas.PortableLinear` runs it, forward and both gradients.
    Two machines that give the same digests run the book's arithmetic the same way on these
    paths; the test suite compares them with the book's.

    Example:
        >>> sorted(fingerprints())
        ['aten', 'mkl', 'onednn-brgconv', 'onednn-conv', 'onednn-deconv', 'openblas', 'openblas-linear']
    """
    import hashlib

    import numpy as np
    import scipy.linalg
    import torch
    import torch.nn.functional as F
    from threadpoolctl import threadpool_limits

    def digest(*arrays) -> str:
        h = hashlib.sha256()
        for a in arrays:
            h.update(np.ascontiguousarray(a.detach().numpy() if isinstance(a, torch.Tensor) else a).tobytes())
        return h.hexdigest()[:12]

    def grads(out: torch.Tensor, *leaves: torch.Tensor) -> list[torch.Tensor]:
        return [out, *torch.autograd.grad((out * out).sum(), leaves)]

    gen = torch.Generator().manual_seed(0)
    randn = lambda *shape: torch.randn(*shape, generator=gen, requires_grad=True)  # noqa: E731
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    out: dict[str, str] = {}
    try:
        with portable_cpu_kernels():
            t = torch.randn(257, 333, generator=gen)
            out["aten"] = digest(t.sum(0), t.exp().mean(1), torch.softmax(t, 1), t.norm(dim=1))
            x, w, b = randn(64, 1024), randn(6272, 1024), randn(6272)
            out["mkl"] = digest(*grads(F.linear(x, w, b), x, w))
            x, w = randn(64, 64, 14, 14), randn(128, 64, 4, 4)
            out["onednn-conv"] = digest(*grads(F.conv2d(x, w, stride=2, padding=1), x, w))
            x, w1, w2 = randn(64, 128, 7, 7), randn(128, 64, 4, 4), randn(64, 1, 4, 4)
            hidden = F.conv_transpose2d(x, w1, stride=2, padding=1)
            out["onednn-deconv"] = digest(*grads(F.conv_transpose2d(hidden, w2, stride=2, padding=1), x, w1, w2))
            x, w = randn(64, 16, 14, 14), randn(32, 16, 4, 4)  # LP-Certify's second layer
            columns = randn(640, 32, 7, 7)  # its dual network's transposed pass
            out["onednn-brgconv"] = digest(*grads(F.conv2d(x, w, stride=2, padding=1), x, w),
                                           F.conv_transpose2d(columns, w, stride=2, padding=1))
    finally:
        torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    a, c = rng.standard_normal((300, 400)), rng.standard_normal((400, 200))
    with threadpool_limits(1):
        out["openblas"] = digest(a @ c, scipy.linalg.blas.dgemm(1.0, a, c))
    from intrinsic_rob.core.blas import portable_linear

    x, w, b = randn(64, 1024), randn(6272, 1024), randn(6272)
    out["openblas-linear"] = digest(*grads(portable_linear(x, w, b), x, w))
    return out
