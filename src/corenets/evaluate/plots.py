"""Plots as PNG files (matplotlib's Agg backend: no display needed).

Each function takes plain arrays and a path, writes the figure atomically, and returns the path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np


def _figure(*args, **kw):
    import matplotlib

    if "inline" not in os.environ.get("MPLBACKEND", ""):  # Jupyter's inline backend draws off-screen too; forcing
        matplotlib.use("Agg", force=True)  # Agg there would stop the notebook's own plots from showing
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(*args, **kw)


def _save(plt, fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")  # a kill leaves it for files.remove_leftovers
    fig.tight_layout()
    fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    os.replace(tmp, path)
    return path


SHORT_RUN = 3  # epochs: up to this many, each point is labelled with its value and the axis is padded


def _epoch_axis(ax, epochs: Sequence[float]) -> None:
    """Whole-number epoch ticks; a run of one or two epochs gets room around its points, not a 0.96-1.04 axis."""
    from matplotlib.ticker import MaxNLocator

    shown = sorted(set(epochs))
    if len(shown) <= 10:
        ax.set_xticks(shown)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if shown and shown[-1] - shown[0] < 2:
        ax.set_xlim(shown[0] - 0.5, shown[-1] + 0.5)


def curves(rows: Sequence[dict[str, float]], path: str | Path, metric: str, unit: str = "",
           steps: Sequence[dict[str, float]] = ()) -> Path:
    """Loss and one metric per epoch, train vs validation.

    Args:
        rows: history.csv's rows (one per epoch).
        metric: the column after `train_`/`val_` for the right panel (accuracy, rmse).
        unit: what the metric is measured in (e.g. "log return"), shown in its axis label.
        steps: steps.csv's rows ({"epoch": fractional, "train_loss"}) of a short run: the loss panel draws the
            training loss of each step under the per-epoch points.
    """
    plt, fig, axes = _figure(1, 2, figsize=(10, 3.8))
    epochs = [r["epoch"] for r in rows]
    short = len(rows) <= SHORT_RUN
    if short and steps:
        axes[0].plot([r["epoch"] for r in steps], [r["train_loss"] for r in steps], "-", lw=0.8, alpha=0.45,
                     color="C0", label="train, each step")
    for ax, key in zip(axes, ["loss", metric]):
        for split, style in (("train", "-o"), ("val", "-s")):
            col = f"{split}_{key}"
            if all(col in r for r in rows):
                values = [r[col] for r in rows]
                line, = ax.plot(epochs, values, style, ms=7 if short else 3, label=split)
                for e, v in zip(epochs, values) if short else ():
                    ax.annotate(f"{v:.4g}", (e, v), textcoords="offset points", xytext=(6, 4), fontsize=8,
                                color=line.get_color())
        _epoch_axis(ax, epochs + ([0] if short and steps and key == "loss" else []))
        if short:
            ax.margins(y=0.2)  # room for the value labels
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{key} ({unit})" if unit and key != "loss" else key)
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_title("loss" + (" (standardised target)" if unit else ""))
    axes[1].set_title(f"{metric}, in {unit}" if unit else metric)
    if short:
        fig.suptitle(f"{len(rows)} epoch(s): one point per epoch" + (", and the training loss of each step" if steps
                                                                      else ""), fontsize=9, color="#555")
    return _save(plt, fig, path)


MANY_CLASSES = 30  # above this a matrix's cells are too small to read: the most frequent confusions instead


def confusion(matrix: Sequence[Sequence[int]], classes: list[str], path: str | Path, top: int = 20) -> Path:
    """The test confusion matrix: counts, coloured by the share of the true class (its recall on the diagonal).

    One panel sized for the report's width, so a 10-class matrix's numbers are as large as its text; with more
    than MANY_CLASSES classes, a bar chart of the `top` most frequent true -> predicted confusions instead.
    """
    cm = np.asarray(matrix, dtype=np.float64)
    if len(classes) > MANY_CLASSES:
        return _top_confusions(cm, classes, path, top)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    k = len(classes)
    size = min(7.5, max(4.5, 0.55 * k + 2.5))  # inches: at most ~960 px wide at 110 dpi, the report page's width
    plt, fig, ax = _figure(figsize=(size + 1.2, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_title("confusion matrix (test): count in each cell, colour = share of the true class", fontsize=10)
    ax.set_xticks(range(k), classes, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    cell_pt = size * 72 * 0.8 / k  # a cell's side in points
    font = float(np.clip(cell_pt / 3.2, 6, 13))
    for i in range(k):
        for j in range(k):
            text = f"{cm[i, j]:.0f}"
            if k <= 12 and cm[i, j]:  # an empty cell stays a quiet 0
                text += f"\n{norm[i, j]:.0%}"
            ax.text(j, i, text, ha="center", va="center", fontsize=font if k > 12 else font * 0.8,
                    color="white" if norm[i, j] > 0.5 else "black" if cm[i, j] else "#aaa")
    fig.colorbar(im, ax=ax, fraction=0.046, label="share of the true class")
    return _save(plt, fig, path)


def _top_confusions(cm: np.ndarray, classes: list[str], path: str | Path, top: int) -> Path:
    """Bars: the `top` largest off-diagonal counts, labelled 'true -> predicted', with the share of the true class."""
    off = cm.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(off, axis=None)[::-1][:top]
    pairs = [(int(i), int(j)) for i, j in zip(*np.unravel_index(order, cm.shape)) if off[i, j] > 0]
    plt, fig, ax = _figure(figsize=(9, max(2.5, 0.32 * len(pairs) + 1.2)))
    counts = [cm[i, j] for i, j in pairs]
    ax.barh(range(len(pairs)), counts, color="C3")
    ax.set_yticks(range(len(pairs)), [f"{classes[i]} -> {classes[j]}" for i, j in pairs], fontsize=9)
    ax.invert_yaxis()
    for n, (i, j) in enumerate(pairs):
        ax.text(cm[i, j], n, f" {cm[i, j]:.0f} ({cm[i, j] / max(cm[i].sum(), 1):.0%} of {classes[i]})",
                va="center", fontsize=8)
    ax.set_xlabel("test rows (true -> predicted)")
    wrong = off.sum()
    ax.set_title(f"the {len(pairs)} most frequent confusions of {len(classes)} classes "
                 f"({sum(counts) / max(wrong, 1):.0%} of the {wrong:.0f} mistakes)", fontsize=10)
    ax.margins(x=0.25)
    return _save(plt, fig, path)


ROC_CURVES = 10  # more classes than this: one pooled (micro-average) curve, not a legend of K curves


def roc(y_true: np.ndarray, proba: np.ndarray, classes: list[str], path: str | Path) -> Path:
    """One ROC curve for binary (positive = class 1), one per class (one-vs-rest) for multiclass, and beyond
    ROC_CURVES classes one micro-averaged curve (every class's one-vs-rest decisions pooled)."""
    from sklearn.metrics import auc, roc_curve

    plt, fig, ax = _figure(figsize=(5.5, 5))
    pairs = [(1, classes[1])] if len(classes) == 2 else list(enumerate(classes))
    if len(classes) > ROC_CURVES:
        onehot = np.zeros_like(proba, dtype=bool)
        onehot[np.arange(len(y_true)), np.asarray(y_true, dtype=np.int64)] = True
        fpr, tpr, _ = roc_curve(onehot.ravel(), proba.ravel())
        ax.plot(fpr, tpr, lw=1.4, label=f"micro-average of {len(classes):,} classes (AUC {auc(fpr, tpr):.3f})")
        pairs = []
    for i, name in pairs:
        positives = y_true == i
        if positives.all() or not positives.any():
            continue
        fpr, tpr, _ = roc_curve(positives, proba[:, i])
        ax.plot(fpr, tpr, lw=1.4, label=f"{name} (AUC {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC")
    ax.legend(fontsize=7, loc="lower right")
    return _save(plt, fig, path)


def predicted_vs_actual(y_true: np.ndarray, y_pred: np.ndarray, path: str | Path) -> Path:
    plt, fig, ax = _figure(figsize=(5.5, 5))
    ax.scatter(y_true, y_pred, s=8, alpha=0.6)
    lo, hi = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="perfect")
    ax.set_xlabel("actual")
    ax.set_ylabel("predicted")
    ax.set_title("predicted vs actual (test)")
    ax.legend()
    return _save(plt, fig, path)


def overlay_curves(series: dict[str, Sequence[dict[str, Any]]], key: str, path: str | Path) -> Path:
    """One validation curve per run, for `corenets compare`."""
    plt, fig, ax = _figure(figsize=(7, 4.2))
    for name, rows in series.items():
        pts = [(r["epoch"], r[key]) for r in rows if key in r]
        if pts:
            ax.plot(*zip(*pts), "-o", ms=3 if len(pts) > SHORT_RUN else 7, label=name)
    _epoch_axis(ax, [r["epoch"] for rows in series.values() for r in rows])
    ax.set_xlabel("epoch")
    ax.set_ylabel(key)
    ax.set_title(f"{key} by epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(plt, fig, path)
