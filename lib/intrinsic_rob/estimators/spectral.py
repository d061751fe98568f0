"""Certified upper bounds on a network's global l2 Lipschitz constant from its layers' spectral norms.

A chain of linear, (transposed) convolutional, batch-norm and activation layers is
Lipschitz with at most the product of its layers' constants; the global constant bounds
every local one (Condition 4.1) from above. :mod:`intrinsic_rob.estimators.lipschitz` estimates the
local constants from below; this module needs nothing of it, so that generators can
offer their bound (:meth:`intrinsic_rob.generators.acgan.ACGANGenerator.certified_lipschitz_bound`)
without importing the estimators.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
import torch.nn as nn

from intrinsic_rob.core.errors import InputError


def linear_spectral_norm(weight: torch.Tensor) -> float:
    """Largest singular value of a matrix, exactly (SVD in float64)."""
    return float(torch.linalg.matrix_norm(weight.detach().double().cpu(), ord=2))


def conv_spectral_norm_bound(weight: torch.Tensor, transposed: bool, grid: int) -> float:
    """Upper bound on the operator norm of a (transposed) convolution with this kernel.

    A zero-padded convolution is a restriction (a submatrix) of the circular convolution on
    any grid at least as large as its input plus kernel, whose singular values are those of
    the per-frequency channel matrices (Sedghi et al., 2019): the largest of them bounds
    the padded operator. A stride-s transposed convolution is zero insertion (norm 1)
    followed by such a convolution, and a stride-s convolution a convolution followed by
    subsampling (norm 1), so the same bound holds for strided layers.

    Args:
        weight: (out, in, kh, kw) for Conv2d, (in, out, kh, kw) for ConvTranspose2d.
        transposed: whether ``weight`` belongs to a ConvTranspose2d.
        grid: side of the circular grid (>= input side times stride plus kernel size).
    """
    w = weight.detach().double().cpu()
    if transposed:
        w = w.transpose(0, 1)  # (out, in, kh, kw) either way; the norm ignores the flip
    spectrum = torch.fft.fft2(w, s=(grid, grid))  # (out, in, grid, grid)
    per_freq = spectrum.permute(2, 3, 0, 1)  # (grid, grid, out, in)
    return float(torch.linalg.matrix_norm(per_freq, ord=2).max())


def _activation_constant(module: nn.Module) -> float | None:
    if isinstance(module, (nn.ReLU, nn.Tanh, nn.Identity, nn.Flatten, nn.Dropout, nn.Unflatten)):
        return 1.0
    if isinstance(module, nn.LeakyReLU):
        return max(1.0, abs(module.negative_slope))
    if isinstance(module, nn.Sigmoid):
        return 0.25
    return None


def certified_lipschitz_bound(
    layers: Iterable[nn.Module], input_side: int | None = None, first_columns: slice | None = None
) -> tuple[float, list[tuple[str, float]]]:
    """Upper bound on the l2 Lipschitz constant of a chain of layers, and each factor.

    Linear and (transposed) convolutional layers contribute their spectral norms, with a
    following eval-mode batch norm folded in (its per-feature scale gamma / sqrt(var + eps)
    multiplies the layer's outputs); 1-Lipschitz activations contribute 1 (sigmoid 1/4).
    ``first_columns`` restricts the first linear layer to the inputs that vary (the latent
    part of [z, one-hot label]). ``input_side`` is the spatial side of the first
    convolution's input (needed for the circular grid).
    """
    modules = [m for m in layers]
    factors: list[tuple[str, float]] = []
    side = input_side
    i = 0
    first_linear = True
    while i < len(modules):
        m = modules[i]
        nxt = modules[i + 1] if i + 1 < len(modules) else None
        scale = None
        if isinstance(nxt, (nn.BatchNorm1d, nn.BatchNorm2d)):
            scale = (nxt.weight / torch.sqrt(nxt.running_var + nxt.eps)).detach().double()
        if isinstance(m, nn.Linear):
            w = m.weight.detach().double()
            if first_linear and first_columns is not None:
                w = w[:, first_columns]
            if scale is not None:
                w = scale[:, None] * w
            factors.append((f"Linear({m.in_features}->{m.out_features})" + (" + BN" if scale is not None else ""),
                            linear_spectral_norm(w)))
            first_linear = False
        elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            transposed = isinstance(m, nn.ConvTranspose2d)
            if side is None:
                raise InputError("input_side is required for chains with convolutions")
            kernel = m.weight.detach().double()
            if scale is not None:
                kernel = kernel * (scale[None, :, None, None] if transposed else scale[:, None, None, None])
            stride = m.stride[0]
            out_side = (side - 1) * stride - 2 * m.padding[0] + m.kernel_size[0] if transposed else \
                (side + 2 * m.padding[0] - m.kernel_size[0]) // stride + 1
            grid = max(side, out_side) * stride + m.kernel_size[0]
            name = f"{type(m).__name__}({m.in_channels}->{m.out_channels}, k{m.kernel_size[0]} s{stride})"
            factors.append((name + (" + BN" if scale is not None else ""),
                            conv_spectral_norm_bound(kernel, transposed, grid)))
            side = out_side
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            prev = modules[i - 1] if i > 0 else None
            if not isinstance(prev, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                s = (m.weight / torch.sqrt(m.running_var + m.eps)).abs().max()
                factors.append((type(m).__name__, float(s)))
        else:
            c = _activation_constant(m)
            if c is None:
                raise InputError(f"layers: no Lipschitz rule for {type(m).__name__}")
            if c != 1.0:
                factors.append((type(m).__name__, c))
        i += 1
    return float(np.prod([f for _, f in factors])), factors


__all__ = ["certified_lipschitz_bound", "conv_spectral_norm_bound", "linear_spectral_norm"]
