"""`Run.show_predictions`: a grid of test inputs titled "predicted / true", as fastai's show_results.

Each cell is drawn by the run's input kind (`Preprocessing.draw`: images as pictures, text as its words, rows
as their numbers), so this module never asks which kind it holds. The figure is a plain matplotlib Figure,
made without pyplot: Jupyter shows it inline and the session's backend is left alone.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def reload_data(cfg: Any):
    """The run's DataBundle, loaded again from its config: the same dataset, options and split."""
    from .data import load_dataset
    from .data.bundle import SplitSpec

    return load_dataset(cfg.data.name, SplitSpec.of_config(cfg), **cfg.data.options)


def titles(out: np.ndarray, y: np.ndarray, task: str, classes: list[str] | None, inverse) -> tuple[list[str], list[bool]]:
    """'predicted / true' for each row, and whether the prediction is wrong; regression in the target's units."""
    if task == "regression":
        import torch

        pred = inverse(torch.from_numpy(out.reshape(-1).astype(np.float64))).numpy()
        true = inverse(torch.from_numpy(np.asarray(y, np.float64))).numpy()
        return [f"{p:.4g} / {t:.4g}" for p, t in zip(pred, true)], [False] * len(pred)
    from .evaluate.metrics import probabilities

    proba = probabilities(out, task)
    pred = proba.argmax(1)
    return ([f"{classes[p]} / {classes[t]}  ({proba[i, p]:.2f})" for i, (p, t) in enumerate(zip(pred, y))],
            list(pred != np.asarray(y)))


def _grid_class():
    from matplotlib.figure import Figure

    class Grid(Figure):
        """A Figure Jupyter shows inline whatever the session's matplotlib backend (corenets' plots use Agg)."""

        def _repr_png_(self) -> bytes:
            import io

            from matplotlib.backends.backend_agg import FigureCanvasAgg

            buf = io.BytesIO()
            FigureCanvasAgg(self).print_png(buf)
            return buf.getvalue()

    return Grid


def predictions_figure(kind: Any, x: np.ndarray, heads: list[str], wrong: list[bool], cols: int = 4):
    """(N, ...) model inputs drawn by `kind`, one cell each, titled with `heads`; wrong ones in red."""
    n = len(x)
    cols = max(1, min(cols, n))
    rows = max(1, math.ceil(n / cols))
    fig = _grid_class()(figsize=(3.0 * cols, 2.8 * rows))
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, xi, head, bad in zip(axes, x, heads, wrong):
        kind.draw(ax, xi)
        ax.set_title(head, fontsize=8, color="red" if bad else "black")
    fig.suptitle("predicted / true (probability of the prediction)", fontsize=9)
    fig.tight_layout()
    return fig


def show_predictions(run: Any, n: int = 16, data: Any = None):
    """The first `n` test inputs of `run`, drawn by its input kind and titled 'predicted / true'.

    Args:
        run: a runs.Run.
        n: how many test rows (the first n: a fixed, reproducible choice).
        data: the run's DataBundle if at hand; default: loaded again from the run's config.yaml.
    Returns:
        A matplotlib Figure (shown inline in Jupyter; `fig.savefig(path)` writes it).
    """
    from .record import eval_batch_size
    from .train.loop import predict_outputs

    if n < 1:
        from .errors import ConfigError

        raise ConfigError(f"show_predictions needs n >= 1, got {n}")
    bundle = data if data is not None else reload_data(run.config)
    x, y = bundle.test.x[:n], bundle.test.y[:n].numpy()
    out = predict_outputs(run.scorer, x, eval_batch_size(run.path)).numpy()
    heads, wrong = titles(out, y, run.task, run.classes, run.preprocessing.inverse_target)
    return predictions_figure(run.preprocessing, x.numpy(), heads, wrong)
