"""The inspect-side registry: each input kind (a Preprocessing subclass) gets its views in one class.

`views_for(KindClass)` registers a `KindViews` subclass; `kinds.views_of(subject)` finds the one registered for
the nearest class in the kind's MRO, so nobody switches on kind names. A view class answers three
questions: which test examples to show (`pick`), why the model answered as it did on some inputs
(`explain`, with per-input JSON for `POST /explain`) and what the model learned overall (`overview`).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from .core import Section, Subject

VIEWS: dict[type, type["KindViews"]] = {}


def views_for(kind_cls: type) -> Callable[[type["KindViews"]], type["KindViews"]]:
    """Register a views class for an input kind class; a second registration for one class is an error."""

    def deco(cls: type["KindViews"]) -> type["KindViews"]:
        if kind_cls in VIEWS:
            raise ValueError(f"views for {kind_cls.__name__} are already registered ({VIEWS[kind_cls].__name__})")
        VIEWS[kind_cls] = cls
        return cls

    return deco


class KindViews:
    """Views any kind has; subclasses add the kind's own."""

    def __init__(self, subject: Subject):
        self.s = subject

    @classmethod
    def make(cls, subject: Subject) -> "KindViews":
        """The views object for this subject (a kind may hand over to another by what the model is)."""
        return cls(subject)

    # ---------------------------------------------------------------- which examples

    def pick(self, y: np.ndarray, proba: np.ndarray, mistakes: int = 4, per_class: int = 1) -> list[int]:
        """Test rows to explain: the most confident mistakes, then the most confident correct row(s) per class."""
        if proba.ndim != 2:  # regression: the rows with the largest and smallest errors are chosen by the kind
            return list(range(min(len(y), mistakes)))
        pred, conf = proba.argmax(1), proba.max(1)
        wrong = np.flatnonzero(pred != y)
        chosen = list(wrong[np.argsort(-conf[wrong])][:mistakes])
        for c in range(proba.shape[1]):
            right = np.flatnonzero((pred == y) & (y == c))
            chosen += list(right[np.argsort(-conf[right])][:per_class])
        return [int(i) for i in chosen]

    # ---------------------------------------------------------------- per input and overall

    def explain(self, x: torch.Tensor, labels: list[int | None], names: list[str],
                base: np.ndarray | None = None) -> tuple[list[Section], list[dict]]:
        """Attributions of inputs x (N, ...): page sections and one JSON-able dict per input.

        Args:
            labels: the true class of each input where known (test rows), else None.
            names: shown beside each input (a file name, "test #12").
            base: series only: each input's last known price (Inputs.base), to answer in prices.
        """
        raise NotImplementedError

    def overview(self, x: torch.Tensor, y: np.ndarray, proba: np.ndarray | None) -> list[Section]:
        """Model-wide views on the test split (x, y) with the scored model's probabilities."""
        from .embedding import projection

        return projection(self.s, x, y, proba) if proba is not None else []

    def answers(self, x: torch.Tensor, base: np.ndarray | None = None) -> list[dict]:
        """The per-input JSON of explain() alone (POST /explain); kinds with a cheaper path override it."""
        return self.explain(x, [None] * len(x), [f"input {i + 1}" for i in range(len(x))], base)[1]

    def input_views(self, x: torch.Tensor) -> list[Section]:
        """Views of the model on given inputs that need no test data (images: filters, feature maps)."""
        return []

    def report_overview(self, x: torch.Tensor, y: np.ndarray, proba: np.ndarray | None) -> list[Section]:
        """The few figures the run's report shows (cheap: the report may add at most 10% to a run's time)."""
        return self.overview(x, y, proba)

    # ---------------------------------------------------------------- helpers for subclasses

    def predicted(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """(N,) predicted classes and (N, K) probabilities; regression: (N,) raw outputs and None."""
        if self.s.task == "regression":
            return self.s.outputs(x).numpy().reshape(-1), None
        p = self.s.proba(x)
        return p.argmax(1), p

    def title(self, name: str, pred: Any, proba: np.ndarray | None, label: int | None) -> str:
        if proba is None:
            return f"{name}: {float(pred):.4g}"
        t = f"{name}:\n{self.s.class_name(int(pred))} ({proba[int(pred)]:.2f})"  # two lines: panels are narrow
        return t + (f", true {self.s.class_name(label)}" if label is not None else "")
