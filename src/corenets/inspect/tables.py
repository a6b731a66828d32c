"""Table views (MLP, or an LSTM reading features as steps): per-feature integrated gradients for a row, and
scikit-learn's permutation importance on the test split, scored with the run's own model and metric."""

from __future__ import annotations

import numpy as np
import torch

from ..data.bundle import Preprocessing
from .core import Figure, Section, Subject, integrated_gradients, png, pyplot
from .views import KindViews, views_for


def feature_names(kind, n: int) -> list[str]:
    names = getattr(kind, "feature_names", None)
    try:
        got = list(names()) if callable(names) else []
    except (KeyError, TypeError):
        got = []
    return got if len(got) == n else [f"x{i}" for i in range(n)]


class _Scored:
    """A fitted-estimator face for sklearn.inspection.permutation_importance: 2-D rows -> the run's scorer."""

    def __init__(self, subject: Subject, shape: tuple[int, ...]):
        self.s, self.shape = subject, shape

    def fit(self, *a):  # sklearn checks for it; the model is trained already
        return self

    def score(self, X, y) -> float:
        out = self.s.outputs(torch.as_tensor(np.asarray(X, dtype=np.float32)).reshape(-1, *self.shape)).numpy()
        if self.s.task == "regression":
            return -float(np.sqrt(np.mean((out.reshape(-1) - y) ** 2)))  # higher is better, as sklearn wants
        from ..evaluate.metrics import probabilities

        return float((probabilities(out, self.s.task).argmax(1) == y).mean())


def permutation(subject: Subject, x: torch.Tensor, y: np.ndarray, repeats: int = 5, seed: int = 0):
    """scikit-learn's permutation importance: (mean, std) of the score drop per feature, and the metric's name."""
    from sklearn.inspection import permutation_importance

    est = _Scored(subject, tuple(x.shape[1:]))
    got = permutation_importance(est, x.reshape(len(x), -1).numpy(), y, scoring=lambda e, X, t: e.score(X, t),
                                 n_repeats=repeats, random_state=seed)
    return got.importances_mean, got.importances_std, "RMSE (scaled)" if subject.task == "regression" else "accuracy"


def _bars(ax, names: list[str], values: np.ndarray, err=None, top: int = 20) -> None:
    order = np.argsort(-np.abs(values))[:top][::-1]
    ax.barh(range(len(order)), values[order], xerr=None if err is None else err[order],
            color=np.where(values[order] >= 0, "tab:red", "tab:blue"))
    ax.set_yticks(range(len(order)), [names[i] for i in order], fontsize=7)


@views_for(Preprocessing)
class TableViews(KindViews):
    def explain(self, x, labels, names, base=None):
        pred, proba = self.predicted(x)
        n = int(np.prod(x.shape[1:]))
        feats = feature_names(self.s.kind, n)
        plt = pyplot()
        fig, axes = plt.subplots(1, len(x), figsize=(4.2 * len(x), 0.25 * min(n, 20) + 1.2), squeeze=False)
        results = []
        for r in range(len(x)):
            cls = int(pred[r]) if proba is not None else 0
            attr = integrated_gradients(self.s, x[r:r + 1], cls)[0].reshape(-1)
            _bars(axes[0, r], feats, attr)
            axes[0, r].set_title(self.title(names[r], pred[r], proba[r] if proba is not None else None, labels[r]), fontsize=8)
            results.append({"class": self.s.class_name(cls) if proba is not None else None, "features": feats,
                            "attribution": np.round(attr, 6).tolist()})
        fig.subplots_adjust(wspace=0.9)  # room for the feature names; not tight_layout, which costs as much as drawing
        text = ("Integrated gradients per feature (baseline: the training mean, which standardised features read as 0): "
                "red pushed towards the prediction, blue against; the 20 largest shown.")
        return [Section("Why the model answered as it did", text, [Figure("features.png", text, png(fig))])], results

    def overview(self, x, y, proba):
        mean, std, metric = permutation(self.s, x, y)
        feats = feature_names(self.s.kind, len(mean))
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6, 0.25 * min(len(mean), 20) + 1.2))
        _bars(ax, feats, mean, std)
        ax.set(xlabel=f"drop in test {metric} when the feature is shuffled")
        text = (f"Permutation importance on the test split ({len(x)} rows; scikit-learn's, 5 shuffles per feature, "
                f"scored with this run's model and {metric}): how much the score falls when one feature's values "
                "are shuffled. Correlated features share their importance.")
        sections = [Section("Which features matter", text, [Figure("permutation_importance.png", text, png(fig))])]
        return sections + super().overview(x, y, proba)
