"""Image datasets: digits (no download), MNIST, Fashion-MNIST, CIFAR-10; and ImagePreprocessing.

The user's own folders are in images.py; file-format readers in formats.py;
downloads and checksums in download.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DataError
from . import DATASETS
from .bundle import DataBundle, Preprocessing, Split, SplitSpec, split_indices
from .download import Remote, cache_dir, fetch


class ImagePreprocessing(Preprocessing):
    """Pixels -> float (x * scale - mean) / std per channel; mean/std from the training images.

    State: shape (C, H, W); scale (dataset pixel units -> [0, 1]: 1/255, or 1/16 for
    digits); mean/std per channel; mode ("L" or "RGB").
    """

    kind = "image"

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.state["shape"])  # (C, H, W)

    @property
    def mode(self) -> str:
        return self.state.get("mode") or ("L" if self.shape[0] == 1 else "RGB")

    def transform(self, raw: Any) -> torch.Tensor:
        """Raw images -> normalised (N, C, H, W) float tensor.

        Accepts a batch in the dataset's pixel units shaped (N, C, H, W), (N, H, W)
        for one channel, or flat (N, C*H*W); or images of any size and mode: file
        paths, PIL images, or arrays (H, W) / (H, W, C) of 8-bit pixels, alone or in
        a list. Those are converted as training data was: resized to (H, W) and
        turned into grayscale or RGB.
        """
        c, h, w = self.shape
        x = self._batch(raw)
        if x is None:
            x = torch.from_numpy(self.pixels(raw)).float() / (255.0 * self.state["scale"])
        mean = torch.tensor(self.state["mean"]).view(1, c, 1, 1)
        std = torch.tensor(self.state["std"]).view(1, c, 1, 1)
        return (x * self.state["scale"] - mean) / std

    def _batch(self, raw: Any) -> torch.Tensor | None:
        """`raw` as an (N, C, H, W) float batch if it already has the model's shape, else None."""
        if not isinstance(raw, (np.ndarray, torch.Tensor)):
            return None
        c, h, w = self.shape
        x = torch.as_tensor(np.asarray(raw, dtype=np.float32)) if not isinstance(raw, torch.Tensor) else raw.float()
        if x.ndim == 2 and x.shape[1] == c * h * w:  # flat rows win over "one (H, W) image"
            return x.reshape(-1, c, h, w)
        if x.ndim == 3 and c == 1 and tuple(x.shape[1:]) == (h, w):
            return x.unsqueeze(1)
        if x.ndim == 4 and tuple(x.shape[1:]) == (c, h, w):
            return x
        return None

    def pixels(self, raw: Any) -> np.ndarray:
        """Images of any size/mode -> uint8 (N, C, H, W), converted like the training images."""
        from PIL import Image

        from .images import load_image, to_pixels

        c, h, w = self.shape
        items = raw if isinstance(raw, (list, tuple)) else [raw]
        if isinstance(raw, np.ndarray) and raw.ndim == 4:
            items = list(raw)  # (N, H, W, C) images of another size
        out = []
        for item in items:
            if isinstance(item, (np.ndarray, torch.Tensor)):
                a = np.asarray(item)
                if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
                    a = a.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
                if a.ndim == 3 and a.shape[-1] == 1:
                    a = a[..., 0]
                if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
                    raise DataError(f"an image array must be (H, W) or (H, W, 3|4) pixels, got shape {a.shape}; "
                                    f"or pass a batch shaped (N, {c}, {h}, {w})")
                if a.dtype != np.uint8:
                    a = np.clip(a * 255 if a.max() <= 1.0 else a, 0, 255).astype(np.uint8)  # floats in [0, 1] or 0..255
                item = Image.fromarray(a)
            out.append(to_pixels(load_image(item), (h, w), self.mode))
        if not out:
            raise DataError("no images to predict on; give at least one image")
        return np.stack(out)


