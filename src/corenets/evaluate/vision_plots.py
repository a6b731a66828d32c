"""Image-run plots: a grid of test images with predicted/true labels, the most confident mistakes, per-class accuracy.

Images are shown as the model saw them before normalisation: (x * std + mean) per
channel gives back [0, 1] pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .plots import _figure, _save


def displayable(x: np.ndarray, state: dict) -> np.ndarray:
    """Normalised (N, C, H, W) -> (N, H, W) or (N, H, W, 3) in [0, 1] for imshow."""
    c = x.shape[1]
    mean = np.asarray(state["mean"], dtype=np.float32).reshape(1, c, 1, 1)
    std = np.asarray(state["std"], dtype=np.float32).reshape(1, c, 1, 1)
    img = np.clip(x * std + mean, 0, 1)
    return img[:, 0] if c == 1 else img.transpose(0, 2, 3, 1)


def _grid(images: np.ndarray, titles: list[str], wrong: list[bool], path: Path, cols: int = 8) -> Path:
    n = len(images)
    cols = max(1, min(cols, n))
    rows = max(1, int(np.ceil(n / cols)))
    plt, fig, axes = _figure(rows, cols, figsize=(max(3.0, 1.5 * cols), 2.0 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, title, bad in zip(axes.flat, images, titles, wrong):
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=7, color="red" if bad else "black")
    return _save(plt, fig, path)


def sample_grid(x, y, proba, classes, state, path, n: int = 32) -> Path:
    """The first n test images (a fixed, reproducible choice), titled 'pred (true)'."""
    k = min(n, len(x))
    pred = proba[:k].argmax(1)
    titles = [f"{classes[p]} ({classes[t]})" for p, t in zip(pred, y[:k])]
    return _grid(displayable(x[:k], state), titles, list(pred != y[:k]), Path(path))


def top_losses(x, y, proba, classes, state, path, n: int = 16) -> Path | None:
    """The n mistakes with the highest probability on the wrong class."""
    pred = proba.argmax(1)
    wrong = np.flatnonzero(pred != y)
    if len(wrong) == 0:
        return None
    order = wrong[np.argsort(-proba[wrong, pred[wrong]])][:n]
    titles = [f"{classes[pred[i]]} / {classes[y[i]]}\n{proba[i, pred[i]]:.2f}" for i in order]
    return _grid(displayable(x[order], state), titles, [True] * len(order), Path(path))


BARS = 40  # more classes than this: the BARS classes with the lowest test accuracy, so the figure keeps its size


def per_class_accuracy(y, proba, classes, path) -> Path:
    pred = proba.argmax(1)
    counts = np.bincount(y, minlength=len(classes))
    hits = np.bincount(y[pred == y], minlength=len(classes))
    acc = np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
    shown = np.arange(len(classes))
    if len(classes) > BARS:  # the worst classes (absent ones last), not a figure hundreds of inches wide
        shown = np.argsort(np.where(np.isnan(acc), np.inf, acc), kind="stable")[:BARS]
    plt, fig, ax = _figure(figsize=(max(5, 0.55 * len(shown)), 3.5))
    ax.bar(range(len(shown)), acc[shown], color="tab:blue")
    ax.set_xticks(range(len(shown)), [classes[k] for k in shown], rotation=45, ha="right", fontsize=8)
    if len(shown) < len(classes):
        ax.set_title(f"the {len(shown)} of {len(classes):,} classes with the lowest accuracy", fontsize=9)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.axhline(float((pred == y).mean()), color="gray", linestyle="--", linewidth=1, label="overall")
    ax.legend(loc="lower right", fontsize=8)
    return _save(plt, fig, path)


def vision_plots(x: np.ndarray, y: np.ndarray, proba: np.ndarray, classes: list[str], state: dict, plot_dir: Path) -> list[Path]:
    """All image plots for a classification run; x is the normalised test split (N, C, H, W)."""
    plot_dir = Path(plot_dir)
    out = [sample_grid(x, y, proba, classes, state, plot_dir / "samples.png"),
           top_losses(x, y, proba, classes, state, plot_dir / "top_losses.png"),
           per_class_accuracy(y, proba, classes, plot_dir / "per_class_accuracy.png")]
    return [p for p in out if p is not None]
