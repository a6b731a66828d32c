"""Decoding the user's images (any format, size and mode); the `image_folder` dataset is in image_folder.py.

Training and predict share `load_image` + `to_pixels`, so a new photo is resized
and converted to grayscale/RGB exactly as the training images were.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
# How to_pixels resizes; a change here changes decoded pixels, so the image_folder cache keys on it
RESIZE = "bilinear, width pass then height pass, 8-bit between"
RESIZE_FRACTION_BITS = 22  # Pillow's fixed-point weights for 8-bit resampling (PRECISION_BITS in Resample.c)


def load_image(source: Any):
    """A path, bytes or PIL image -> a decoded PIL image (EXIF rotation applied).

    Raises DataError for a missing, unreadable or non-image file, and for a
    decompression bomb (more than PIL.Image.MAX_IMAGE_PIXELS pixels).
    """
    import io

    from PIL import Image, ImageOps, UnidentifiedImageError

    if isinstance(source, Image.Image):
        return source
    name = "<bytes>" if isinstance(source, (bytes, bytearray)) else str(source)
    try:
        with warnings.catch_warnings():
            # PIL only warns between 1x and 2x MAX_IMAGE_PIXELS; refuse those too
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            f = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")
            with f:
                img = Image.open(f)
                img.load()  # decode now, while the file is open, so truncation shows up here
            return ImageOps.exif_transpose(img)
    except FileNotFoundError:
        raise DataError(f"{name}: no such file; check the path") from None
    except IsADirectoryError:
        raise DataError(f"{name} is a folder, not an image; give image files") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(
            f"{name} is refused: more than {Image.MAX_IMAGE_PIXELS:,} pixels (a possible decompression bomb); "
            "shrink the image first"
        ) from None
    except UnidentifiedImageError:
        raise DataError(f"{name} is not an image PIL can read; give a PNG, JPEG, BMP, GIF or WebP file") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise DataError(f"{name} could not be decoded ({e}); the file is truncated or corrupt") from None


def to_pixels(img, size: tuple[int, int], mode: str) -> np.ndarray:
    """PIL image -> uint8 (C, H, W) in `mode` ("L" or "RGB"), resized to size=(H, W).

    Transparency is composited onto white (how a viewer shows it); 16-bit and
    float images are rescaled to 0..255 rather than clipped.
    """
    from PIL import Image

    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        a = np.asarray(img, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)
        img = Image.fromarray(a.astype(np.uint8), "L")
    if img.mode in ("P", "PA", "LA", "RGBA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    img = img.convert(mode)
    h, w = size
    # One axis at a time, width first, each pass Pillow's bilinear filter rounded to 8 bits: the export
    # document's `resize`, which a client reproduces exactly. Pillow's own two-axis resize does not always take
    # the width pass first (Pillow 13 sometimes resizes the height first), so a client could not follow it.
    if img.width != w:
        img = img.resize((w, img.height), Image.Resampling.BILINEAR)
    if img.height != h:
        img = img.resize((w, h), Image.Resampling.BILINEAR)
    a = np.asarray(img, dtype=np.uint8)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def read_upload(name: str, data: bytes, max_pixels: int):
    """An uploaded file -> a decoded PIL image, judged by content (not name); bombs refused from the header."""
    from ..errors import InputError

    upload_pixels(name, data, max_pixels)
    try:
        return load_image(data)
    except DataError as e:
        raise InputError(str(e).replace("<bytes>", name)) from None


def upload_pixels(name: str, data: bytes, max_pixels: int) -> int:
    """An uploaded image's pixel count, from its header alone (nothing decoded); InputError 413 over max_pixels,
    415 for content that is not an image."""
    import io

    from PIL import Image, UnidentifiedImageError

    from ..errors import InputError

    if not data:
        raise InputError(f"{name}: the file is empty; upload a PNG, JPEG, BMP, GIF or WebP image")
    try:
        with Image.open(io.BytesIO(data)) as probe:  # reads the header only
            w, h = probe.size
    except Image.DecompressionBombError:
        raise InputError(f"{name} has more pixels than PIL will open (a possible decompression bomb); "
                         "shrink the image first", 413) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise InputError(f"{name} is not an image that can be decoded; upload a PNG, JPEG, BMP, GIF or WebP "
                         "file", 415) from None
    if w * h > max_pixels:
        raise InputError(f"{name} is {w}x{h} = {w * h:,} pixels, more than the server's limit of "
                         f"{max_pixels:,} (a possible decompression bomb; corenets serve --max-pixels); "
                         "shrink the image first", 413)
    return w * h


def is_grayscale(img) -> bool:
    return img.mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


# ----------------------------------------------------------------- image_folder