def image_bundle(
    x: np.ndarray, y: np.ndarray, classes: list[str], spec: SplitSpec, scale: float, name: str,
    test: tuple[np.ndarray, np.ndarray] | None = None, mirror_ok: bool = True,
) -> DataBundle:
    """(N, C, H, W) raw pixels -> a bundle; normalisation fitted on the training part only.

    With `test` given (an official test split) only validation is carved from `x`, and cross-validation does
    not apply (meta["cv_ok"]). `mirror_ok=False` where a mirrored image changes its label (digits): flip
    augmentation and flip TTA are refused before a run starts (corenets.preflight).
    """
    if test is None:
        tr, va, te = split_indices(y, spec)
        xte, yte = x[te], y[te]
    else:
        from .bundle import _split

        tr, va = _split(np.arange(len(y)), y, spec.val_fraction, spec.seed + 1, "validation")
        xte, yte = test
    c = x.shape[1]
    # per-channel statistics in float64 one channel at a time: exact, and no (N, C, H, W) float copy
    xtr = x[tr]
    mean = np.array([xtr[:, i].mean(dtype=np.float64) for i in range(c)]) * scale
    std = np.array([xtr[:, i].std(dtype=np.float64) for i in range(c)]) * scale + 1e-8
    pre = ImagePreprocessing(shape=list(x.shape[1:]), scale=scale, mean=mean.tolist(), std=std.tolist(),
                             mode="L" if c == 1 else "RGB")
    as_t = lambda a, b: Split(pre.transform(a), torch.from_numpy(np.asarray(b, dtype=np.int64)))  # noqa: E731
    return DataBundle(
        train=as_t(xtr, y[tr]), val=as_t(x[va], y[va]), test=as_t(xte, yte),
        task="multiclass", input_shape=tuple(x.shape[1:]), classes=classes, preprocessing=pre,
        meta={"dataset": name, "mirror_ok": mirror_ok, "cv_ok": test is None},
    )


@DATASETS.register()
def digits(spec: SplitSpec) -> DataBundle:
    """Handwritten digits (scikit-learn, 1,797 real 8x8 images, 10 classes); no download."""
    from sklearn.datasets import load_digits

    raw = load_digits()
    x = raw.images[:, None].astype(np.float32)  # (N, 1, 8, 8), pixel values 0..16
    return image_bundle(x, raw.target, [str(i) for i in range(10)], spec, scale=1 / 16, name="digits",
                        mirror_ok=False)  # a mirrored 2, 3 or 7 is not a digit


# ------------------------------------------------------------- MNIST-style IDX

MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
MNIST = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
# where Debian's dataset-fashion-mnist installs the files (recompressed, so their md5 differs from upstream)
FASHION_SYSTEM_DIRS = ["/usr/share/datasets/fashion-mnist"]


def _idx_files(name: str, path: str, url: str, md5s: dict[str, str], system_dirs: list[str]) -> dict[str, Path]:
    """Find the four IDX files: data.path, then a system folder, then the checked cache download.

    Files found outside the cache are checked by structure (header, sizes) in read_idx,
    not by md5, because re-packaged copies (e.g. Debian's) are recompressed.
    """
    def local(folder: Path) -> dict[str, Path] | None:
        found = {}
        for fname in md5s:
            for cand in (folder / fname, folder / fname[:-3]):  # gzip, or already extracted
                if cand.is_file():
                    found[fname] = cand
                    break
        return found if len(found) == len(md5s) else None

    if path:
        got = local(Path(path).expanduser())
        if got is None:
            raise DataError(f"data.path={path} lacks the IDX files {', '.join(md5s)} (gzip or extracted); "
                            f"put them there, or leave data.path empty to use the cache")
        return got
    for d in system_dirs:
        got = local(Path(d))
        if got is not None:
            return got
    return {fname: fetch(Remote(fname, url + fname, md5=md5), name) for fname, md5 in md5s.items()}


