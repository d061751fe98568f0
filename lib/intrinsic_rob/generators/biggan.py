"""BigGAN-deep 128 restricted to the paper's ten ImageNet classes ("ImageNet10").

The paper used BigGAN-128 (120-dimensional latent); `pytorch-pretrained-biggan` provides
BigGAN-deep 128 (128-dimensional latent, float one-hot class input), which this wrapper
uses. Latents are drawn from the untruncated standard Gaussian, so the batch-norm
statistics for truncation 1.0 are used. The output (tanh, [-1, 1]) is mapped to [0, 1] and
down-sampled from 128x128 to 32x32 by area averaging (anti-aliased) or, as in the original
code, nearest-neighbour sampling (every fourth pixel).

Weights come from a local folder holding ``config.json`` and ``pytorch_model.bin`` (a
run's ``biggan_dir``: --biggan-dir or $INTRINSIC_ROB_BIGGAN_DIR) or from the package's own download cache. Without
them, :func:`random_biggan` builds a randomly initialised, reduced-width BigGAN-deep whose
outputs are a pipeline check and never ImageNet results.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from intrinsic_rob.core.errors import InputError

MODEL_NAME = "biggan-deep-128"

#: The paper's ten classes (those of CIFAR-10) and their ImageNet indices.
IMAGENET10_CLASSES: tuple[tuple[str, int], ...] = (
    ("airliner", 404),
    ("jeep", 609),
    ("goldfinch", 11),
    ("tabby cat", 281),
    ("hartebeest", 351),
    ("Maltese dog", 153),
    ("bullfrog", 30),
    ("sorrel", 339),
    ("pirate ship", 724),
    ("pickup", 717),
)
IMAGENET10_NAMES = tuple(name for name, _ in IMAGENET10_CLASSES)
IMAGENET10_INDICES = tuple(index for _, index in IMAGENET10_CLASSES)


class WeightsNotFound(InputError):
    """No BigGAN weights on this machine; the message says where to put them."""


def _package_cache_files() -> tuple[Path, Path] | None:
    """(config, weights) from pytorch-pretrained-biggan's download cache, if both are there."""
    from pytorch_pretrained_biggan import file_utils, model

    cache = Path(file_utils.PYTORCH_PRETRAINED_BIGGAN_CACHE)
    found = []
    for url in (model.PRETRAINED_CONFIG_ARCHIVE_MAP[MODEL_NAME], model.PRETRAINED_MODEL_ARCHIVE_MAP[MODEL_NAME]):
        stem = hashlib.sha256(url.encode()).hexdigest()
        hits = sorted(p for p in cache.glob(stem + "*") if p.suffix != ".json") if cache.is_dir() else []
        if not hits:
            return None
        found.append(hits[0])
    return found[0], found[1]


def find_biggan_weights(path: str | Path | None = None) -> tuple[Path, Path]:
    """Locate (config.json, pytorch_model.bin): in the folder ``path`` (a run's ``biggan_dir``), else in
    the package cache."""
    if path:
        folder = Path(path)
        config, weights = folder / "config.json", folder / "pytorch_model.bin"
        missing = [p.name for p in (config, weights) if not p.exists()]
        if missing:
            raise WeightsNotFound(
                f"biggan weights: {folder} lacks {' and '.join(missing)}; it must hold the "
                f"{MODEL_NAME} config.json and pytorch_model.bin"
            )
        return config, weights
    cached = _package_cache_files()
    if cached is not None:
        return cached
    raise WeightsNotFound(
        f"biggan weights: {MODEL_NAME} not found. Put its config.json and pytorch_model.bin in a "
        "folder and pass that folder (--biggan-dir, a chapter's biggan_dir, or INTRINSIC_ROB_BIGGAN_DIR set where "
        "a command or chapter starts); the package cache (~/.pytorch_pretrained_biggan) was empty too"
    )


def load_biggan(path: str | Path | None = None) -> nn.Module:
    """The pretrained BigGAN-deep 128, loaded with ``torch.load(weights_only=True)``."""
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig

    config_path, weights_path = find_biggan_weights(path)
    config = BigGANConfig.from_dict(json.loads(config_path.read_text()))
    model = BigGAN(config)
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    missing, _ = model.load_state_dict(state, strict=False)
    if missing:
        raise WeightsNotFound(f"biggan weights: {weights_path} lacks {len(missing)} tensors, e.g. {missing[0]}")
    return model.eval()


def random_biggan(channel_width: int = 8, seed: int = 0) -> nn.Module:
    """A randomly initialised BigGAN-deep 128 of reduced width: for pipeline checks only."""
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig

    # BigGAN-deep's blocks divide the width by four; narrower models fail inside the package.
    if channel_width < 4:
        raise InputError(f"channel_width must be >= 4, got {channel_width}")
    from pytorch_pretrained_biggan.model import BigGANBatchNorm

    torch.manual_seed(seed)
    model = BigGAN(BigGANConfig(channel_width=channel_width))
    # The package allocates the unconditional batch-norm affine parameters uninitialised
    # (the pretrained weights overwrite them); give them the identity instead.
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, BigGANBatchNorm) and not module.conditional:
                module.weight.fill_(1.0)
                module.bias.zero_()
    _calibrate_batch_norm(model, seed)
    return model.eval()


