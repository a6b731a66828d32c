"""report.md and a self-contained report.html (images embedded), built from the run folder's files.

The report reads only what is in the folder: metrics.json, history.csv, config.yaml,
summary.txt and every PNG under plots/. A later step that adds a plot just writes a PNG.
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path
from typing import Any

# Known plots in the order a reader wants them; others follow in name order.
CAPTIONS = {
    "curves.png": "Loss and metric per epoch, train vs validation",
    "confusion.png": "Confusion matrix on the test set (beyond 30 classes: its most frequent confusions)",
    "roc.png": "ROC curves on the test set",
    "per_class_accuracy.png": "Accuracy per class on the test set",
    "samples.png": "Test images: predicted (true); wrong ones in red",
    "top_losses.png": "The most confident mistakes: predicted / true, and the probability given to the prediction",
    "predicted_vs_actual.png": "Predicted vs actual on the test set",
}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, dict) and "mean" in v:
        return f"{v['mean']:.4f} ± {v['std']:.4f}"
    return str(v)


class Report:
    """Blocks rendered twice: as Markdown and as HTML."""

    def __init__(self, title: str):
        self.title = title
        self.blocks: list[tuple[str, Any]] = []

    def heading(self, text: str):
        self.blocks.append(("h2", text))

    def text(self, text: str):
        self.blocks.append(("p", text))

    def table(self, header: list[str], rows: list[list[Any]]):
        self.blocks.append(("table", (header, rows)))

    def image(self, path: Path, caption: str):
        self.blocks.append(("img", (path, caption)))

    def pre(self, text: str):
        self.blocks.append(("pre", text))

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for block, data in self.blocks:
            if block == "h2":
                out += [f"## {data}", ""]
            elif block == "p":
                out += [data, ""]
            elif block == "table":
                header, rows = data
                out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                out += ["| " + " | ".join(_fmt(c) for c in r) + " |" for r in rows] + [""]
            elif block == "img":
                path, caption = data
                out += [f"![{caption}](plots/{path.name})", ""]
            elif block == "pre":
                out += ["```", data.rstrip(), "```", ""]
        return "\n".join(out)

    def html(self) -> str:
        body = [f"<h1>{html.escape(self.title)}</h1>"]
        for block, data in self.blocks:
            if block == "h2":
                body.append(f"<h2>{html.escape(data)}</h2>")
            elif block == "p":
                body.append(f"<p>{html.escape(data)}</p>")
            elif block == "table":
                header, rows = data
                th = "".join(f"<th>{html.escape(h)}</th>" for h in header)
                trs = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
                body.append(f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>")
            elif block == "img":
                path, caption = data
                b64 = base64.b64encode(path.read_bytes()).decode("ascii")
                body.append(f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{b64}">'
                            f"<figcaption>{html.escape(caption)}</figcaption></figure>")
            elif block == "pre":
                body.append(f"<pre>{html.escape(data)}</pre>")
        style = ("body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}"
                 "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;"
                 "text-align:right}th{background:#f3f3f3}img{max-width:100%}pre{background:#f6f6f6;padding:.8em;"
                 "overflow-x:auto;font-size:.8em}figcaption{color:#555;font-size:.9em}")
        return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(self.title)}</title>"
                f"<style>{style}</style></head><body>{''.join(body)}</body></html>")


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def build_report(run_dir: str | Path) -> Path:
    """Write report.md and report.html into the run folder; returns the HTML path."""
    from ..record import read_metrics

    run_dir = Path(run_dir)
    m = read_metrics(run_dir)
    rep = Report(f"corenets run: {m.recipe or run_dir.name}")
    desc = m.description.strip()
    desc += "." if desc and desc[-1] not in ".!?" else ""
    rep.text(f"{desc} Folder: {run_dir.name}. Trained {m.finished} on {m.device} in {m.train_seconds:.1f} s; "
             f"seed {m.seed}.".strip())
    for warning in m.warnings:  # a score at or below its baseline: said before any number (experiment.baseline_warnings)
        rep.text(f"Warning: {warning}")
    for note in m.notes:
        rep.text(note)
    if m.members > 1:
        rep.text(f"The model is an ensemble of {m.members} copies trained side by side (model.members); every "
                 "score and prediction is of their averaged probabilities.")
    _metrics_section(rep, m)
    plots = sorted((run_dir / "plots").glob("*.png")) if (run_dir / "plots").is_dir() else []
    plots = [p for p in plots if not p.name.startswith("learned_")]  # "What it learned" (inspect) shows them
    known = [p for name in CAPTIONS for p in plots if p.name == name]
    if plots:
        rep.heading("Plots")
        for p in known + [p for p in plots if p not in known]:
            rep.image(p, CAPTIONS.get(p.name, p.stem.replace("_", " ")))
    from ..inspect.learned import learned_section

    learned_section(rep, run_dir)
    rep.heading("Data and model")
    data = m.data
    rep.table(["dataset", "task", "train", "val", "test", "input shape", "parameters"],
              [[data.get("dataset", "?"), m.task, data.get("train", ""), data.get("val", ""),
                data.get("test", ""), str(data.get("input_shape", "")), m.parameters or ""]])
    if (run_dir / "summary.txt").is_file():
        rep.pre((run_dir / "summary.txt").read_text())
    if (run_dir / "config.yaml").is_file():
        rep.heading("Config (repeat with: corenets run --config config.yaml)")
        rep.pre((run_dir / "config.yaml").read_text())
    rep.heading("Versions")
    rep.table(["package", "version"], [[k, v] for k, v in m.versions.items()])
    _write(run_dir / "report.md", rep.markdown())
    _write(run_dir / "report.html", rep.html())
    return run_dir / "report.html"


def _metrics_section(rep: Report, m) -> None:
    test = m.test
    base = test.get("baseline", {})
    rep.heading("Test metrics" + (f" (mean ± std over {m.cv} folds)" if m.cv else ""))
    keys = [k for k, v in test.items() if isinstance(v, (float, int, dict)) and k not in ("n", "baseline", "per_class")
            and not (isinstance(v, dict) and "mean" not in v)]
    if isinstance(test.get("target"), str):  # a forecast: what the network predicted, in its own words
        rep.text(f"Forecast target: {test['target']} (data.target; auto chooses price or delta on validation). "
                 "Every figure here is in the series' own units, the forecast turned back into a value.")
    c = m.classical
    classical = c["metrics"] if c else {}
    rows = [[k, test[k], base.get(k, "")] + ([classical.get(k, "")] if c else []) for k in keys]
    rep.table(["metric", "model", f"baseline: {base.get('name', '')}"] + ([f"classical: {c['name']}"] if c else []), rows)
    if c:
        verdict = {True: "The network beats it", False: "The network does NOT beat it", None: "Not compared"}[c["beaten"]]
        rep.text(f"Classical baseline: {c['name']} (scikit-learn), fitted on the same training rows and scored on the "
                 f"same test rows in {c['fit_seconds']:.1f} s, apart from training. {verdict} on test {c['key']}."
                 + (f" It was {c['note']}." if c["note"] else "") + " Off with --set report.classical_baseline=false.")
    per_class = test.get("per_class")
    if per_class:
        rep.heading("Per class (test)")
        rep.table(["class", "precision", "recall", "f1", "support"],
                  [[c, v["precision"], v["recall"], v["f1"], v["support"]] for c, v in per_class.items()])
    if m.best_epoch:
        if m.refit:
            rep.text(f"Epoch {m.best_epoch} of {m.epochs_run} chosen on {m.monitor} (validation); the "
                     f"weights are a fresh model's, trained on training + validation rows for {m.refit['epochs']} "
                     "epoch(s) (train.refit); the test set was used once, after training.")
        else:
            rep.text(f"Weights from epoch {m.best_epoch} of {m.epochs_run}, chosen on {m.monitor} "
                     "(validation); the test set was used once, after training.")
    if m.stopped:  # early stopping: where, on what, and which weights are kept (train.callbacks.stop_message)
        rep.text(f"Training stopped early: {m.stopped}.")
