"""A linear layer whose CPU matrix products run on OpenBLAS, the same bits on every x86-64 processor with AVX2.

torch's CPU ``F.linear`` multiplies with MKL, which runs a fixed code branch on Intel
processors only; on others only its slow compatible branch is the same everywhere
(:mod:`intrinsic_rob.core.kernels`), and that branch took the ACGAN's training step about
70% longer. OpenBLAS, pinned to its Haswell kernels (``OPENBLAS_CORETYPE``, set with the
other pinned variables) and run on one thread, blocks its sums by the kernel and the
shapes, not by the processor's maker, and multiplies the ACGAN's batches of 64 about as
fast as MKL's automatic branch.
:class:`PortableLinear` is an ``nn.Linear`` (same parameters, same state dict) whose
float32 CPU forward and backward run their three matrix products through numpy on
OpenBLAS; anywhere else (a GPU, float64, inputs of more than two dimensions) it is
``F.linear``.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd.function import once_differentiable


@functools.cache
def _blas():
    """numpy's BLAS, to limit per call (threadpoolctl)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


def _mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b for float32 CPU matrices, on numpy's OpenBLAS on one thread (transposed views are passed as they are).

    One thread, whatever torch's count: OpenBLAS's Haswell kernels sum a product in another
    order on two threads than on one (a 300 x 256 by 256 x 500 product differed), and its
    threads wait spinning after each product and took the cores from torch's threads, which
    made an ACGAN training step (batches of 64) twice as long. On one thread the step took
    1.4 times as long as on MKL's automatic branch, instead of 1.7 times on its compatible one.
    """
    with _blas().limit(limits=1):
        return torch.from_numpy(np.matmul(a.detach().numpy(), b.detach().numpy()))


class _BlasLinear(torch.autograd.Function):
    """y = x w^T + b with x (N, in), w (out, in), b (out,) or None; gradients x: g w, w: g^T x, b: sum of g."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        out = _mm(x, weight.t())
        return out + bias if bias is not None else out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        grad_x = _mm(grad, weight) if ctx.needs_input_grad[0] else None
        grad_w = _mm(grad.t(), x) if ctx.needs_input_grad[1] else None
        grad_b = grad.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b


def portable_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear(x, weight, bias)``, on OpenBLAS for float32 matrices on the CPU (:mod:`intrinsic_rob.core.blas`).

    Shapes: x (N, in), weight (out, in), bias (out,) -> (N, out).

    Example:
        >>> x, w, b = torch.randn(4, 3), torch.randn(2, 3), torch.randn(2)
        >>> torch.allclose(portable_linear(x, w, b), F.linear(x, w, b), atol=1e-6)
        True
    """
    on_blas = (x.device.type == "cpu" and weight.device.type == "cpu" and x.dim() == 2
               and x.dtype == weight.dtype == torch.float32)
    if not on_blas:
        return F.linear(x, weight, bias)
    return _BlasLinear.apply(x.contiguous(), weight.contiguous(), bias)


class PortableLinear(nn.Linear):
    """``nn.Linear`` whose CPU float32 products run on OpenBLAS (:func:`portable_linear`); the same parameters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return portable_linear(x, self.weight, self.bias)


__all__ = ["PortableLinear", "portable_linear"]
