"""What `corenets inspect`, the report and `POST /explain` call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .core import Section, Subject, subject_of
from .kinds import views_of
from .views import KindViews


def run_subject(run) -> Subject:
    """The Subject of a loaded run (runs.Run): its scored model, one network for layer views, its kind."""
    from ..record import tta_of

    return subject_of(run.model, run.preprocessing, run.task, run.classes, tta_of(run.spec, run.path))


def on_inputs(run, args: list[str]) -> tuple[list[Section], list[str]]:
    """Sections for inputs given as `corenets predict` takes them; and one line per input that was not read."""
    subject = run_subject(run)
    views = views_of(subject)
    got = run.preprocessing.reader().cli_inputs(list(args))
    errors = [f"{args[i]}: {m}" for i, m in sorted(got.errors.items())]
    inputs = run.preprocessing.prepare(got.raw)
    if not len(inputs.x):
        return [], errors
    names = got.names or [f"input {i + 1}" for i in range(len(inputs.x))]
    sections, _ = views.explain(inputs.x, [None] * len(inputs.x), [str(n) for n in names], inputs.base)
    return sections + views.input_views(inputs.x), errors


def on_test(run, bundle, tsne: bool = False) -> list[Section]:
    """Sections for the run's test split (bundle: the run's data, loaded by the caller): picked examples
    (mistakes first) and the model-wide views."""
    subject = run_subject(run)
    return test_sections(subject, views_of(subject), bundle.test.x, bundle.test.y.numpy(), tsne=tsne)


def test_sections(subject: Subject, views: KindViews, x: torch.Tensor, y: np.ndarray, tsne: bool = False,
                  report: bool = False) -> list[Section]:
    _, proba = views.predicted(x)
    idx = views.pick(y, proba) if not report else views.pick(y, proba, mistakes=4, per_class=0)
    sections: list[Section] = []
    if idx:
        labels = [int(y[i]) if proba is not None else None for i in idx]
        sections += views.explain(x[torch.as_tensor(idx)], labels, [f"test #{i}" for i in idx])[0]
    overview = views.report_overview if report else views.overview
    sections += overview(x, y, proba)
    if tsne and proba is not None:
        from .embedding import projection

        sections += projection(subject, x, y, proba, "tsne")
    return sections


def explain_json(run, raw: Any) -> list[dict]:
    """POST /explain: per input, the class and its attribution (images: maps and an overlay PNG in base64)."""
    subject = getattr(run, "_inspect_subject", None)
    if subject is None:
        subject = run._inspect_subject = run_subject(run)
    inputs = run.preprocessing.prepare(raw)
    return views_of(subject).answers(inputs.x, inputs.base)


def report_learned(run_dir: Path, bundle) -> None:
    """The report's "What it learned" figures, from the saved model and the test split already in memory."""
    from ..runs import Run
    from .page import write_report_figures

    run = Run(run_dir)
    subject = run_subject(run)
    sections = test_sections(subject, views_of(subject), bundle.test.x, bundle.test.y.numpy(), report=True)
    write_report_figures([s for s in sections if s.figures], Path(run_dir) / "plots", subject.notes)