def _idx_bundle(name: str, files: dict[str, Path], classes: list[str], spec: SplitSpec, path_given: bool,
                mirror_ok: bool = True) -> DataBundle:
    from .formats import read_idx

    def pair(images: str, labels: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = read_idx(files[images]), read_idx(files[labels]).astype(np.int64)
        if x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) != len(y) or (n and len(x) != n):
            raise DataError(f"{files[images]} holds images {x.shape} and {files[labels]} {len(y)} labels; "
                            f"expected ({n or 'N'}, 28, 28) and as many labels; replace them with the official files")
        if y.min() < 0 or y.max() >= len(classes):
            raise DataError(f"{files[labels]} has labels outside 0..{len(classes) - 1}; replace it with the official file")
        return x[:, None], y  # (N, 1, 28, 28)

    # the official sizes are 60,000 and 10,000; files given by data.path may be any size (n=0)
    official = not path_given
    xtr, ytr = pair("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000 if official else 0)
    xte, yte = pair("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000 if official else 0)
    return image_bundle(xtr, ytr, classes, spec, scale=1 / 255, name=name, test=(xte, yte), mirror_ok=mirror_ok)


@DATASETS.register()
def mnist(spec: SplitSpec, path: str = "") -> DataBundle:
    """MNIST handwritten digits (28x28 gray, 60,000 train / 10,000 test); downloaded and checked, or from data.path."""
    files = _idx_files("mnist", path, MNIST_URL, MNIST, [])
    return _idx_bundle("mnist", files, [str(i) for i in range(10)], spec, bool(path), mirror_ok=False)  # digits


@DATASETS.register()
def fashion_mnist(spec: SplitSpec, path: str = "") -> DataBundle:
    """Fashion-MNIST (28x28 gray clothing, 10 classes, 60,000 / 10,000); Debian's copy, data.path, or a checked download."""
    files = _idx_files("fashion_mnist", path, FASHION_URL, FASHION, FASHION_SYSTEM_DIRS)
    return _idx_bundle("fashion_mnist", files, FASHION_CLASSES, spec, bool(path))


# -------------------------------------------------------------------- CIFAR-10

CIFAR10 = Remote("cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                 md5="c58f30108f718f92721af3b95e74349a")
CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def _cifar_folder(path: str) -> Path:
    """A cifar-10-batches-py folder: data.path (the folder, its parent, or the tarball), or the cache."""
    import tarfile

    if path:
        p = Path(path).expanduser()
        for cand in (p, p / "cifar-10-batches-py"):
            if cand.is_dir() and (cand / "data_batch_1").is_file():
                return cand
        if not (p.is_file() and p.name.endswith((".tar.gz", ".tgz"))):
            raise DataError(f"data.path={path} is not a cifar-10-batches-py folder (data_batch_1..5, test_batch, "
                            f"batches.meta) nor the official cifar-10-python.tar.gz")
        tarball, out = p, cache_dir() / "cifar10"
    else:
        out = cache_dir() / "cifar10"
        if (out / "cifar-10-batches-py" / "test_batch").is_file():
            return out / "cifar-10-batches-py"
        tarball = fetch(CIFAR10, "cifar10")
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            # only the batch files, and no path that climbs out of the cache (checked here too: old Pythons lack filter=)
            members = [m for m in tar.getmembers() if m.name.startswith("cifar-10-batches-py/") and m.isfile()
                       and ".." not in Path(m.name).parts]
            try:
                tar.extractall(out, members=members, filter="data")
            except TypeError:  # Python < 3.10.12 has no extraction filters
                tar.extractall(out, members=members)
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DataError(f"{tarball} cannot be extracted ({e}); delete it and run again, or give the official tarball") from None
    return out / "cifar-10-batches-py"


@DATASETS.register()
def cifar10(spec: SplitSpec, path: str = "") -> DataBundle:
    """CIFAR-10 (32x32 colour, 10 classes, 50,000 / 10,000); the official python tarball, checked, or data.path."""
    from .formats import read_cifar_batch, read_cifar_meta

    folder = _cifar_folder(path)
    parts = [read_cifar_batch(folder / b) for b in CIFAR_BATCHES]
    classes = read_cifar_meta(folder / "batches.meta")
    xtr = np.concatenate([p[0] for p in parts[:5]])
    ytr = np.concatenate([p[1] for p in parts[:5]])
    if ytr.max() >= len(classes) or ytr.min() < 0:
        raise DataError(f"{folder} has labels outside 0..{len(classes) - 1}; replace it with the official batches")
    return image_bundle(xtr, ytr, classes, spec, scale=1 / 255, name="cifar10", test=parts[5])