def _calibrate_batch_norm(model: nn.Module, seed: int, batch: int = 16) -> None:
    """Set each BigGANBatchNorm's truncation-1.0 statistics to those of a calibration batch.

    A randomly initialised BigGAN-deep with the default statistics (mean 0, variance 1)
    lets activations grow through its residual stack until they overflow; measured
    statistics keep every layer at unit scale, as trained statistics would.
    """
    from pytorch_pretrained_biggan.model import BigGANBatchNorm

    def record(module: nn.Module, args: tuple) -> None:
        x = args[0]
        module.running_means[-1] = x.mean(dim=(0, 2, 3))
        module.running_vars[-1] = x.var(dim=(0, 2, 3), unbiased=False)

    handles = [m.register_forward_pre_hook(record) for m in model.modules() if isinstance(m, BigGANBatchNorm)]
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(batch, model.config.z_dim, generator=gen)
    classes = torch.randint(0, model.config.num_classes, (batch,), generator=gen)
    onehot = F.one_hot(classes, model.config.num_classes).float()
    try:
        with torch.no_grad():
            model(z, onehot, 1.0)
    finally:
        for handle in handles:
            handle.remove()


class ImageNet10Generator(nn.Module):
    """The project's generator interface over BigGAN-deep: (B, 128) x (B,) -> (B, 3, 32, 32) in [0, 1].

    Args:
        biggan: a ``pytorch_pretrained_biggan.BigGAN``.
        resize: "area" (anti-aliased, default) or "nearest" (the original code's choice).
        size: output side length (32 in the paper); 128 keeps BigGAN's own resolution.
        pretrained: whether ``biggan`` carries real ImageNet weights. Results from a
            generator with ``pretrained=False`` are pipeline checks, not ImageNet results.

    In use, ``ImageNet10Generator(load_biggan(), pretrained=True)``, or for a pipeline check
    ``ImageNet10Generator(random_biggan(4), pretrained=False)`` (seconds on a CPU). The
    example below wraps a stand-in whose every pixel is the ImageNet class index / 1000,
    to show the class mapping (airliner 404, pickup 717) and the map [-1, 1] -> [0, 1]:

    Example:
        >>> from types import SimpleNamespace
        >>> class Echo(nn.Module):
        ...     config = SimpleNamespace(output_dim=128, z_dim=128, num_classes=1000)
        ...     def forward(self, z, onehot, truncation):
        ...         return (onehot.argmax(1) / 1000)[:, None, None, None].expand(-1, 3, 128, 128)
        >>> g = ImageNet10Generator(Echo(), pretrained=False)
        >>> x = g(torch.zeros(2, g.z_dim), torch.tensor([0, 9]))
        >>> tuple(x.shape), [round(2 * float(v) - 1, 4) for v in x[:, 0, 0, 0]]
        ((2, 3, 32, 32), [0.404, 0.717])
    """

    truncation = 1.0

    def __init__(
        self,
        biggan: nn.Module,
        *,
        resize: Literal["area", "nearest"] = "area",
        size: int = 32,
        pretrained: bool,
    ) -> None:
        super().__init__()
        if resize not in ("area", "nearest"):
            raise InputError(f"resize must be 'area' or 'nearest', got {resize!r}")
        native = int(biggan.config.output_dim)
        if size < 1 or native % size:
            raise InputError(f"size must divide BigGAN's {native}x{native} output, got {size}")
        self.biggan = biggan
        self.resize = resize
        self.size = size
        self.pretrained = pretrained
        self.z_dim = int(biggan.config.z_dim)
        self.num_classes = len(IMAGENET10_INDICES)
        self.register_buffer("imagenet_index", torch.tensor(IMAGENET10_INDICES), persistent=False)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        onehot = F.one_hot(self.imagenet_index[y], int(self.biggan.config.num_classes)).to(z.dtype)
        images = (self.biggan(z, onehot, self.truncation) + 1.0) * 0.5
        if images.shape[-1] != self.size:
            if self.resize == "area":
                images = F.interpolate(images, size=(self.size, self.size), mode="area")
            else:
                images = F.interpolate(images, size=(self.size, self.size), mode="nearest")
        # tanh can round to exactly +-1; clamp keeps the [0, 1] contract under float error.
        return images.clamp(0.0, 1.0)


def imagenet10_generator(
    path: str | Path | None = None,
    *,
    resize: Literal["area", "nearest"] = "area",
    allow_random: bool = False,
    random_width: int = 8,
    seed: int = 0,
) -> ImageNet10Generator:
    """ImageNet10 on real BigGAN weights, or, if ``allow_random``, the labelled random stand-in."""
    try:
        return ImageNet10Generator(load_biggan(path), resize=resize, pretrained=True)
    except WeightsNotFound:
        if not allow_random:
            raise
        return ImageNet10Generator(random_biggan(random_width, seed), resize=resize, pretrained=False)
