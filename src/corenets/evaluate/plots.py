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

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(*args, **kw)


def _save(plt, fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.tight_layout()
    fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def curves(rows: Sequence[dict[str, float]], path: str | Path, metric: str) -> Path:
    """Loss and one metric per epoch, train vs validation."""
    plt, fig, axes = _figure(1, 2, figsize=(10, 3.8))
    epochs = [r["epoch"] for r in rows]
    for ax, key in zip(axes, ["loss", metric]):
        for split, style in (("train", "-o"), ("val", "-s")):
            col = f"{split}_{key}"
            if all(col in r for r in rows):
                ax.plot(epochs, [r[col] for r in rows], style, ms=3, label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_title("loss")
    axes[1].set_title(metric)
    return _save(plt, fig, path)


def confusion(matrix: Sequence[Sequence[int]], classes: list[str], path: str | Path) -> Path:
    """Counts and row-normalised (recall per true class) side by side."""
    cm = np.asarray(matrix, dtype=np.float64)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    k = len(classes)
    size = max(4.0, 0.45 * k + 2)
    plt, fig, axes = _figure(1, 2, figsize=(2 * size + 1, size))
    for ax, data, title, fmt in ((axes[0], cm, "counts", "{:.0f}"), (axes[1], norm, "row-normalised", "{:.2f}")):
        im = ax.imshow(data, cmap="Blues")
        ax.set_title(f"confusion matrix ({title})")
        ax.set_xticks(range(k), classes, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
        ax.set_yticks(range(k), classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        if k <= 20:
            top = data.max() or 1
            for i in range(k):
                for j in range(k):
                    ax.text(j, i, fmt.format(data[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if data[i, j] > top / 2 else "black")
        fig.colorbar(im, ax=ax, fraction=0.046)
    return _save(plt, fig, path)


def roc(y_true: np.ndarray, proba: np.ndarray, classes: list[str], path: str | Path) -> Path:
    """One ROC curve for binary (positive = class 1), one per class (one-vs-rest) for multiclass."""
    from sklearn.metrics import auc, roc_curve

    plt, fig, ax = _figure(figsize=(5.5, 5))
    pairs = [(1, classes[1])] if len(classes) == 2 else list(enumerate(classes))
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
            ax.plot(*zip(*pts), "-o", ms=3, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(key)
    ax.set_title(f"{key} by epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(plt, fig, path)
