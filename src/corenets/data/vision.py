"""Images: scikit-learn's digits (more datasets arrive with the vision issue)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import DataError
from . import DATASETS
from .bundle import DataBundle, Preprocessing, Split, SplitSpec, split_indices


class ImagePreprocessing(Preprocessing):
    """Pixels -> float (x * scale - mean) / std per channel; mean/std from the training images."""

    kind = "image"

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.state["shape"])  # (C, H, W)

    def transform(self, raw: Any) -> torch.Tensor:
        """Raw pixels as (N, C, H, W), (N, H, W) or flat (N, C*H*W), in the dataset's pixel scale."""
        x = torch.as_tensor(np.asarray(raw, dtype=np.float32)) if not isinstance(raw, torch.Tensor) else raw.float()
        c, h, w = self.shape
        if x.ndim == 2 and x.shape[1] == c * h * w:
            x = x.reshape(-1, c, h, w)
        elif x.ndim == 3 and c == 1 and tuple(x.shape[1:]) == (h, w):
            x = x.unsqueeze(1)
        if x.ndim != 4 or tuple(x.shape[1:]) != (c, h, w):
            raise DataError(f"expected images of shape (N, {c}, {h}, {w}) or (N, {c * h * w}), got {tuple(x.shape)}")
        mean = torch.tensor(self.state["mean"]).view(1, c, 1, 1)
        std = torch.tensor(self.state["std"]).view(1, c, 1, 1)
        return (x * self.state["scale"] - mean) / std


def image_bundle(
    x: np.ndarray, y: np.ndarray, classes: list[str], spec: SplitSpec, scale: float, name: str,
    test: tuple[np.ndarray, np.ndarray] | None = None,
) -> DataBundle:
    """(N, C, H, W) raw pixels -> a bundle; normalisation fitted on the training part only.

    With `test` given (an official test split) only validation is carved from `x`.
    """
    if test is None:
        tr, va, te = split_indices(y, spec)
        xte, yte = x[te], y[te]
    else:
        from .bundle import _split

        tr, va = _split(np.arange(len(y)), y, spec.val_fraction, spec.seed + 1, "validation")
        xte, yte = test
    xtr = x[tr].astype(np.float32) * scale
    c = x.shape[1]
    mean = xtr.transpose(1, 0, 2, 3).reshape(c, -1).mean(1)
    std = xtr.transpose(1, 0, 2, 3).reshape(c, -1).std(1) + 1e-8
    pre = ImagePreprocessing(shape=list(x.shape[1:]), scale=scale, mean=mean.tolist(), std=std.tolist())
    as_t = lambda a, b: Split(pre.transform(a), torch.from_numpy(np.asarray(b, dtype=np.int64)))  # noqa: E731
    return DataBundle(
        train=as_t(x[tr], y[tr]), val=as_t(x[va], y[va]), test=as_t(xte, yte),
        task="multiclass", input_shape=tuple(x.shape[1:]), classes=classes, preprocessing=pre,
        meta={"dataset": name},
    )


@DATASETS.register()
def digits(spec: SplitSpec) -> DataBundle:
    """Handwritten digits (scikit-learn, 1,797 real 8x8 images, 10 classes); no download."""
    from sklearn.datasets import load_digits

    raw = load_digits()
    x = raw.images[:, None].astype(np.float32)  # (N, 1, 8, 8), pixel values 0..16
    return image_bundle(x, raw.target, [str(i) for i in range(10)], spec, scale=1 / 16, name="digits")
