"""Every raw form of an image a user can hand over -> one (N, C, H, W) batch in the dataset's pixel units.

Files, bytes and PIL images are decoded and converted as the training images were (load_image + to_pixels).
An 8-bit (uint8) array holds 0-255 pixels, plainly. Any other numeric array or tensor does not say what its
values mean (0-255 pixels? [0, 1]? the dataset's own scale, 0-16 for digits? already normalised?), so it is
refused unless the caller states its units. One image, a list of images and a batch of the same images give
exactly the same inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError

# units= of a numeric array: what its values mean
UNITS = {
    "pixels": "0-255 8-bit pixel values",
    "unit": "pixel values scaled to [0, 1]",
    "dataset": "the training data's own pixel scale",
    "model": "already normalised as the model reads them (the run's training tensors)",
}


def units_help(scale: float) -> str:
    top = f"{1 / scale:g}"
    return ("units='pixels' (0-255), units='unit' (0-1), "
            f"units='dataset' (this run's training scale, 0-{top}) or units='model' (already normalised)")


def image_batch(raw: Any, shape: tuple[int, int, int], mode: str, scale: float,
                units: str | None) -> tuple[torch.Tensor, bool]:
    """Raw images -> ((N, C, H, W) float32, in_model_units). Not in model units: the dataset's pixel units.

    `units` None: uint8 arrays are pixels, other arrays are refused. "known:dataset": uint8 arrays are pixels,
    other arrays are in the dataset's units (the training arrays, read by ImagePreprocessing.transform).
    """
    if units is not None and units.removeprefix("known:") not in UNITS:
        raise InputError(f"units={units!r} is not known; give {units_help(scale)}")
    if isinstance(raw, torch.Tensor):
        raw = raw.detach().cpu().numpy()
    if isinstance(raw, np.ndarray):
        batch = _model_sized_batch(raw, shape)
        if batch is not None:  # the model's size already: no resampling, values read as `units` say
            u = _units_of(raw, units, scale)
            return torch.from_numpy(_to_dataset_units(batch, u, scale)), u == "model"
        items = _split_other_size(raw)
    elif isinstance(raw, (list, tuple)):
        items = list(raw)
    else:
        items = [raw]
    if not items:
        raise InputError("no images to predict on; give at least one image")
    parts = [_one_image(item, shape, mode, scale, units) for item in items]
    in_model = {m for _, m in parts}
    if len(in_model) > 1:
        raise InputError("units='model' applies to arrays of the model's size only; these images mix sizes")
    return torch.from_numpy(np.stack([p for p, _ in parts])), in_model.pop()


def _check_numeric(a: np.ndarray) -> None:
    if a.dtype.kind not in "uif":
        raise InputError(f"an image array must hold numbers, got dtype {a.dtype}; give uint8 pixels or state units=")
    if a.size and a.dtype.kind == "f" and not np.isfinite(a).all():
        raise InputError("the image array holds NaN or infinite values; give finite pixel values")


def _units_of(a: np.ndarray, units: str | None, scale: float) -> str:
    """The units of a numeric array: uint8 means pixels; anything else must say; values must fit the units."""
    _check_numeric(a)
    if units is not None and units.startswith("known:"):
        units = "pixels" if a.dtype == np.uint8 else units.removeprefix("known:")
    if units is None:
        if a.dtype == np.uint8:
            return "pixels"
        lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
        raise InputError(f"a {a.dtype} array of images is ambiguous (values {lo:g} to {hi:g}): it could be pixels, "
                         f"[0, 1] values or normalised inputs; say which with {units_help(scale)}, "
                         "e.g. run.predict(x, units='unit'), or pass uint8 pixels")
    top = {"pixels": 255.0, "unit": 1.0, "dataset": 1 / scale}.get(units)
    if top is not None and a.size:
        lo, hi = float(a.min()), float(a.max())
        if lo < -1e-6 * top or hi > top * (1 + 1e-6):
            raise InputError(f"units={units!r} means values from 0 to {top:g}, but these run from {lo:g} to {hi:g}; "
                             f"state the units they are in: {units_help(scale)}")
    return units


def _to_dataset_units(x: np.ndarray, units: str, scale: float) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)  # may be the caller's own array: never changed in place
    divisor = {"pixels": np.float32(255.0 * scale), "unit": np.float32(scale)}.get(units, np.float32(1))
    # as a decoded file is divided (the last line of _one_image); no copy where the units already agree
    return x / divisor if divisor != 1 else x


def _model_sized_batch(a: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray | None:
    """`a` as (N, C, H, W) when it holds images of exactly the model's size (a batch, flat rows or one image)."""
    c, h, w = shape
    s = a.shape
    if a.ndim == 4 and s[1:] == (c, h, w):
        return a
    if a.ndim == 4 and s[1:] == (h, w, c):
        return a.transpose(0, 3, 1, 2)  # channels last
    if a.ndim == 3 and s == (c, h, w):
        return a[None]
    if a.ndim == 3 and s == (h, w, c):
        return a.transpose(2, 0, 1)[None]
    if a.ndim == 3 and c == 1 and s[1:] == (h, w):
        return a[:, None]  # (N, H, W) gray images
    if a.ndim == 2 and s[1] == c * h * w:
        return a.reshape(-1, c, h, w)  # flat rows win over "one (H, W) image"
    if a.ndim == 2 and c == 1 and s == (h, w):
        return a[None, None]
    if a.ndim == 1 and s[0] == c * h * w:
        return a.reshape(1, c, h, w)
    return None


