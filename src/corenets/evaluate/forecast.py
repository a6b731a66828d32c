"""Forecasts in price units, beside the persistence baseline (tomorrow = today); the forecast plot; recursive forecasts.

A price model that does not beat persistence has learned nothing useful, however
small its RMSE looks, so every forecast report states the ratio
rmse / persistence_rmse (Theil's U2) and says in plain words when it is above 1.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DataError


def forecast_metrics(truth: np.ndarray, pred: np.ndarray, base: np.ndarray) -> dict[str, Any]:
    """RMSE, MAE, MAPE (%) of `pred` and of persistence (`base`, the last known value), and U2 = rmse / persistence rmse.

    Args:
        truth: the true values of the predicted days, (N,).
        pred: the model's forecasts in the same units, (N,).
        base: the last known value before each predicted day, (N,): the persistence forecast.
    """
    truth, pred, base = (np.asarray(a, np.float64) for a in (truth, pred, base))

    def scores(p: np.ndarray) -> dict[str, float]:
        err = p - truth
        nz = truth != 0
        return {"rmse": float(np.sqrt(np.mean(err**2))), "mae": float(np.mean(np.abs(err))),
                "mape": float(np.mean(np.abs(err[nz] / truth[nz])) * 100) if nz.any() else float("nan")}

    model, naive = scores(pred), scores(base)
    u2 = model["rmse"] / naive["rmse"] if naive["rmse"] > 0 else float("inf")
    return {"n": int(len(truth)), **model, "baseline": {"name": "persistence (tomorrow = today)", **naive},
            "rmse_over_persistence": float(u2), "verdict": verdict(u2, model["rmse"], naive["rmse"])}


def verdict(u2: float, rmse: float, naive_rmse: float) -> str:
    if u2 > 1:
        return (f"This forecast LOSES to persistence: simply repeating the last known price gives a lower RMSE "
                f"({naive_rmse:.4g} vs the model's {rmse:.4g}, ratio {u2:.3f}). Do not use it to predict prices.")
    return (f"This forecast beats persistence (repeat the last known price): RMSE {rmse:.4g} vs {naive_rmse:.4g}, "
            f"ratio {u2:.3f}. Ratios near 1 mean it adds little to 'tomorrow = today'.")


def price_forecasts(outputs: Any, bundle: Any, split: str = "test") -> dict[str, np.ndarray]:
    """The model's raw outputs (N, 1) for one split of a price_csv bundle, turned back into prices."""
    from ..data.timeseries import to_prices

    info = bundle.meta["series"][split]
    out = torch.as_tensor(np.asarray(outputs, dtype=np.float64)).reshape(-1)
    y = bundle.preprocessing.inverse_target(out).numpy()
    base = np.asarray(info["base"])
    return {"dates": np.asarray(info["dates"], dtype="datetime64[D]"), "truth": np.asarray(info["truth"]),
            "pred": to_prices(y, base, bundle.meta["target"]), "base": base}


def plot_forecast(bundle: Any, test: dict[str, np.ndarray], path: str | Path) -> Path:
    """The seed's plot: training, validation and predicted prices on one time axis (and the true test prices)."""
    from .plots import _figure, _save

    plt, fig, ax = _figure(figsize=(11, 4.5))
    s = bundle.meta["series"]
    for split, label, style in (("train", "training", "C0-"), ("val", "validation", "C2-")):
        ax.plot(np.asarray(s[split]["dates"], dtype="datetime64[D]"), s[split]["truth"], style, lw=1, label=label)
    ax.plot(test["dates"], test["truth"], "k-", lw=1, label="test (true)")
    ax.plot(test["dates"], test["pred"], "C3-", lw=1, label="test (predicted)")
    ax.set_xlabel("date")
    ax.set_ylabel(bundle.meta.get("column", "value"))
    ax.set_title(f"{bundle.meta.get('dataset', '')}: window {bundle.meta['window']}, horizon {bundle.meta['horizon']}")
    ax.legend(loc="upper left")
    return _save(plt, fig, path)


def evaluate_forecast(outputs: Any, bundle: Any, plot_dir: Path) -> dict[str, Any]:
    """Test metrics in price units with the persistence baseline, and the forecast plot, from raw test outputs."""
    test = price_forecasts(outputs, bundle, "test")
    result = forecast_metrics(test["truth"], test["pred"], test["base"])
    result["target"] = bundle.meta["target"]
    plot_forecast(bundle, test, Path(plot_dir) / "forecast.png")
    bundle.meta.setdefault("notes", []).append(result["verdict"])  # the report prints run notes in plain words
    return result


def recursive_forecast(run: Any, csv: str | Path, steps: int) -> list[tuple[int, float]]:
    """Forecast the next `steps` values after the CSV's last row, feeding each forecast back as an input.

    Each step builds on the previous forecasts, so the error compounds: a warning says so.
    """
    from ..data.timeseries import SeriesPreprocessing, read_series

    pre = run.preprocessing
    if not isinstance(pre, SeriesPreprocessing):
        raise DataError(f"{run.path} is not a price/series run (its data is {pre.kind}); forecast needs a price_csv run")
    s = pre.state
    if steps < 1:
        raise DataError(f"--steps must be >= 1, got {steps}")
    if s["horizon"] != 1:
        raise DataError(f"recursive forecasts need a horizon-1 model; this run predicts {s['horizon']} steps ahead")
    _, prices = read_series(csv, s["column"], s["date_column"], s["missing"])
    if len(prices) < pre.needs:
        raise DataError(f"{Path(csv).name} has {len(prices)} rows; this run needs the last {pre.needs} to forecast")
    if steps > 1:
        warnings.warn(f"a {steps}-step forecast feeds its own predictions back as inputs: the error compounds with each step")
    history = list(prices[-pre.needs:])
    model = run.model.eval()
    out = []
    with torch.no_grad():
        for k in range(1, steps + 1):
            inputs = pre.prepare(np.asarray(history[-pre.needs:]))
            # the kind's one post-processing step (as Run.predict and the server): outputs -> a price
            price = float(pre.outputs(model(inputs.x).reshape(-1).double().numpy(), inputs)[0])
            out.append((k, price))
            history.append(price)
    return out
