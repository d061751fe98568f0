"""An affine conditional generator, G(z, y) = c_y + s A z with orthonormal A: known geometry for checks.

Its manifolds are flat and G is exactly s-Lipschitz in z for every class, so distances
on the manifold have closed forms: the in-distribution attack's minimal perturbation
against a linear classifier, for instance, is a distance to a hyperplane within the
affine subspace. The default centres (0.5 everywhere, nudged per class) and a small
scale keep images of moderate latents inside [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn as nn

from intrinsic_rob.core.errors import InputError


class AffineGenerator(nn.Module):
    """G(z, y) = c_y + scale * A z reshaped to ``image_shape``; A (D, z_dim) has orthonormal columns.

    Args:
        z_dim: latent dimension d (<= D = the number of pixels).
        image_shape: (C, H, W).
        num_classes: K.
        scale: the Lipschitz constant s of every class's map.
        seed: draws A (a QR factor of a Gaussian matrix) and the centres' nudges.

    Example:
        >>> gen = AffineGenerator(z_dim=3, image_shape=(1, 4, 4), num_classes=2, scale=0.1, seed=0)
        >>> z = torch.randn(5, 3)
        >>> a, b = gen(z, torch.zeros(5, dtype=torch.long)), gen(2 * z, torch.zeros(5, dtype=torch.long))
        >>> torch.allclose((b - a).flatten(1).norm(dim=1), 0.1 * z.norm(dim=1), atol=1e-6)
        True
    """

    def __init__(self, z_dim: int, image_shape: tuple[int, int, int], num_classes: int, *, scale: float = 0.1,
                 seed: int = 0) -> None:
        super().__init__()
        pixels = int(torch.Size(image_shape).numel())
        if not 1 <= z_dim <= pixels:
            raise InputError(f"z_dim must be in [1, {pixels}] (the number of pixels), got {z_dim}")
        if num_classes < 1:
            raise InputError(f"num_classes must be >= 1, got {num_classes}")
        rng = torch.Generator().manual_seed(seed)
        basis, _ = torch.linalg.qr(torch.randn(pixels, z_dim, generator=rng, dtype=torch.float64))
        centres = 0.5 + 0.1 * (torch.rand(num_classes, pixels, generator=rng, dtype=torch.float64) - 0.5)
        self.register_buffer("basis", basis.float())
        self.register_buffer("centres", centres.float())
        self.z_dim, self.num_classes, self.scale = z_dim, num_classes, float(scale)
        self.image_shape = tuple(image_shape)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        flat = self.centres[y] + self.scale * z @ self.basis.T
        return flat.view(-1, *self.image_shape)
