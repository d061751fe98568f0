"""Conditional generators behind one interface.

A conditional generator is anything with ``z_dim``, ``num_classes`` and a call
``generator(z, y) -> images``: z float (B, z_dim), y long (B,), images float (B, C, H, W)
in [0, 1], including whatever rescaling and resizing produce the dataset, so that a
Lipschitz constant measured on the call is on the same scale as epsilon.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from intrinsic_rob.core.devices import device_of
from intrinsic_rob.core.errors import InputError


@runtime_checkable
class ConditionalGenerator(Protocol):
    """The interface every generator in the project implements (ACGAN, BigGAN, yours)."""

    z_dim: int
    num_classes: int

    def __call__(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor: ...


def check_generator(generator: ConditionalGenerator, batch: int = 2) -> tuple[int, int, int]:
    """Run a tiny batch through ``generator`` and check the interface; returns (C, H, W).

    Raises :class:`InputError` naming what is wrong (missing attribute, shape, range).

    Example:
        >>> import torch.nn as nn
        >>> class Mine(nn.Module):
        ...     z_dim, num_classes = 4, 3
        ...     def forward(self, z, y):
        ...         return torch.sigmoid(z[:, :1, None, None].expand(-1, 1, 2, 2))
        >>> check_generator(Mine())
        (1, 2, 2)
    """
    for attr in ("z_dim", "num_classes"):
        value = getattr(generator, attr, None)
        if not isinstance(value, int) or value < 1:
            raise InputError(f"generator.{attr} must be a positive int, got {value!r}")
    device = device_of(generator)
    z = torch.randn(batch, generator.z_dim, device=device)
    y = torch.arange(batch, device=device) % generator.num_classes
    with torch.inference_mode():
        out = generator(z, y)
    if not isinstance(out, torch.Tensor) or out.ndim != 4 or out.shape[0] != batch:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise InputError(f"generator(z, y) must return images of shape (B, C, H, W), got {shape}")
    if not torch.isfinite(out).all():
        raise InputError("generator(z, y) returned NaN or infinite values")
    if out.min() < 0 or out.max() > 1:
        raise InputError(f"generator(z, y) must return images in [0, 1], got [{out.min():.3g}, {out.max():.3g}]")
    return tuple(out.shape[1:])  # type: ignore[return-value]
