"""Sequence views of any dataset: images read row by row, table rows read feature by feature.

``data.as_sequence: rows``      (N, C, H, W) images -> (N, H, W*C): H steps of W*C features
                                (Fashion-MNIST: 28 steps x 28 pixels), as the seed's RNN reads them.
``data.as_sequence: features``  (N, F) standardised table rows -> (N, F, 1): F steps of one value
                                (breast cancer: 30 steps x 1).

The view wraps the dataset's own Preprocessing, so a saved run redoes the same
normalisation and then the same reshape on raw inputs at predict time.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

import numpy as np

import torch

from ..errors import DataError
from .bundle import DataBundle, Inputs, Preprocessing, Split

SequenceView = Literal["none", "rows", "features"]


def _reshape(x: torch.Tensor, mode: str) -> torch.Tensor:
    if mode == "rows":
        if x.ndim != 4:
            raise DataError(f"as_sequence=rows needs images (N, C, H, W), got {tuple(x.shape)}; use 'features' for tables")
        n, c, h, w = x.shape
        return x.permute(0, 2, 3, 1).reshape(n, h, w * c)  # channels of a pixel sit side by side
    if mode == "features":
        if x.ndim != 2:
            raise DataError(f"as_sequence=features needs table rows (N, F), got {tuple(x.shape)}; use 'rows' for images")
        return x.unsqueeze(-1)
    raise DataError(f"as_sequence={mode!r} is not valid; choose none, rows or features")


class SequencePreprocessing(Preprocessing):
    """The wrapped dataset's preprocessing, then the reshape to a sequence."""

    kind = "sequence"

    @property
    def inner(self) -> Preprocessing:
        if "_inner" not in self.__dict__:
            self.__dict__["_inner"] = Preprocessing.from_dict(self.state["inner"])
        return self.__dict__["_inner"]

    def transform(self, raw: Any) -> torch.Tensor:
        return _reshape(self.inner.transform(raw), self.state["mode"])

    def prepare(self, raw: Any, units: str | None = None) -> Inputs:
        """The wrapped kind reads the raw inputs (every form it takes), then the reshape."""
        inputs = self.inner.prepare(raw, units)
        return replace(inputs, x=_reshape(inputs.x, self.state["mode"]))

    def inverse_target(self, y: torch.Tensor) -> torch.Tensor:
        return self.inner.inverse_target(y)

    def outputs(self, y: np.ndarray, inputs: Inputs) -> np.ndarray:
        return self.inner.outputs(y, inputs)

    def reader(self) -> Preprocessing:
        return self.inner.reader()  # parsing, the card and the page are the wrapped kind's

    def draw(self, ax: Any, x: np.ndarray) -> None:
        """The wrapped kind draws the input, the sequence reshape undone."""
        x = np.asarray(x)
        if self.state["mode"] == "rows":  # (H, W*C), a pixel's channels side by side -> (C, H, W)
            c, h, w = self.inner.shape
            x = x.reshape(h, w, c).transpose(2, 0, 1)
        self.inner.draw(ax, x.reshape(-1) if self.state["mode"] == "features" else x)

    def document(self, task: str) -> dict[str, Any]:
        """The wrapped kind's document, then the reshape to a sequence."""
        doc = self.inner.document(task)
        if self.state["mode"] == "rows":  # (C, H, W) -> (H, W*C): a step per image row, a pixel's channels side by side
            c, h, w = self.inner.shape
            steps = [{"op": "transpose", "perm": [1, 2, 0], "text": "(channels, height, width) -> (height, width, channels)"},
                     {"op": "reshape", "shape": [h, w * c], "text": "each image row is a step of width * channels values"}]
        else:  # (F,) -> (F, 1): a step per feature
            steps = [{"op": "reshape", "shape": [-1, 1], "text": "each feature is a step of one value"}]
        kind = {"rows": "image_rows", "features": "table_sequence"}[self.state["mode"]]
        return {**doc, "kind": kind if doc["kind"] in ("image", "table") else f"{doc['kind']}_{self.state['mode']}",
                "steps": [*doc["steps"], *steps]}

    def examples(self, x: torch.Tensor) -> list[Any]:
        if self.state["mode"] == "rows":
            c, h, w = self.inner.shape
            return self.inner.examples(x[:8].reshape(-1, h, w, c).permute(0, 3, 1, 2))
        return self.inner.examples(x[:8, :, 0])

    def __getattr__(self, name: str) -> Any:
        # e.g. ImagePreprocessing.shape or TablePreprocessing.feature_names for plots and reports
        if name.startswith("_") or name == "state":
            raise AttributeError(name)
        return getattr(self.inner, name)


def as_sequence(bundle: DataBundle, mode: str) -> DataBundle:
    """Return `bundle` with its inputs viewed as (N, T, F) sequences; mode 'none' returns it unchanged."""
    if mode == "none":
        return bundle
    if not bundle.train.x.is_floating_point():
        raise DataError("as_sequence applies to image or table data; token-id data is already a sequence")
    view = lambda s: Split(_reshape(s.x, mode), s.y)  # noqa: E731
    train, val, test = view(bundle.train), view(bundle.val), view(bundle.test)
    pre = SequencePreprocessing(mode=mode, inner=bundle.preprocessing.to_dict())
    meta = {**bundle.meta, "as_sequence": mode}
    return DataBundle(
        train=train, val=val, test=test, task=bundle.task, input_shape=tuple(train.x.shape[1:]),
        classes=bundle.classes, preprocessing=pre, meta=meta,
    )
