"""Images read as rows by a recurrent model (RNN, LSTM, GRU): attribution per row (time step) and the hidden-state
norm per step. Registered for the sequence view (`data.as_sequence: rows`); a table read feature by feature
(`as_sequence: features`) is handed to the table views."""

from __future__ import annotations

import numpy as np
import torch

from ..data.sequence import SequencePreprocessing
from .core import Figure, Section, Subject, diverging, integrated_gradients, png, pyplot
from .views import KindViews, views_for


def hidden_norms(model, x1: torch.Tensor) -> np.ndarray:
    """(T,) the norm of the top layer's hidden state at each step for one float input x1 (1, ...)."""
    with torch.no_grad():
        out, _ = model.rnn(model._as_sequence(x1.float()))  # (1, T, D*H)
    return out[0].norm(dim=-1).numpy()


@views_for(SequencePreprocessing)
class RowViews(KindViews):
    @classmethod
    def make(cls, subject: Subject) -> KindViews:
        if subject.kind.state.get("mode") == "features":
            from .tables import TableViews

            return TableViews(subject)
        return cls(subject)

    def image(self, x1: torch.Tensor, attr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(H, W) pixels to show and the attribution summed per pixel, whichever layout the model reads."""
        inner = getattr(self.s.kind, "inner", self.s.kind)
        shape = getattr(inner, "shape", None)
        a = np.asarray(attr)
        if a.ndim == 2 and shape is not None:  # (H, W*C) rows -> (H, W)
            c, h, w = shape
            a = a.reshape(h, w, c).sum(-1)
            img = x1[0].reshape(h, w, c).numpy().mean(-1)
        else:  # (C, H, W)
            a = a.sum(0)
            img = x1[0].numpy().mean(0)
        return img, a

    def explain(self, x, labels, names, base=None):
        pred, proba = self.predicted(x)
        plt = pyplot()
        fig, axes = plt.subplots(len(x), 3, figsize=(8, 2.2 * len(x)), squeeze=False)
        results = []
        for r in range(len(x)):
            cls = int(pred[r]) if proba is not None else 0
            attr, _ = integrated_gradients(self.s, x[r:r + 1], cls)
            img, a = self.image(x[r:r + 1], attr)
            per_row, norms = a.sum(1), hidden_norms(self.s.base, x[r:r + 1])
            axes[r, 0].imshow(img, cmap="gray")
            axes[r, 0].axis("off")
            axes[r, 0].set_title(self.title(names[r], pred[r], proba[r] if proba is not None else None, labels[r]), fontsize=7)
            lo, hi = diverging(per_row)
            axes[r, 1].barh(np.arange(len(per_row)), per_row, color=np.where(per_row >= 0, "tab:red", "tab:blue"))
            axes[r, 1].set(xlim=(lo, hi), ylim=(len(per_row) - 0.5, -0.5), title="IG per row (step)", ylabel="row")
            axes[r, 2].plot(norms, np.arange(len(norms)), "-o", ms=2)
            axes[r, 2].set(ylim=(len(norms) - 0.5, -0.5), title="hidden-state norm per step")
            results.append({"class": self.s.class_name(cls), "per_step": np.round(per_row, 6).tolist(),
                            "hidden_norm": np.round(norms, 5).tolist()})
        fig.subplots_adjust(wspace=0.3, hspace=0.6)  # not tight_layout: it costs as much as drawing
        text = ("The model reads each image row as one time step. Integrated gradients summed per row say which rows "
                "moved the predicted class (red for, blue against); the hidden state's norm shows when the network "
                "stores something.")
        return [Section("Why the model answered as it did", text, [Figure("rows.png", text, png(fig))])], results