def _split_other_size(a: np.ndarray) -> list[np.ndarray]:
    """An array of images of another size -> its images: one (H, W[, C]) image, or a batch of them."""
    if a.ndim == 2:
        return [a]
    if a.ndim == 3:
        if a.shape[-1] in (3, 4):
            return [a]  # one (H, W, C) colour image
        if a.shape[0] in (3, 4):
            raise InputError(f"an array shaped {a.shape} could be one (C, H, W) colour image or {a.shape[0]} gray "
                             "images; pass a list of images, or a 4-D batch (N, H, W, C)")
        return list(a)  # (N, H, W) gray images
    if a.ndim == 4 and (a.shape[-1] in (1, 3, 4) or a.shape[1] in (1, 3, 4)):
        return list(a)
    raise InputError(f"an image array must be (H, W), (H, W, C), (N, H, W) or (N, H, W, C), got shape {a.shape}")


def _one_image(item: Any, shape: tuple[int, int, int], mode: str, scale: float,
               units: str | None) -> tuple[np.ndarray, bool]:
    """One raw image -> ((C, H, W) float32 in dataset units or model units, in_model_units)."""
    from PIL import Image

    from .images import load_image, to_pixels

    c, h, w = shape
    if isinstance(item, torch.Tensor):
        item = item.detach().cpu().numpy()
    if isinstance(item, np.ndarray):
        sized = _model_sized_batch(item, shape)
        if sized is not None and len(sized) == 1:
            u = _units_of(item, units, scale)
            return _to_dataset_units(sized[0], u, scale), u == "model"
        u = _units_of(item, units, scale)
        if u == "model":
            raise InputError(f"units='model' needs images of the model's size {c}x{h}x{w}; got shape {item.shape}")
        a = item.transpose(1, 2, 0) if item.ndim == 3 and item.shape[0] in (1, 3, 4) and item.shape[-1] not in (1, 3, 4) else item
        if a.ndim == 3 and a.shape[-1] == 1:
            a = a[..., 0]
        if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
            raise InputError(f"an image array must be (H, W) or (H, W, 3|4), got shape {item.shape}")
        to255 = {"pixels": 1.0, "unit": 255.0, "dataset": 255.0 * scale}[u]
        item = Image.fromarray(np.clip(np.rint(a.astype(np.float64) * to255), 0, 255).astype(np.uint8))
    elif not isinstance(item, (str, Path, bytes, bytearray, Image.Image)):
        raise InputError(f"cannot read a {type(item).__name__} as an image; give a path, PIL image, uint8 array, "
                         "or a numeric array with units=")
    pixels = to_pixels(load_image(item), (h, w), mode)  # (C, H, W) uint8, converted as the training images were
    return pixels.astype(np.float32) / np.float32(255.0 * scale), False
