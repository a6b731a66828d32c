"""Find a subject's views: every kind module registers its views class on import (views.views_for)."""

from __future__ import annotations

from . import images, rows, series, tables, text  # noqa: F401 - each registers its kind's views
from .core import Subject
from .views import VIEWS, KindViews


def views_of(subject: Subject) -> KindViews:
    """The views of the subject's input kind (the nearest registered class in its MRO)."""
    for klass in type(subject.kind).__mro__:
        if klass in VIEWS:
            return VIEWS[klass].make(subject)
    raise LookupError(f"no inspect views for input kind {type(subject.kind).__name__}")
