from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from intrinsic_rob.data.mnist import DataError, load_mnist, load_mnist_embedded, load_mnist_idx


def write_idx(folder: Path, split: str, images: np.ndarray, labels: np.ndarray, gz: bool = False) -> None:
    names = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}[split]
    img = struct.pack(">IIII", 0x803, len(images), 28, 28) + images.astype(np.uint8).tobytes()
    lab = struct.pack(">II", 0x801, len(labels)) + labels.astype(np.uint8).tobytes()
    for name, blob in zip(names, (img, lab)):
        path = folder / (name + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(blob) if gz else blob)


@pytest.fixture()
def idx_folder(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 28, 28))
    labels = rng.integers(0, 10, 7)
    write_idx(tmp_path, "train", images, labels)
    return tmp_path, images, labels


def test_embedded_digits():
    data = load_mnist_embedded()
    assert data.x.shape == (5000, 1, 28, 28) and data.x.dtype == torch.float32
    assert float(data.x.min()) == 0.0 and float(data.x.max()) == 1.0
    assert torch.bincount(data.y).tolist() == [500] * 10 and data.y.dtype == torch.int64


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, gz):
    rng = np.random.default_rng(1)
    images, labels = rng.integers(0, 256, (5, 28, 28)), rng.integers(0, 10, 5)
    write_idx(tmp_path, "test", images, labels, gz=gz)
    data = load_mnist_idx(tmp_path, "test")
    assert torch.allclose(data.x[:, 0] * 255, torch.from_numpy(images).float())
    assert data.y.tolist() == labels.tolist()


def test_environment_variable_selects_idx_files(idx_folder, tmp_path):
    from intrinsic_rob.pipeline.run import Run

    folder, _, labels = idx_folder
    run = Run.from_environment(tmp_path, "quick", {"INTRINSIC_ROB_MNIST_DIR": str(folder)})
    assert load_mnist(run.mnist_dir).y.tolist() == labels.tolist()
    assert Run.from_environment(tmp_path, "quick", {"INTRINSIC_ROB_MNIST_DIR": "x"}, mnist_dir=folder).mnist_dir == \
        str(folder)  # an option wins over the environment


def test_bad_magic_names_the_file(idx_folder):
    folder, _, _ = idx_folder
    path = folder / "train-images-idx3-ubyte"
    raw = bytearray(path.read_bytes())
    raw[3] = 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*magic number"):
        load_mnist_idx(folder)


def test_truncated_file_names_the_file(idx_folder):
    folder, _, _ = idx_folder
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*truncated"):
        load_mnist_idx(folder)


def test_truncated_labels_and_count_mismatch(idx_folder):
    folder, _, _ = idx_folder
    path = folder / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:5])
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.*truncated header"):
        load_mnist_idx(folder)
    path.write_bytes(struct.pack(">II", 0x801, 3) + bytes([1, 2, 3]))
    with pytest.raises(DataError, match="3 labels for 7 images"):
        load_mnist_idx(folder)


def test_missing_file_and_bad_gzip(tmp_path):
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*not found"):
        load_mnist_idx(tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip")
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"")
    with pytest.raises(DataError, match="gzip"):
        load_mnist_idx(tmp_path)
    with pytest.raises(DataError, match="not a folder"):
        load_mnist_idx(tmp_path / "nowhere")
