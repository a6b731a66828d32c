"""What a History or a Run shows in Jupyter: its curves, drawn by the report's own plot (evaluate/plots.curves).

Nothing here changes matplotlib's backend for the session: the curves are rendered to PNG bytes and handed to
Jupyter as a picture, so a notebook's `%matplotlib` setting is left alone.
"""

from __future__ import annotations

import base64
import html
import tempfile
from pathlib import Path
from typing import Any, Sequence


class Picture:
    """PNG bytes that Jupyter shows inline; `.save(path)` writes them."""

    def __init__(self, png: bytes, caption: str = ""):
        self.png, self.caption = png, caption

    def _repr_png_(self) -> bytes:
        return self.png

    def _repr_html_(self) -> str:
        b64 = base64.b64encode(self.png).decode("ascii")
        cap = f"<figcaption>{html.escape(self.caption)}</figcaption>" if self.caption else ""
        return f'<figure><img style="max-width:100%" src="data:image/png;base64,{b64}">{cap}</figure>'

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_bytes(self.png)
        return path


def curve_metric(rows: Sequence[dict[str, float]]) -> str:
    """The right panel's metric: accuracy for classifiers, rmse for regression (what the history holds)."""
    return "accuracy" if any("val_accuracy" in r or "train_accuracy" in r for r in rows) else "rmse"


def curves_picture(rows: Sequence[dict[str, float]]) -> Picture:
    """The loss and metric curves of a history, as the run report draws them."""
    from .evaluate.plots import curves

    if not rows:
        from .errors import TrainingError

        raise TrainingError("this history has no epochs yet; train first with cn.fit")
    with tempfile.TemporaryDirectory() as tmp:
        path = curves(list(rows), Path(tmp) / "curves.png", curve_metric(rows))
        return Picture(path.read_bytes(), "Loss and metric per epoch, train vs validation")


def _last_line(rows: Sequence[dict[str, float]]) -> str:
    last = rows[-1]
    parts = [f"{k} {v:.4f}" for k, v in last.items() if k.startswith(("train_", "val_"))]
    return f"{len(rows)} epoch(s); last: " + ", ".join(parts)


def history_html(rows: Sequence[dict[str, float]], stopped: str | None = None) -> str:
    if not rows:
        return "<p>History: no epochs yet</p>"
    note = f"<p>{html.escape(stopped)}</p>" if stopped else ""
    return f"<p>{html.escape(_last_line(rows))}</p>{note}{curves_picture(rows)._repr_html_()}"


def run_html(run: Any) -> str:
    """A run folder in a notebook: its description, headline test numbers and warnings, and its curves."""
    from .files import read_history
    from .record import read_metrics

    parts = [f"<h3>{html.escape(run.path.name)}</h3>"]
    m = read_metrics(run.path, missing_ok=True)
    if m is None:
        parts.append("<p>unfinished: no metrics.json yet</p>")
    else:
        from .evaluate.metrics import headline

        base = m.test.get("baseline", {})
        cells = "".join(f"<tr><td>{html.escape(k)}</td><td>{_num(v)}</td><td>{_num(base.get(k, ''))}</td></tr>"
                        for k, v in headline(m.test, m.task).items())
        parts += [f"<p>{html.escape(m.description)}</p>",
                  f"<table><tr><th>test</th><th>model</th><th>baseline: {html.escape(str(base.get('name', '')))}"
                  f"</th></tr>{cells}</table>"]
        parts += [f"<p><b>warning:</b> {html.escape(w)}</p>" for w in m.warnings]
        if m.stopped:
            parts.append(f"<p>{html.escape(m.stopped)}</p>")
    rows = read_history(run.path / "history.csv") if (run.path / "history.csv").is_file() else []
    if rows:
        parts.append(curves_picture(rows)._repr_html_())
    return "".join(parts)


def _num(v: Any) -> str:
    if isinstance(v, dict) and "mean" in v:
        return f"{v['mean']:.4f} ± {v['std']:.4f}"
    return f"{v:.4f}" if isinstance(v, float) else html.escape(str(v))
