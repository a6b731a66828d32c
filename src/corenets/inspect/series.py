"""Series views: integrated gradients over the input window (which past days mattered) for a forecast, beside the
persistence baseline (tomorrow = today)."""

from __future__ import annotations

import numpy as np
import torch

from ..data.timeseries import SeriesPreprocessing
from .core import Figure, Section, integrated_gradients, png, pyplot
from .views import KindViews, views_for


@views_for(SeriesPreprocessing)
class SeriesViews(KindViews):
    def pick(self, y, proba, mistakes: int = 3, per_class: int = 0):
        return list(range(max(0, len(y) - mistakes), len(y)))  # the latest test windows

    def explain(self, x, labels, names, base=None):
        out = self.s.outputs(x).numpy().reshape(-1)
        target = self.s.kind.state["target"]
        plt = pyplot()
        fig, axes = plt.subplots(len(x), 1, figsize=(7, 2.2 * len(x)), squeeze=False)
        results = []
        for r in range(len(x)):
            attr = integrated_gradients(self.s, x[r:r + 1], 0)[0].reshape(-1)
            lags = np.arange(-len(attr) + 1, 1)
            ax = axes[r, 0]
            ax.bar(lags, attr, color=np.where(attr >= 0, "tab:red", "tab:blue"))
            ax.set(xlabel="day (0 = the last known day)", ylabel="attribution")
            value = self.s.kind.inverse_target(torch.tensor([out[r]], dtype=torch.float64)).item()
            head = f"{names[r]}: forecast {target} {value:+.4g}"
            row = {"lags": lags.tolist(), "attribution": np.round(attr, 6).tolist(), "forecast": value}
            if base is not None:
                from ..data.timeseries import to_prices

                price = float(to_prices(np.array([value]), base[r:r + 1], target)[0])
                head += f" -> price {price:.4g}; persistence {base[r]:.4g}"
                row.update(price=price, persistence=float(base[r]))
            ax.set_title(head, fontsize=8)
            results.append(row)
        fig.subplots_adjust(wspace=0.3, hspace=0.6)  # not tight_layout: it costs as much as drawing
        text = ("Integrated gradients over the input window (baseline: the training mean): which past days moved the "
                "forecast up (red) or down (blue). Persistence, the baseline every forecast is scored against, "
                "says tomorrow's price is today's.")
        return [Section("Which past days mattered", text, [Figure("window.png", text, png(fig))])], results

    def overview(self, x, y, proba):
        n = min(len(x), 100)
        attr = np.stack([np.abs(integrated_gradients(self.s, x[i:i + 1], 0)[0].reshape(-1)) for i in range(n)])
        lags = np.arange(-attr.shape[1] + 1, 1)
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(7, 2.6))
        ax.bar(lags, attr.mean(0), color="tab:purple")
        ax.set(xlabel="day (0 = the last known day)", ylabel="mean |attribution|")
        text = f"Mean absolute integrated gradients per day of the window over {n} test windows: how far back the model looks."
        return [Section("How far back it looks", text, [Figure("window_importance.png", text, png(fig))])]
