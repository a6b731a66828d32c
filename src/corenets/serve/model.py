"""The served model: one run folder loaded once, raw uploads -> predictions as plain JSON values.

No web framework here, so the limits and the answers can be tested (and reused) without
FastAPI. Every refusal is an InputError carrying its HTTP status; the app turns it into
a JSON error response and goes on serving.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CorenetsError

# What the page and the API offer, by the run's (innermost) preprocessing kind.
INPUT_KINDS = {"image": "image", "text": "text", "table": "table", "series": "series", "identity": "rows"}


class InputError(CorenetsError):
    """A request the server refuses; `status` is the HTTP code (413 too large, 415 wrong type, 422 bad content)."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


def base_preprocessing(pre):
    """The preprocessing that reads raw inputs: SequencePreprocessing wraps an image or table one."""
    while pre.kind == "sequence":
        pre = pre.inner
    return pre


class ServedModel:
    """A run folder ready to answer requests: loaded once, read-only, safe to call from many threads.

    Args:
        run_dir: a folder made by `corenets run`.
        max_pixels: images with more pixels than this are refused before they are decoded.
        top_k: classes returned per input, most probable first.
    """

    def __init__(self, run_dir: str | Path, max_pixels: int = 40_000_000, top_k: int = 5):
        from ..data import datasets
        from ..runs import load_run

        datasets()  # registers every Preprocessing kind (image, text, ...) before model.pt names one
        self.run = load_run(run_dir)
        self.run.model.eval()
        for p in self.run.model.parameters():
            p.requires_grad_(False)  # inference only; also makes the weights plainly read-only for the threads
        self.pre = base_preprocessing(self.run.preprocessing)
        self.kind = INPUT_KINDS.get(self.pre.kind, "rows")
        self.max_pixels = max_pixels
        self.top_k = top_k
        self.card = self._card()

    # ------------------------------------------------------------------ the model card

    def _card(self) -> dict[str, Any]:
        spec, metrics = self.run.spec, self.run.metrics
        test = {k: v for k, v in metrics.get("test", {}).items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)}  # the headline numbers, not per-class tables
        trained = metrics.get("finished")
        if not trained:
            from datetime import datetime

            trained = datetime.fromtimestamp((self.run.path / "model.pt").stat().st_mtime).isoformat(timespec="seconds")
        card = {
            "run": self.run.path.name,
            "recipe": spec.get("recipe"),
            "description": metrics.get("description", ""),
            "dataset": spec.get("meta", {}).get("dataset"),
            "model": spec["model"]["name"],
            "model_options": spec["model"]["options"],
            "members": spec["model"].get("members", 1),
            "task": self.run.task,
            "classes": self.run.classes,
            "input": self.kind,
            "input_shape": spec["input_shape"],
            "test_metrics": test,
            "parameters": sum(p.numel() for p in self.run.model.parameters()),
            "trained": trained,
            "corenets_version": spec.get("corenets_version"),
            "top_k": self.top_k,
        }
        s = self.pre.state
        if self.kind == "image":
            card["image"] = {"channels": self.pre.shape[0], "height": self.pre.shape[1], "width": self.pre.shape[2],
                             "mode": self.pre.mode, "max_pixels": self.max_pixels}
        elif self.kind == "text":
            card["text"] = {"max_tokens": s["max_len"], "vocabulary": len(s["vocab"])}
        elif self.kind == "table":
            card["columns"] = self.pre.columns
            card["categories"] = {c: s["vocab"][c] for c in s["categorical"]}
        elif self.kind == "series":
            card["series"] = {"prices_needed": self.pre.needs, "window": s["window"], "horizon": s["horizon"],
                              "column": s["column"], "date_column": s["date_column"], "target": s["target"]}
        return card

    # ------------------------------------------------------------------ raw inputs -> model inputs

    def image_batch(self, files: list[tuple[str, bytes]]) -> list[Any]:
        """Decode uploaded files as images (by content, not by name), refusing bombs before decoding."""
        from PIL import Image, UnidentifiedImageError

        from ..data.images import load_image

        if self.kind != "image":
            raise InputError(f"this run reads {self.kind} input, not images; {self.hint()}", 415)
        images = []
        for name, data in files:
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
            if w * h > self.max_pixels:
                raise InputError(f"{name} is {w}x{h} = {w * h:,} pixels, more than the server's limit of "
                                 f"{self.max_pixels:,} (a possible decompression bomb); shrink the image first", 413)
            try:
                images.append(load_image(data))
            except CorenetsError as e:
                raise InputError(str(e).replace("<bytes>", name)) from None
        return images

    def texts(self, body: Any) -> list[str]:
        if self.kind != "text":
            raise InputError(f"this run reads {self.kind} input, not text; {self.hint()}", 415)
        texts = body.get("texts", body.get("text")) if isinstance(body, dict) else body
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise InputError('send JSON {"text": "a sentence"} or {"texts": ["one", "two"]}')
        empty = [i for i, t in enumerate(texts) if not t.strip()]
        if empty:
            raise InputError(f"text {empty[0] + 1} of {len(texts)} is empty; type a sentence")
        return texts

    def table(self, body: Any = None, csv: bytes | None = None):
        """JSON rows ({"rows": [{column: value}]}) or an uploaded CSV -> a DataFrame with the training columns."""
        import pandas as pd

        if csv is not None:
            if not csv.strip():
                raise InputError("the CSV file is empty; it needs a header row and data rows")
            try:
                df = pd.read_csv(io.BytesIO(csv), encoding_errors="replace")
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
                raise InputError(f"the upload is not a readable CSV ({str(e).splitlines()[0][:120]})") from None
        else:
            rows = body.get("rows") if isinstance(body, dict) else body
            if not isinstance(rows, list) or not rows or not all(isinstance(r, (dict, list)) for r in rows):
                raise InputError('send JSON {"rows": [{"column": value, ...}, ...]} with the training columns')
            df = pd.DataFrame(rows) if isinstance(rows[0], dict) else pd.DataFrame(rows, columns=None)
        if len(df) == 0:
            raise InputError("the table has a header but no rows")
        if self.kind == "table":
            missing = [c for c in self.pre.columns if c not in df.columns]
            if missing:
                shown = ", ".join(map(str, missing[:8])) + (" ..." if len(missing) > 8 else "")
                raise InputError(f"the rows lack the training column(s) {shown}; they must have: "
                                 f"{', '.join(map(str, self.pre.columns))}")
        return df

    def series(self, body: Any = None, csv: bytes | None = None):
        """The last prices: JSON {"prices": [...]} or a CSV with the training date and value columns."""
        if csv is not None:
            import tempfile

            from ..data.timeseries import read_series

            s = self.pre.state
            with tempfile.NamedTemporaryFile(suffix=".csv") as f:  # read_series reads a path, with its own checks
                f.write(csv)
                f.flush()
                try:
                    return read_series(f.name, s["column"], s["date_column"], s["missing"])[1]
                except CorenetsError as e:
                    raise InputError(str(e).replace(Path(f.name).name, "the CSV")) from None
        prices = body.get("prices") if isinstance(body, dict) else body
        if not isinstance(prices, list) or not prices:
            raise InputError(f'send JSON {{"prices": [...]}} with at least the last {self.pre.needs} prices')
        try:
            return np.asarray(prices, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError("prices must be numbers") from None

    def hint(self) -> str:
        return {
            "image": "POST image files as multipart/form-data field 'file' (repeat it for a batch)",
            "text": 'POST JSON {"text": "a sentence"} or {"texts": [...]}',
            "table": 'POST a CSV as multipart field \'file\', or JSON {"rows": [{"column": value}]}',
            "series": 'POST a CSV with the date and value columns as field \'file\', or JSON {"prices": [...]}',
            "rows": 'POST JSON {"rows": [[numbers], ...]}',
        }[self.kind]

    # ------------------------------------------------------------------ predict

    def predict(self, raw: Any, names: list[str] | None = None) -> dict[str, Any]:
        """Raw inputs (as Run.predict takes them) -> {"task", "classes", "predictions": [...]}."""
        try:
            with torch.inference_mode():
                pred = self.run.predict(raw)
        except CorenetsError as e:
            raise InputError(str(e)) from None
        except (RuntimeError, ValueError, TypeError) as e:  # e.g. rows of the wrong width reaching the model
            raise InputError(f"the input does not fit this model ({str(e).splitlines()[0][:160]}); {self.hint()}") from None
        result = pred.values if pred.proba is None else pred.proba
        if not np.isfinite(result).all():  # JSON has no NaN; and a NaN answer is no answer
            raise InputError("the input gives a non-finite prediction (values far outside the training range?)")
        out: dict[str, Any] = {"task": self.run.task}
        if pred.proba is None:
            out["predictions"] = [{"value": float(v)} for v in pred.values]
        else:
            out["classes"] = self.run.classes
            k = min(self.top_k, pred.proba.shape[1])
            out["predictions"] = [
                {"label": label, "top_k": [{"class": c, "probability": p} for c, p in top],
                 "probabilities": [float(p) for p in row]}
                for label, top, row in zip(pred.labels, pred.top_k(k), pred.proba)
            ]
        if names:
            for p, n in zip(out["predictions"], names):
                p["input"] = n
        return out
