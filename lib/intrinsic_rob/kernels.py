"""Which CPU code paths torch takes, so that the same computation gives the same bits on every x86-64 machine.

A float sum's value depends on the order of its terms, and torch's CPU kernels order
them by the machine: ATen's vectorised loops run 8 or 16 lanes wide (AVX2 or AVX-512),
MKL picks a code branch per processor, and oneDNN (convolutions) and NNPACK choose their
blocking from the processor's instruction set and cache sizes. Training amplifies the
last bit into other weights: trained on the same two threads with the same seeds, one
epoch of the book's quick ACGAN ended at a different digest with each of these three
set otherwise on one machine (ATen's AVX2 loops, oneDNN capped at AVX2, MKL's AVX2
branch), so a machine with another processor trains another ACGAN, and every number
downstream of it differs.

The book therefore runs on code paths that every x86-64 processor with AVX2 executes
identically: ATen's AVX2 kernels, MKL's AVX2 branch in its conditional numerical
reproducibility mode, and convolutions through ATen's own im2col and MKL's matrix
products instead of oneDNN or NNPACK. On two cores this costs about a third more time
in convolution-heavy training (`intrinsic-rob bench train` measures it).

* :data:`PORTABLE_ENVIRONMENT` is set (unless already set) when the package is imported,
  before torch's first operation reads it, and every process the package starts
  (papermill's kernels, Dask's workers) inherits it.
* :func:`portable_cpu_kernels` switches oneDNN and NNPACK off for a block of code
  (``training.fit`` trains inside it); :func:`use_portable_cpu_kernels` switches them off
  for the rest of the process (a chapter's kernel, a command) and checks that ATen took
  the pinned kernels.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator, MutableMapping

from .errors import InputError

#: Environment variables that pin the vector width of ATen's kernels and MKL's code branch.
PORTABLE_ENVIRONMENT: dict[str, str] = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"}

#: What names these code paths in a cache key (:func:`~intrinsic_rob.artifacts.artifact_dir`).
KERNELS = "aten-avx2+mkl-cbwr-avx2+no-onednn-no-nnpack"

#: ATen's capabilities that a machine may report under :data:`PORTABLE_ENVIRONMENT`: AVX2 where
#: the processor has it, and what a processor without it (or another architecture) falls back to.
_PORTABLE_CAPABILITIES = frozenset({"AVX2", "DEFAULT", "NO AVX", "ZVECTOR", "VSX", "SVE256", "SVE128"})


def pin_environment(environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Set :data:`PORTABLE_ENVIRONMENT` in ``environ`` where a variable is not set yet; returns what was set.

    Example:
        >>> env = {"MKL_CBWR": "COMPATIBLE"}
        >>> pin_environment(env), env["MKL_CBWR"]
        ({'ATEN_CPU_CAPABILITY': 'avx2'}, 'COMPATIBLE')
    """
    added = {name: value for name, value in PORTABLE_ENVIRONMENT.items() if name not in environ}
    environ.update(added)
    return added


@contextmanager
def portable_cpu_kernels() -> Iterator[None]:
    """Run the enclosed code with torch's convolutions off oneDNN and NNPACK, restoring both switches after.

    Example:
        >>> import torch
        >>> with portable_cpu_kernels():
        ...     torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled
        False
    """
    import torch

    # Only the switch: torch.backends.mkldnn.flags() would also reset oneDNN's TF32 setting and warn.
    previous = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        with torch.backends.nnpack.flags(enabled=False):
            yield
    finally:
        torch.backends.mkldnn.enabled = previous


def use_portable_cpu_kernels() -> str:
    """Switch oneDNN and NNPACK off for the rest of the process and check ATen's kernels; returns their name.

    Raises:
        InputError: ATen took kernels other than :data:`PORTABLE_ENVIRONMENT`'s (the
            process ran a tensor operation with ``ATEN_CPU_CAPABILITY`` set otherwise, or
            before the package was imported): its numbers would differ from the book's.

    Example:
        >>> import torch
        >>> with portable_cpu_kernels():  # restores both switches after
        ...     use_portable_cpu_kernels() in {"AVX2", "DEFAULT", "NO AVX"}, torch.backends.mkldnn.enabled
        (True, False)
    """
    import torch

    torch.backends.mkldnn.enabled = False
    torch.backends.nnpack.set_flags(False)
    capability = torch.backends.cpu.get_cpu_capability()
    if capability not in _PORTABLE_CAPABILITIES:
        raise InputError(f"ATEN_CPU_CAPABILITY must be 'avx2' when torch starts, for the book's numbers: this "
                         f"process runs torch's {capability} kernels (import intrinsic_rob before any tensor "
                         f"operation, or start the process with ATEN_CPU_CAPABILITY=avx2)")
    return capability
