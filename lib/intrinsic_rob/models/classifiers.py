"""Classifier architectures and plain (non-robust) training.

``SevenLayerCNN`` is the MNIST network of the original Adv-Train/TRADES experiments: four
3x3 convolutions (32, 32, 64, 64) with two max-pools, then 1024 -> 200 -> 200 -> 10 with
dropout 0.5 after the first linear layer.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Protocol

import numpy as np
import torch
import torch.nn as nn

from intrinsic_rob.core.devices import device_of, eval_mode
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.core.validation import Checked, bounded
from intrinsic_rob.models.training import (
    MODEL_FILE,
    FitConfig,
    LossFn,
    SupervisedTask,
    cross_entropy_loss,
    fit,
    load_or_fit_model,
    seeded,
)


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


def trades_init(model: SevenLayerCNN) -> SevenLayerCNN:
    """``model`` initialised as the TRADES authors initialise this network (in place; returned).

    Kaiming-normal convolution weights with zero biases and a zero last layer, so every
    class starts at the same logit. Draws from the global generator (seed it, as
    :func:`~intrinsic_rob.models.training.seeded` does). With PyTorch's default initialisation,
    SGD at Table 4's rate (0.05, momentum 0.9, batch 128) stayed at chance for its first
    epochs on the quick profile's generated digits, even with no attack at all.

    Example:
        >>> model = trades_init(SevenLayerCNN())
        >>> bool(model(torch.rand(3, 1, 28, 28)).eq(0).all())
        True
    """
    for module in model.features:
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight)
            nn.init.zeros_(module.bias)
    last = model.head[-1]
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return model


@dataclass(frozen=True)
class TrainConfig(Checked):
    """Standard training with SGD and momentum."""

    epochs: int = bounded(5, low=1, integer=True)
    batch_size: int = bounded(128, low=1, integer=True)
    lr: float = bounded(0.05, low=0, low_open=True)
    momentum: float = bounded(0.9, low=0, high=1, high_open=True)
    weight_decay: float = bounded(0.0, low=0)
    seed: int = bounded(0, low=0, integer=True)
    #: Save the model every this many epochs when training in a folder; None: never.
    snapshot_every: int | None = bounded(None, low=1, integer=True, optional=True)

    def fit_config(self) -> FitConfig:
        return FitConfig(epochs=self.epochs, batch_size=self.batch_size, seed=self.seed,
                         snapshot_every=self.snapshot_every)


def train_classifier(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    config: TrainConfig,
    *,
    loss: LossFn = cross_entropy_loss,
    folder: Path | None = None,
    progress: bool = True,
    device: torch.device | str | None = None,
) -> list[float]:
    """Train ``model`` in place with SGD on ``loss`` (:func:`intrinsic_rob.models.training.fit`); the mean loss per epoch.

    Shuffling and dropout are seeded per epoch from ``config.seed``; the caller's global
    random state is left as it was. With a ``folder`` the run checkpoints every epoch
    there and resumes from it.

    Example:
        >>> model = SevenLayerCNN()
        >>> losses = train_classifier(model, torch.rand(16, 1, 28, 28), torch.arange(16) % 10,
        ...                           TrainConfig(epochs=2, batch_size=8), progress=False)
        >>> len(losses), model.training
        (2, False)
    """
    history = fit(_sgd_task(model, config, loss), x, y, config.fit_config(), folder=folder, progress=progress,
                  device=device)
    return [h["loss"] for h in history]


def _sgd_task(model: nn.Module, config: TrainConfig, loss: LossFn) -> SupervisedTask:
    """``loss`` minimised by SGD with ``config``'s rate, momentum and weight decay: the one plain training step."""
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    return SupervisedTask(model, opt, loss)


class Recipe(Protocol):
    """How to build, train and name one classifier: what :func:`load_or_train_classifier` needs.

    :class:`PlainRecipe` (cross-entropy or any loss, SGD) and
    :class:`~intrinsic_rob.models.robust.RobustConfig` (Adv-Train, TRADES, LP-Certify) are recipes.
    ``kind`` prefixes the cache folder; ``cache_fields(model)`` is everything but the data
    that identifies the trained model (``model`` is the freshly initialised one, so its
    class can be named without building another).
    """

    kind: ClassVar[str]
    seed: int

    @property
    def desc(self) -> str: ...

    def make_model(self) -> nn.Module: ...

    def make_task(self, model: nn.Module, steps_per_epoch: int) -> SupervisedTask: ...

    def fit_config(self) -> FitConfig: ...

    def cache_fields(self, model: nn.Module) -> dict[str, Any]: ...

    def check_data(self, x: torch.Tensor, y: torch.Tensor) -> None: ...


