"""Tiny datasets written in the exact official formats (IDX gzip, CIFAR-10 python pickles) for the vision tests."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> Path:
    """IDX: 0x00 0x00 0x08 (uint8) <ndim>, big-endian uint32 dims, then the bytes."""
    a = np.asarray(array, dtype=np.uint8)
    raw = bytes([0, 0, 0x08, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def class_images(n: int, side: int, channels: int, seed: int, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Learnable images: class k is a bright bar at row band k (plus noise). (N, C, side, side) uint8, (N,) labels."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.integers(0, 60, size=(n, channels, side, side)).astype(np.uint8)
    band = max(side // classes, 1)
    for i, k in enumerate(y):
        r = (k * band) % side
        x[i, :, r:r + band, 2:side - 2] = 230
    return x, y.astype(np.uint8)


def write_mnist_like(folder: Path, n_train: int = 200, n_test: int = 50) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    xtr, ytr = class_images(n_train, 28, 1, 0)
    xte, yte = class_images(n_test, 28, 1, 1)
    write_idx(folder / "train-images-idx3-ubyte.gz", xtr[:, 0])
    write_idx(folder / "train-labels-idx1-ubyte.gz", ytr)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", xte[:, 0])
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", yte)
    return folder


CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_cifar(folder: Path, per_batch: int = 40, n_test: int = 40) -> Path:
    """A cifar-10-batches-py folder: data_batch_1..5, test_batch, batches.meta (bytes keys, as the official ones)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, 7):
        x, y = class_images(per_batch if i < 6 else n_test, 32, 3, i)
        name = f"data_batch_{i}" if i < 6 else "test_batch"
        d = {b"batch_label": name.encode(), b"labels": [int(v) for v in y], b"data": x.reshape(len(x), 3072),
             b"filenames": [f"img{j}.png".encode() for j in range(len(x))]}
        with open(folder / name, "wb") as f:
            pickle.dump(d, f, protocol=2)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [n.encode() for n in CIFAR_NAMES], b"num_cases_per_batch": per_batch,
                     b"num_vis": 3072}, f, protocol=2)
    return folder
