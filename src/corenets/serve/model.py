"""The served model: one run folder loaded once, raw uploads -> predictions as plain JSON values.

No web framework here, so the limits and the answers can be tested (and reused) without
FastAPI. Every refusal is an InputError carrying its HTTP status; the app turns it into
a JSON error response and goes on serving.
"""

from __future__ import annotations

import threading
from collections import deque
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from ..data.bundle import Limits
from ..errors import ConfigError, CorenetsError, InputError

__all__ = ["Budget", "InputError", "ServedModel", "limits_from"]
JSON_IN_FLIGHT = 16 * 2**20  # bytes of JSON bodies parsed at once per process: 16 MB make at most ~250 MB of Python objects
LIMITS = tuple(f.name for f in fields(Limits) if f.name != "decoding")  # the request limits, each a serve flag


def limits_from(**values: Any) -> Limits:
    """Limits from `corenets serve` settings; a limit below 1 is refused (ConfigError naming the flag)."""
    unknown = sorted(set(values) - set(LIMITS))
    if unknown:
        raise TypeError(f"unknown limit(s) {unknown}; the limits are {', '.join(LIMITS)}")
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be a whole number of 1 or more, got {str(v)[:40]}")
    return Limits(**values)


class Budget:
    """At most `limit` units of work at once across all requests of this process: decoded image pixels, or bytes of
    JSON being parsed.

    A request enters in arrival order once its units fit, so one waits only for the work admitted before it: never
    for longer than `limit` units of it (plus its own turn), however many large requests follow it. A request over
    the whole budget enters alone.
    """

    def __init__(self, limit: int):
        self.limit, self.used = limit, 0
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()

    @contextmanager
    def __call__(self, units: int) -> Iterator[None]:
        n, me = min(units, self.limit), object()
        with self._cond:
            self._queue.append(me)
            self._cond.wait_for(lambda: self._queue[0] is me and self.used + n <= self.limit)
            self._queue.popleft()
            self.used += n
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self.used -= n
                self._cond.notify_all()


class ServedModel:
    """A run folder ready to answer requests: loaded once, read-only, safe to call from many threads.

    What the requests may hold, how they are parsed and what the card and page show is the run's input kind's
    (`run.preprocessing.reader()`): this class never asks which kind it serves.

    The whole folder is checked here, so a server never starts on a folder it cannot answer from: model.pt
    (load_run), config.yaml when there is one (the settings predict reads) and metrics.json (corenets.record).

    Args:
        run_dir: a folder made by `corenets run`.
        top_k: classes returned per input.
        **limits: request limits, Limits fields (max_pixels, max_request_pixels, max_texts, ...); see Limits.
    """

    def __init__(self, run_dir: str | Path, top_k: int = 5, **limits: Any):
        from ..data import datasets
        from ..runs import load_run

        self.limits = limits_from(**limits)
        datasets()  # registers every Preprocessing kind (image, text, ...) before model.pt names one
        self.run = load_run(run_dir)
        _check_config(self.run.path)
        self.run.model.eval()
        for p in self.run.model.parameters():
            p.requires_grad_(False)  # inference only; also makes the weights plainly read-only for the threads
        self.pre = self.run.preprocessing.reader()  # the kind that reads raw inputs
        self.kind = self.pre.input_name  # the page's input widget
        self.limits.decoding = Budget(self.limits.max_request_pixels)
        self.parsing = Budget(JSON_IN_FLIGHT)
        self.max_pixels = self.limits.max_pixels
        self.body = self.pre.http_body(self.limits)  # the JSON body's pydantic model; None: files only
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

    def json(self, raw: bytes) -> Any:
        """A JSON body's bytes -> raw inputs for predict: validated by the kind's body model (bounded size and
        depth, numbers that fit a float), then read by the kind."""
        if self.body is None:
            return _refusing(self.pre.http_json, None, self.limits)  # a files-only kind says how to send files
        from ..data.http_body import parse

        _within_strings(self.body, raw, self.hint())
        with self.parsing(len(raw)):  # bounds the Python objects of concurrent bodies (600,000 texts: ~40 MB each)
            return _refusing(self.pre.http_json, parse(self.body, raw, self.hint()), self.limits)

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


def _within_strings(body: Any, raw: bytes, hint: str) -> None:
    """Refuse (413), before parsing, a JSON body that must hold more strings than its body model allows (a text
    body: `most_strings`, its --max-texts texts and keys): 600,000 one-character texts hold the interpreter lock for
    about 25 ms while parsed (and take 40 MB); counting their quotes takes about 2 ms.

    Each JSON string has two unescaped quotes and each backslash escapes at most one quote, so (quotes -
    backslashes) / 2 is never more than the strings the body holds: a body the model accepts is never refused.
    """
    bound = getattr(body, "most_strings", None)
    if bound is None or len(raw) <= 2 * bound[0]:  # every string takes two bytes: this body cannot be over
        return
    most, limit, value = bound
    strings = (raw.count(b'"') - raw.count(b"\\")) // 2
    if strings > most:
        raise InputError(f"the body holds {strings:,} strings or more: more texts than this server's limit of "
                         f"{value:,} per request (corenets serve --{limit.replace('_', '-')}); {hint}", 413)


def _check_config(run_dir: Path) -> None:
    """config.yaml, when the folder has one, must load: predict reads its eval batch size on every request."""
    path = run_dir / "config.yaml"
    if not path.exists():
        return  # a folder with model.pt only (written by hand, or by an older corenets): the defaults apply
    from ..config import load_yaml

    try:
        load_yaml(path)
    except CorenetsError as e:
        raise ConfigError(f"{path} is invalid, so the server would refuse every request: "
                          f"{str(e).splitlines()[0][:200]}; fix or restore it") from None