@dataclass(frozen=True)
class PlainRecipe:
    """A classifier from ``make_model`` trained with SGD (``config``) on ``loss`` (default cross-entropy).

    ``loss_id`` names a loss other than cross-entropy in the cache key (its name and
    settings); it is required with one.

    Example:
        >>> PlainRecipe(SevenLayerCNN, TrainConfig(epochs=1)).cache_fields(SevenLayerCNN())["model"]
        'SevenLayerCNN'
    """

    kind: ClassVar[str] = "classifier"
    make_model: Callable[[], nn.Module]
    config: TrainConfig = field(default_factory=TrainConfig)
    loss: LossFn = cross_entropy_loss
    loss_id: str | None = None

    def __post_init__(self) -> None:
        if self.loss_id is None:
            if self.loss is not cross_entropy_loss:
                raise InputError("loss_id is required with a loss other than cross-entropy (it names the cache entry)")
            object.__setattr__(self, "loss_id", "cross_entropy")

    @property
    def seed(self) -> int:
        return self.config.seed

    @property
    def desc(self) -> str:
        return "training"

    def make_task(self, model: nn.Module, steps_per_epoch: int) -> SupervisedTask:
        return _sgd_task(model, self.config, self.loss)

    def fit_config(self) -> FitConfig:
        return self.config.fit_config()

    def cache_fields(self, model: nn.Module) -> dict[str, Any]:
        return {**asdict(self.config), "loss": self.loss_id, "model": type(model).__name__}

    def check_data(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if y.shape[:1] != x.shape[:1]:
            raise InputError(f"x and y must hold the same number of examples, got {tuple(x.shape)} and "
                             f"{tuple(y.shape)}")


@dataclass(frozen=True)
class TrainedClassifier:
    """A trained (or loaded) classifier: the model (CPU, eval mode), its per-epoch history
    (``epoch``, mean ``loss``, ...) and its cache folder (snapshots live there)."""

    model: nn.Module
    history: list[dict[str, float]]
    folder: Path


def load_or_train_classifier(
    recipe: Recipe,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    data_id: str,
    group: str = "custom",
    artifacts: Path | None = None,
    progress: bool = True,
    device: torch.device | str | None = None,
) -> TrainedClassifier:
    """The cached classifier of ``recipe`` trained on (x, y); trained when absent. Every classifier, natural
    or robust, is trained and cached here.

    The model is initialised from ``recipe.seed`` (:func:`~intrinsic_rob.models.training.seeded`)
    and trained through :func:`~intrinsic_rob.models.training.load_or_fit`: per-epoch seeding,
    a checkpoint every epoch and exact resumption, snapshots when the recipe asks, the
    finished model as safetensors. The cache folder is
    ``artifacts/<group>/<recipe.kind>-<hash>``, keyed by ``recipe.cache_fields``,
    ``data_id`` (what identifies the training data: its source, say) and the number and
    sha256 of the examples, so two training sets that share a description never share a
    model. Two processes asking for the same classifier train it once.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> x, y = torch.rand(16, 1, 28, 28), torch.arange(16) % 10
        >>> recipe = PlainRecipe(SevenLayerCNN, TrainConfig(epochs=1))
        >>> first = load_or_train_classifier(recipe, x, y, data_id="toy", artifacts=root, progress=False)
        >>> again = load_or_train_classifier(recipe, x, y, data_id="toy", artifacts=root, progress=False)  # loaded
        >>> all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()))
        True
        >>> first.folder.name.startswith("classifier-"), [h["epoch"] for h in first.history]
        (True, [1.0])
    """
    recipe.check_data(x, y)
    model = seeded(recipe.make_model, recipe.seed)
    folder = _classifier_folder(recipe, model, x, y, data_id, group, artifacts)
    config = recipe.fit_config()
    steps_per_epoch = math.ceil(int(x.shape[0]) / config.batch_size)
    model, history = load_or_fit_model(model, lambda m: recipe.make_task(m, steps_per_epoch), x, y, config, folder,
                                       progress=progress, desc=recipe.desc, device=device)
    return TrainedClassifier(model, history, folder)


def _classifier_folder(recipe: Recipe, model: nn.Module, x: torch.Tensor, y: torch.Tensor, data_id: str, group: str,
                       artifacts: Path | None) -> Path:
    from intrinsic_rob.core.artifacts import artifact_dir
    from intrinsic_rob.pipeline.results import tensors_digest

    key = {**recipe.cache_fields(model), "data": data_id, "data_size": int(x.shape[0]),
           "data_sha256": tensors_digest({"x": x, "y": y})}
    return artifact_dir(recipe.kind, key, group, artifacts)


def classifier_cached(recipe: Recipe, x: torch.Tensor, y: torch.Tensor, *, data_id: str, group: str = "custom",
                      artifacts: Path | None = None) -> bool:
    """Whether :func:`load_or_train_classifier` with these arguments finds its finished model in the cache.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> x, y = torch.rand(16, 1, 28, 28), torch.arange(16) % 10
        >>> recipe = PlainRecipe(SevenLayerCNN, TrainConfig(epochs=1))
        >>> classifier_cached(recipe, x, y, data_id="toy", artifacts=root)
        False
        >>> _ = load_or_train_classifier(recipe, x, y, data_id="toy", artifacts=root, progress=False)
        >>> classifier_cached(recipe, x, y, data_id="toy", artifacts=root)
        True
    """
    model = seeded(recipe.make_model, recipe.seed)
    return (_classifier_folder(recipe, model, x, y, data_id, group, artifacts) / MODEL_FILE).is_file()


def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Predicted labels (N,) of x (N, ...), in eval mode (the model's mode is restored) under ``torch.inference_mode``.

    Example:
        >>> model = SevenLayerCNN()
        >>> predict(model, torch.zeros(3, 1, 28, 28)).shape, model.training
        (torch.Size([3]), True)
    """
    device = device_of(model)
    with eval_mode(model), torch.inference_mode():
        return torch.cat([model(x[i : i + batch_size].to(device)).argmax(1).cpu()
                          for i in range(0, x.shape[0], batch_size)])


def per_class_accuracy(pred: torch.Tensor, y: torch.Tensor, num_classes: int) -> np.ndarray:
    """Accuracy of each class (K,); NaN for a class with no examples."""
    out = np.full(num_classes, np.nan)
    for k in range(num_classes):
        mask = y == k
        if mask.any():
            out[k] = float((pred[mask] == k).float().mean())
    return out


# --- Section 5.3's other architectures (Appendix B.1 and the original implementation) ---


def lp_certify_net(num_classes: int = 10) -> nn.Sequential:
    """Wong et al.'s small MNIST network, the LP-Certify classifier: (B, 1, 28, 28) -> (B, num_classes) logits.

    Conv(1->16, k4 s2 p1), ReLU, Conv(16->32, k4 s2 p1), ReLU, Flatten, Linear(1568->100),
    ReLU, Linear(100->num_classes). It is an ``nn.Sequential`` because convex-adversarial's
    dual network walks the layers of one (and knows ``Conv2d``, ``ReLU``, ``Linear`` and
    any layer whose class name holds "Flatten").

    Example:
        >>> net = lp_certify_net()
        >>> tuple(net(torch.zeros(2, 1, 28, 28)).shape), isinstance(net, nn.Sequential)
        ((2, 10), True)
    """
    return nn.Sequential(
        nn.Conv2d(1, 16, 4, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 4, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 100), nn.ReLU(),
        nn.Linear(100, num_classes),
    )


class ImageNet10CNN(nn.Module):
    """The ImageNet10 classifier of Adv-Train and TRADES: (B, 3, 32, 32) in [0, 1] -> (B, 10) logits.

    Conv 32 (3x3 s1), Conv 32 (4x4 s2), Conv 64 (3x3 s1), Conv 64 (4x4 s2), each with
    padding 1 and a ReLU (32x32 -> 32 -> 16 -> 16 -> 8, so 64 * 8 * 8 = 4096 features),
    then Linear(4096->512), ReLU, Linear(512->512), ReLU, Linear(512->10).

    Example:
        >>> tuple(ImageNet10CNN()(torch.zeros(2, 3, 32, 32)).shape)
        (2, 10)
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, stride=1, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=1, padding=1), nn.ReLU(),
            nn.Conv2d(64, 64, 4, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(),
        )
        self.head = nn.Sequential(
            nn.Linear(64 * 8 * 8, 512), nn.ReLU(),
            nn.Linear(512, 512), nn.ReLU(),
            nn.Linear(512, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
