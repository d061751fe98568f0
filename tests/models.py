"""Small models with known geometry for the attack tests: a plain module (not a test module),
so test modules may import it."""

from __future__ import annotations

import torch
import torch.nn as nn


def two_class_linear(w: torch.Tensor, b: float) -> nn.Module:
    """Logits (0, w.x + b): class 1 where w.x + b > 0; the l2 distance to the boundary is |w.x + b| / ||w||."""
    lin = nn.Linear(w.numel(), 2)
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.zero_()
        lin.weight[1] = w
        lin.bias[1] = b
    return nn.Sequential(nn.Flatten(), lin)
