"""Which CPU code paths torch takes, so that the same computation gives the same bits on x86-64 machines of different models.

A float sum's value depends on the order of its terms, and torch's CPU kernels order
them by the machine: ATen's vectorised loops run 8 or 16 lanes wide (AVX2 or AVX-512),
MKL picks a code branch per processor, oneDNN (convolutions) generates code for the
widest instruction set it finds, and NNPACK blocks its sums by the processor's caches.
Training amplifies the last bit into other weights: trained on the same two threads
with the same seeds, one epoch of the book's quick ACGAN ended at a different digest
with each of ATen's, MKL's and oneDNN's choice set otherwise on one AVX-512 machine, so
a machine with another processor trained another ACGAN, and every number downstream
of it differed.

The book therefore runs on code paths that x86-64 processors with AVX2 share: ATen's
AVX2 kernels, MKL's AVX2 branch in its conditional numerical reproducibility mode, and
oneDNN capped at AVX2 in its deterministic mode (the avx2 kernels it then runs for the
book's convolutions block their sums by the shapes, the instruction set and the thread
count only), with NNPACK off. On two cores of an AVX-512 machine a training or attack
step took 13-19% longer than on its native kernels (the book's classifier forward and
backward, generator and classifier together, a PGD step). Leaving oneDNN out
altogether, for ATen's own im2col convolutions, took the classifier's step 2.2 times as long.

* :data:`PORTABLE_ENVIRONMENT` is set (unless already set) when the package is imported,
  before torch's first operation reads it, and every process the package starts
  (papermill's kernels, Dask's workers) inherits it.
* :func:`portable_cpu_kernels` sets oneDNN's deterministic mode and switches NNPACK off
  for a block of code (``training.fit`` trains inside it); :func:`use_portable_cpu_kernels`
  does so for the rest of the process (a chapter's kernel, a command) and checks that
  ATen took the pinned kernels.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator, MutableMapping

from intrinsic_rob.core.errors import InputError

#: Environment variables that pin the instruction set of ATen's kernels, MKL's code branch and oneDNN's code.
PORTABLE_ENVIRONMENT: dict[str, str] = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2",
                                        "ONEDNN_MAX_CPU_ISA": "AVX2"}

#: What names these code paths in a cache key (:func:`~intrinsic_rob.core.artifacts.artifact_dir`).
KERNELS = "aten-avx2+mkl-cbwr-avx2+onednn-avx2-deterministic+no-nnpack"

#: ATen's capabilities that a machine may report under :data:`PORTABLE_ENVIRONMENT`: AVX2 where
#: the processor has it, and what a processor without it (or another architecture) falls back to.
_PORTABLE_CAPABILITIES = frozenset({"AVX2", "DEFAULT", "NO AVX", "ZVECTOR", "VSX", "SVE256", "SVE128"})


def pin_environment(environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Set :data:`PORTABLE_ENVIRONMENT` in ``environ`` where a variable is not set yet; returns what was set.

    Example:
        >>> env = {"MKL_CBWR": "COMPATIBLE"}
        >>> sorted(pin_environment(env)), env["MKL_CBWR"]
        (['ATEN_CPU_CAPABILITY', 'ONEDNN_MAX_CPU_ISA'], 'COMPATIBLE')
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

    _switch_to_portable()
    capability = torch.backends.cpu.get_cpu_capability()
    if capability not in _PORTABLE_CAPABILITIES:
        raise InputError(f"ATEN_CPU_CAPABILITY must be 'avx2' when torch starts, for the book's numbers: this "
                         f"process runs torch's {capability} kernels (import intrinsic_rob before any tensor "
                         f"operation, or start the process with ATEN_CPU_CAPABILITY=avx2)")
    return capability
