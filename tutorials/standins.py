"""Data for the tutorials: small subsets of real data in its official file format, and clearly labelled stand-ins
for data that cannot be had offline (CIFAR-10 without a copy, SST-2 without a copy, "your own CSV").

Every function returns a path that corenets reads with `data.path=...`, exactly as it reads the real files.
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np

FASHION_SYSTEM = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist package
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _read_idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    ndim = raw[3]
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _write_idx(path: Path, array: np.ndarray) -> None:
    a = np.ascontiguousarray(array, dtype=np.uint8)
    path.write_bytes(gzip.compress(bytes([0, 0, 0x08, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()))


def fashion_mnist_arrays(n_train: int, n_test: int) -> tuple[tuple[np.ndarray, ...], bool]:
    """(x_train, y_train, x_test, y_test) uint8, and whether they are the real Fashion-MNIST.

    Real: the first rows of Debian's copy (apt-get install dataset-fashion-mnist). Otherwise a STAND-IN:
    scikit-learn's handwritten digits scaled to 28x28, which has the same file format, but not the same pictures.
    """
    files = {k: FASHION_SYSTEM / f"{k}-ubyte.gz" for k in
             ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1")}
    if all(f.is_file() for f in files.values()):
        x, y, xt, yt = (_read_idx(f) for f in files.values())
        return (x[:n_train], y[:n_train], xt[:n_test], yt[:n_test]), True
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    big = np.stack([np.asarray(Image.fromarray((im * 255 / 16).astype(np.uint8)).resize((28, 28))) for im in d.images])
    n = min(n_train, len(big) - 300)
    return (big[:n], d.target[:n].astype(np.uint8), big[-300:][:n_test], d.target[-300:][:n_test].astype(np.uint8)), False


def fashion_mnist_subset(folder: str | Path, n_train: int = 4000, n_test: int = 1000) -> tuple[Path, bool]:
    """A folder with the four Fashion-MNIST IDX files holding the first rows; (folder, is the real data)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (x, y, xt, yt), real = fashion_mnist_arrays(n_train, n_test)
    for name, a in (("train-images-idx3", x), ("train-labels-idx1", y), ("t10k-images-idx3", xt), ("t10k-labels-idx1", yt)):
        _write_idx(folder / f"{name}-ubyte.gz", a)
    return folder, real


def cifar10_copy() -> Path | None:
    """A real CIFAR-10 on this machine: $CIFAR10_PATH, or corenets' cache after a first download; else None."""
    home = Path(os.environ.get("CORENETS_HOME") or Path.home() / ".cache" / "corenets").expanduser()
    for cand in (os.environ.get("CIFAR10_PATH"), home / "cifar10" / "cifar-10-batches-py"):
        if cand and (Path(cand) / "test_batch").is_file():
            return Path(cand)
    return None


def cifar10_standin(folder: str | Path, n_train: int = 4000, n_test: int = 1000) -> Path:
    """A STAND-IN for CIFAR-10 in its exact file format (data_batch_1..5, test_batch, batches.meta): Fashion-MNIST
    pictures (or digits) scaled to 32x32 and tinted with a random colour each, under CIFAR-10's class names. It
    exercises the same code and models; its scores say nothing about CIFAR-10."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (x, y, xt, yt), _ = fashion_mnist_arrays(n_train, n_test)
    rng = np.random.default_rng(0)

    def colour(images: np.ndarray) -> np.ndarray:
        big = np.stack([np.asarray(Image.fromarray(im).resize((32, 32))) for im in images]).astype(np.float32)
        tint = rng.uniform(0.3, 1.0, size=(len(images), 3, 1, 1))
        return (big[:, None] * tint).clip(0, 255).astype(np.uint8).reshape(len(images), 3072)

    batches = np.array_split(np.arange(len(x)), 5)
    for i, idx in enumerate(batches, start=1):
        _pickle(folder / f"data_batch_{i}", colour(x[idx]), y[idx])
    _pickle(folder / "test_batch", colour(xt), yt)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [c.encode() for c in CIFAR_CLASSES], b"num_cases_per_batch": len(batches[0]),
                     b"num_vis": 3072}, f, protocol=2)
    return folder


def _pickle(path: Path, data: np.ndarray, labels: np.ndarray) -> None:
    with open(path, "wb") as f:
        pickle.dump({b"batch_label": path.name.encode(), b"labels": [int(v) for v in labels], b"data": data,
                     b"filenames": [f"{i}.png".encode() for i in range(len(data))]}, f, protocol=2)


def sst2_copy() -> Path | None:
    """A real SST-2 on this machine: $SST2_PATH (a folder with train.tsv and dev.tsv, or SST-2.zip); else None."""
    cand = os.environ.get("SST2_PATH")
    if cand and ((Path(cand) / "train.tsv").is_file() or (Path(cand) / "SST-2.zip").is_file()):
        return Path(cand)
    return None


POSITIVE = ["a gorgeous, witty film", "warm and funny", "the best thing this year", "a moving, beautiful story",
            "sharp writing and great acting", "i loved every minute", "smart, tender and wonderful",
            "a delight from start to finish", "brilliant and touching", "an excellent, joyful ride"]
NEGATIVE = ["a dull, lifeless film", "boring and far too long", "the worst thing this year", "a tedious, empty story",
            "flat writing and wooden acting", "i hated every minute", "clumsy, cold and awful",
            "a chore from start to finish", "stupid and pointless", "a tiresome, joyless mess"]
FILLERS = ["", "honestly, ", "overall ", "the plot is ", "as a sequel it is ", "for a comedy, "]


def reviews_csv(path: str | Path, n: int = 600, seed: int = 0) -> Path:
    """A STAND-IN for "your own CSV": columns review, stars (pos/neg), made from short template sentences.
    Replace it with your file: data.path=reviews.csv data.text=<text column> data.label=<label column>."""
    import csv

    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        good = i % 2 == 0
        phrase = rng.choice(POSITIVE if good else NEGATIVE)
        rows.append((f"{rng.choice(FILLERS)}{phrase}", "pos" if good else "neg"))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["review", "stars"])
        w.writerows(rows)
    return path
