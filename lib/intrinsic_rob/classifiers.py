"""Classifier architectures and plain (non-robust) training.

``SevenLayerCNN`` is the MNIST network of the original Adv-Train/TRADES experiments: four
3x3 convolutions (32, 32, 64, 64) with two max-pools, then 1024 -> 200 -> 200 -> 10 with
dropout 0.5 after the first linear layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import InputError
from .progress import progress_bar


class SevenLayerCNN(nn.Module):
    """(B, 1, 28, 28) in [0, 1] -> (B, 10) logits.

    Example:
        >>> tuple(SevenLayerCNN()(torch.zeros(2, 1, 28, 28)).shape)
        (2, 10)
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(),
            nn.Conv2d(32, 32, 3), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(),
            nn.Conv2d(64, 64, 3), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.head = nn.Sequential(
            nn.Linear(64 * 4 * 4, 200), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(200, 200), nn.ReLU(),
            nn.Linear(200, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass(frozen=True)
class TrainConfig:
    """Standard training with SGD and momentum."""

    epochs: int = 5
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise InputError(f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")
        if not self.lr > 0:
            raise InputError(f"lr must be > 0, got {self.lr}")


def train_classifier(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, config: TrainConfig, *, progress: bool = True
) -> list[float]:
    """Train ``model`` in place by cross-entropy; returns the mean loss of each epoch.

    Shuffling and dropout are seeded from ``config.seed``; the caller's global random
    state is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return _train(model, x, y, config, progress)


def _train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, config: TrainConfig, progress: bool) -> list[float]:
    gen = torch.Generator().manual_seed(config.seed)
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    n = x.shape[0]
    losses = []
    model.train()
    for epoch in progress_bar(range(config.epochs), desc="training", enabled=progress, unit="epoch"):
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, config.batch_size):
            idx = order[start : start + config.batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * idx.numel()
        losses.append(total / n)
    model.eval()
    return losses


def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Predicted labels (N,) under ``torch.inference_mode``."""
    model.eval()
    with torch.inference_mode():
        return torch.cat([model(x[i : i + batch_size]).argmax(1) for i in range(0, x.shape[0], batch_size)])


def per_class_accuracy(pred: torch.Tensor, y: torch.Tensor, num_classes: int) -> np.ndarray:
    """Accuracy of each class (K,); NaN for a class with no examples."""
    out = np.full(num_classes, np.nan)
    for k in range(num_classes):
        mask = y == k
        if mask.any():
            out[k] = float((pred[mask] == k).float().mean())
    return out
