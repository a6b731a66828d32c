"""Image datasets: digits (no download), MNIST, Fashion-MNIST, CIFAR-10; and ImagePreprocessing.

The user's own folders are in images.py; file-format readers in formats.py;
downloads and checksums in download.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DataError, InputError
from . import DATASETS
from .bundle import CliInputs, DataBundle, Inputs, Limits, Preprocessing, Split, SplitSpec, split_indices
from .download import Remote, cache_dir, fetch
from .images import RESIZE_FRACTION_BITS


class ImagePreprocessing(Preprocessing):
    """Pixels -> float (x * scale - mean) / std per channel; mean/std from the training images.

    State: shape (C, H, W); scale (dataset pixel units -> [0, 1]: 1/255, or 1/16 for
    digits); mean/std per channel; mode ("L" or "RGB").
    """

    kind = "image"
    classical_baseline = "pixels"  # evaluate/baselines.py: logistic regression on the pixels
    input_name = "image"
    batch_uploads = True  # concurrent uploads share one forward pass (serve/batcher.py)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.state["shape"])  # (C, H, W)

    @property
    def mode(self) -> str:
        return self.state.get("mode") or ("L" if self.shape[0] == 1 else "RGB")

    def prepare(self, raw: Any, units: str | None = None) -> Inputs:
        """Images in any form -> normalised (N, C, H, W) model inputs.

        Args:
            raw: a file path, bytes, a PIL image, an array or tensor (one image (H, W) / (H, W, C) / (C, H, W),
                a batch (N, C, H, W) / (N, H, W, C) / (N, H, W), or flat rows (N, C*H*W)), or a list of any of
                these. Images of another size or mode are resized and converted as the training images were.
                One image, a list and a batch of the same images give the same inputs.
            units: what a numeric array's values mean. uint8 arrays are 0-255 pixels and need none; any other
                array or tensor is refused without it: "pixels" (0-255), "unit" ([0, 1]), "dataset" (the
                training data's own scale: 0-16 for digits, else 0-255) or "model" (already normalised).
        """
        from .image_inputs import image_batch

        x, in_model_units = image_batch(raw, self.shape, self.mode, self.state["scale"], units)
        if in_model_units:
            return Inputs(x)
        c = self.shape[0]
        mean = torch.tensor(self.state["mean"]).view(1, c, 1, 1)
        std = torch.tensor(self.state["std"]).view(1, c, 1, 1)
        return Inputs((x * self.state["scale"] - mean) / std)

    def transform(self, raw: Any) -> torch.Tensor:
        """Images whose arrays are in the dataset's own pixel units (as training reads them; uint8 arrays are
        0-255 pixels, which is the same for every dataset but digits) -> (N, C, H, W)."""
        return self.prepare(raw, units="known:dataset").x

    def pixels(self, raw: Any) -> np.ndarray:
        """Image files, bytes or PIL images of any size/mode -> uint8 (N, C, H, W), converted like the training images."""
        from .images import load_image, to_pixels

        items = raw if isinstance(raw, (list, tuple)) else [raw]
        if not items:
            raise DataError("no images to predict on; give at least one image")
        return np.stack([to_pixels(load_image(item), self.shape[1:], self.mode) for item in items])

    # ---------------------------------------------------------------- entry points

    def cli_inputs(self, args: list[str]) -> CliInputs:
        """Image files, each decoded on its own: an unreadable one is that file's error, the others are predicted."""
        good, errors = [], {}
        for i, f in enumerate(args):
            try:
                good.append(self.pixels([f]))  # (1, C, H, W) uint8
            except DataError as e:
                errors[i] = str(e)
        raw = np.concatenate(good) if good else np.zeros((0, *self.shape), np.uint8)
        return CliInputs(raw, [f for i, f in enumerate(args) if i not in errors], "file", errors, per_file=True)

    def http_json(self, body: Any, limits: Limits) -> Any:
        raise InputError(f"images are sent as files, not JSON; {self.hint()}", 415)

    def http_body(self, limits: Limits) -> Any:
        return None  # images come as files only

    def http_files(self, files: list[tuple[str, bytes]], limits: Limits) -> np.ndarray:
        """Uploaded files, decoded as images (by content, not by name) -> uint8 (N, C, H, W) pixels of the model's size.

        Every header is read first: an image over limits.max_pixels, or images over limits.max_request_pixels
        together, are refused (413) before any is decoded. Then each is decoded (inside the server's pixel budget,
        limits.decoding) and shrunk to the model's size at once, so a request holds one full-size image at a time.
        """
        from contextlib import nullcontext

        from .images import read_upload, to_pixels, upload_pixels

        total = sum(upload_pixels(name, data, limits.max_pixels) for name, data in files)
        if total > limits.max_request_pixels:
            raise InputError(f"the {len(files)} images hold {total:,} pixels together, over this server's limit of "
                             f"{limits.max_request_pixels:,} per request (corenets serve --max-request-pixels); "
                             "send fewer or smaller images", 413)
        with (limits.decoding or (lambda n: nullcontext()))(total):
            return np.stack([to_pixels(read_upload(name, data, limits.max_pixels), self.shape[1:], self.mode)
                             for name, data in files])

    def card(self, limits: Limits) -> dict[str, Any]:
        c, h, w = self.shape
        return {"image": {"channels": c, "height": h, "width": w, "mode": self.mode, "max_pixels": limits.max_pixels}}

    def hint(self) -> str:
        return "POST image files as multipart/form-data field 'file' (repeat it for a batch)"

    def document(self, task: str) -> dict[str, Any]:
        c, h, w = self.shape
        return {"kind": "image", "postprocess": self.postprocess(task),
                "raw_input": {"type": "image", "channels": c, "height": h, "width": w,
                              "text": "an image file (PNG, JPEG, ...), or its decoded 8-bit pixels as "
                                      "[height][width][channels] integers 0-255"},
                "steps": [
                    {"op": "decode_image", "mode": self.mode, "background": [255, 255, 255],
                     "text": "decode to 8-bit pixels 0-255; composite any transparency onto white; convert to the "
                             "mode: L is one channel, L = (19595 R + 38470 G + 7471 B + 32768) >> 16 (ITU-R 601-2 "
                             "luma, as Pillow), RGB three channels R, G, B"},
                    {"op": "resize", "width": w, "height": h, "filter": "bilinear", "passes": ["width", "height"],
                     "fraction_bits": RESIZE_FRACTION_BITS,
                     "text": f"to {w}x{h} (width x height), one axis at a time: each row to width {w} where the "
                             f"width differs, then each column to height {h} where the height differs, each pass "
                             "Pillow's bilinear filter on one axis (a triangle whose support widens by the scale "
                             "when shrinking), fixed-point weights, rounded and clipped to 8 bits; the schema gives "
                             "the pass to the last bit"},
                    {"op": "normalize", "divisor": 255.0, "mean": [float(m) for m in self.state["mean"]],
                     "std": [float(s) for s in self.state["std"]], "axis": -1,
                     "text": "p is an 8-bit pixel 0-255 in channel c (the last axis): x = (p / divisor - mean[c]) / "
                             "std[c], float32"},
                    {"op": "transpose", "perm": [2, 0, 1],
                     "text": "(height, width, channels) -> (channels, height, width)"}]}

    def examples(self, x: torch.Tensor) -> list[Any]:
        """Model inputs (N, C, H, W) back to 8-bit pixels [H][W][C]; the last three at other sizes (larger in both
        axes, smaller in both, and larger down but narrower), so that a client's self-test checks its resize."""
        c, h, w = self.shape
        mean = np.asarray(self.state["mean"]).reshape(1, c, 1, 1)
        std = np.asarray(self.state["std"]).reshape(1, c, 1, 1)
        pixels = np.clip(np.rint((x[:8].double().numpy() * std + mean) * 255), 0, 255).astype(np.uint8)
        pixels = pixels.transpose(0, 2, 3, 1)  # (N, H, W, C)
        raws = [p.tolist() for p in pixels]
        sizes = [(h + h // 2 + 3, w + w // 3 + 2), (max(1, h * 2 // 3), max(1, w * 3 // 5)),
                 (2 * h + 1, max(1, w // 2))]  # (height, width)
        for i, (hh, ww) in zip(range(max(0, len(raws) - 3), len(raws)), sizes):
            rows, cols = np.arange(hh) * h // hh, np.arange(ww) * w // ww  # nearest neighbour: the same picture
            raws[i] = pixels[i][rows][:, cols].tolist()
        return raws

    def draw(self, ax: Any, x: np.ndarray) -> None:
        """One normalised (C, H, W) input as the picture it was, before normalisation."""
        from ..evaluate.vision_plots import displayable

        img = displayable(np.asarray(x, dtype=np.float32).reshape(1, *self.shape), self.state)[0]
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")

    def test_plots(self, x: np.ndarray, y: np.ndarray, proba: np.ndarray, classes: list[str], plot_dir: Any) -> None:
        from ..evaluate.vision_plots import vision_plots

        vision_plots(x, y, proba, classes, self.state, plot_dir)


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
