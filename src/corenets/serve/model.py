"""The served model: one run folder loaded once, raw uploads -> predictions as plain JSON values.

No web framework here, so the limits and the answers can be tested (and reused) without
FastAPI. Every refusal is an InputError carrying its HTTP status; the app turns it into
a JSON error response and goes on serving.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.bundle import Limits
from ..errors import CorenetsError, InputError

__all__ = ["InputError", "ServedModel"]


class ServedModel:
    """A run folder ready to answer requests: loaded once, read-only, safe to call from many threads.

    What the requests may hold, how they are parsed and what the card and page show is the run's input kind's
    (`run.preprocessing.reader()`): this class never asks which kind it serves.

    Args:
        run_dir: a folder made by `corenets run`.
        max_pixels: images with more pixels than this are refused before they are decoded.
        top_k: classes returned per input.
    """

    def __init__(self, run_dir: str | Path, max_pixels: int = 40_000_000, top_k: int = 5):
        from ..data import datasets
        from ..runs import load_run

        datasets()  # registers every Preprocessing kind (image, text, ...) before model.pt names one
        self.run = load_run(run_dir)
        self.run.model.eval()
        for p in self.run.model.parameters():
            p.requires_grad_(False)  # inference only; also makes the weights plainly read-only for the threads
        self.pre = self.run.preprocessing.reader()  # the kind that reads raw inputs
        self.kind = self.pre.input_name  # the page's input widget
        self.limits = Limits(max_pixels=max_pixels)
        self.max_pixels = max_pixels
        self.top_k = top_k
        self.card = self._card()

    # ------------------------------------------------------------------ the model card

    def _card(self) -> dict[str, Any]:
        spec, metrics = self.run.spec, self.run.metrics  # a record.Metrics, or None for an unfinished run
        test = {k: v for k, v in (metrics.test if metrics else {}).items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)}  # the headline numbers, not per-class tables
        trained = metrics.finished if metrics else ""
        if not trained:
            from datetime import datetime

            trained = datetime.fromtimestamp((self.run.path / "model.pt").stat().st_mtime).isoformat(timespec="seconds")
        return {
            "run": self.run.path.name,
            "recipe": spec.get("recipe"),
            "description": metrics.description if metrics else "",
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
            **self.pre.card(self.limits),
        }

    # ------------------------------------------------------------------ requests -> raw inputs (the kind parses)

    def files(self, uploads: list[tuple[str, bytes]]) -> Any:
        """Uploaded files (name, bytes) -> raw inputs for predict, refused with an InputError as the kind says."""
        return _refusing(self.pre.http_files, uploads, self.limits)

    def image_batch(self, uploads: list[tuple[str, bytes]]) -> Any:
        """The name the upload batcher calls: files()."""
        return self.files(uploads)

    def json(self, body: Any) -> Any:
        """A parsed JSON body -> raw inputs for predict."""
        return _refusing(self.pre.http_json, body, self.limits)

    def hint(self) -> str:
        return self.pre.hint()

    # ------------------------------------------------------------------ predict

    def predict(self, raw: Any, names: list[str] | None = None) -> dict[str, Any]:
        """Raw inputs (as Run.predict takes them) -> {"task", "classes", "predictions": [...]}."""
        try:
            with torch.inference_mode():
                pred = self.run.predict(raw)
        except InputError:
            raise
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
        if names and len(names) == len(out["predictions"]):  # one name per input (a file each)
            for p, n in zip(out["predictions"], names):
                p["input"] = n
        return out


def _refusing(parse, *args: Any) -> Any:
    """Run a kind's request parser; whatever it refuses becomes an InputError (422 unless it says otherwise)."""
    try:
        return parse(*args)
    except InputError:
        raise
    except CorenetsError as e:
        raise InputError(str(e)) from None
    except (ValueError, TypeError, OverflowError) as e:  # e.g. pandas given rows it cannot line up
        raise InputError(f"the request could not be read ({str(e).splitlines()[0][:160]})") from None
