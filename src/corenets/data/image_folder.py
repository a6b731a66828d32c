"""The `image_folder` dataset: your own images, one subfolder per class, decoded as images.py decodes them.

Its own module (not images.py) so the dependency runs one way: image_folder -> vision -> images.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import DataError
from . import DATASETS
from .bundle import DataBundle, SplitSpec
from .images import IMAGE_EXTENSIONS, RESIZE, is_grayscale, load_image, to_pixels
from .vision import image_bundle


def _list_classes(root: Path) -> dict[str, list[Path]]:
    classes = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        classes[d.name] = sorted(p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    return classes


def _decode_all(files: list[Path], size: tuple[int, int], mode: str, strict: bool) -> tuple[np.ndarray, np.ndarray]:
    """Decode every file; returns (N, C, H, W) uint8 and the mask of files that decoded."""
    c = 1 if mode == "L" else 3
    out = np.zeros((len(files), c, *size), dtype=np.uint8)
    ok = np.ones(len(files), dtype=bool)
    bad = []
    for i, f in enumerate(files):
        try:
            out[i] = to_pixels(load_image(f), size, mode)
        except DataError as e:
            if strict:
                raise DataError(f"{e} (data.strict is on: fix or remove the file, or drop strict)") from None
            ok[i] = False
            bad.append(str(f))
    if bad:
        warnings.warn(f"skipped {len(bad)} file(s) that are not decodable images: {', '.join(bad[:10])}"
                      + (" ..." if len(bad) > 10 else ""), stacklevel=3)
    return out[ok], ok


def _cache_key(files: list[Path], size: tuple[int, int], mode: str) -> str:
    h = hashlib.sha256(f"{size}{mode}{RESIZE}".encode())  # pixels decoded by another resize are not reused
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def _load_cached(files: list[Path], size, mode, strict, cache: bool) -> tuple[np.ndarray, np.ndarray]:
    """Decoded pixels, from the uint8 cache when the same files (path, size, mtime) were decoded before."""
    from .download import cache_dir

    path = cache_dir() / "image_folder" / f"{_cache_key(files, size, mode)}.npz"
    if cache and path.exists():
        try:
            with np.load(path) as z:
                return z["x"], z["ok"]
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file is just decoded again
    x, ok = _decode_all(files, size, mode, strict)
    if cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".npz", dir=path.parent)
            with os.fdopen(fd, "wb") as f:
                np.savez(f, x=x, ok=ok)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs decoding time
    return x, ok


def _collect(root: Path, what: str) -> dict[str, list[Path]]:
    classes = _list_classes(root)
    if not classes:
        raise DataError(
            f"{root} has no class subfolders; lay the images out as {root}/<class name>/*.png "
            f"(or train/ and test/ folders that each hold class subfolders)"
        )
    empty = [c for c, fs in classes.items() if not fs]
    if empty:
        warnings.warn(f"{what}: class folder(s) with no images were left out: {', '.join(empty)}", stacklevel=3)
    return {c: fs for c, fs in classes.items() if fs}


@DATASETS.register()
def image_folder(
    spec: SplitSpec,
    path: str = "",
    image_size: int = 32,
    mode: Literal["auto", "L", "RGB"] = "auto",
    strict: bool = False,
    cache: bool = True,
) -> DataBundle:
    """Your own images: path/<class>/*.png (split, stratified) or path/{train,test}/<class>/*.

    Args:
        path: the root folder.
        image_size: every image is resized to image_size x image_size.
        mode: "L" (grayscale), "RGB", or "auto" (L when every image is grayscale).
        strict: a file that is not a decodable image is an error instead of a skipped file with a warning.
        cache: keep the decoded uint8 pixels in $CORENETS_HOME/image_folder for the next run.
    """
    if not path:
        raise DataError("image_folder needs data.path, the folder that holds one subfolder per class")
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"data.path={path} is not a folder; give the folder that holds one subfolder per class")
    if image_size < 1:
        raise DataError(f"data.image_size={image_size} must be a positive number of pixels")
    has_split = (root / "train").is_dir() and (root / "test").is_dir()
    parts = {"train": _collect(root / "train", "train"), "test": _collect(root / "test", "test")} if has_split \
        else {"all": _collect(root, str(root))}
    classes = sorted(next(iter(parts.values())))
    if has_split and set(parts["test"]) - set(classes):
        raise DataError(f"{root}/test has classes not in {root}/train: {', '.join(sorted(set(parts['test']) - set(classes)))}")
    if len(classes) < 2:
        raise DataError(f"{root} holds one class only ({classes[0]}); a classifier needs at least two class subfolders")
    if mode == "auto":
        mode = _guess_mode([f for p in parts.values() for fs in p.values() for f in fs], strict)
    size = (image_size, image_size)
    arrays = {}
    for name, by_class in parts.items():
        files = [f for c in classes for f in by_class.get(c, [])]
        labels = np.array([i for i, c in enumerate(classes) for _ in by_class.get(c, [])], dtype=np.int64)
        x, ok = _load_cached(files, size, mode, strict, cache)
        arrays[name] = (x, labels[ok])
    x, y = arrays["train" if has_split else "all"]
    counts = np.bincount(y, minlength=len(classes))
    if (counts == 0).any():
        raise DataError(f"class(es) {', '.join(c for c, n in zip(classes, counts) if n == 0)} have no readable images; add some or remove the folder")
    bundle = image_bundle(x, y, classes, spec, scale=1 / 255, name="image_folder", test=arrays.get("test"))
    bundle.preprocessing.state["mode"] = mode
    bundle.meta.update({"path": str(root), "image_size": image_size, "mode": mode})
    return bundle


def _guess_mode(files: list[Path], strict: bool) -> str:
    """"L" when every readable image is grayscale, else "RGB" (reads headers only)."""
    from PIL import Image

    for f in files:
        try:
            with Image.open(f) as img:
                if not is_grayscale(img):
                    return "RGB"
        except Exception:  # noqa: BLE001 - unreadable files are reported when decoded
            continue
    return "L"
