"""Choosing where tensors live: 'auto' means CUDA when present, else the CPU."""

from __future__ import annotations

import torch

from .errors import InputError


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
