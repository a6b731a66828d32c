"""Prices and any dated series: a CSV -> sliding windows -> a chronological train/val/test split.

Sample i looks at the `window` values that end on day t and predicts day t + horizon.
The split is by the predicted day: the last `test_fraction` (20%) of the CSV's rows are
the test targets (as the seed's 80/20 split), and validation is the end of the
training part. The scaler is fitted on the training samples only.

``target`` chooses what the model learns:
  auto         (the default) price or delta, whichever a quick trial prefers on the
               validation split (choose_target); the report says which and why.
  price        the value itself (standardised). A model cannot extrapolate past the
               training range, which a rising price soon leaves.
  delta        p[t+h] - p[t], with step-to-step differences as inputs: any series,
               including one that crosses zero (temperatures, balances).
  returns      p[t+h] / p[t] - 1, with daily returns as inputs (positive series);
  log_returns  log(p[t+h] / p[t]), with daily log returns as inputs (positive series).
Predictions are always turned back into prices (p[t] + d, p[t] * (1 + r) or p[t] * exp(r))
before RMSE, MAE and MAPE are computed, beside the persistence forecast p[t+h] = p[t].
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from ..errors import DataError, InputError
from . import DATASETS
from .bundle import CliInputs, DataBundle, Inputs, Limits, Preprocessing, Split, SplitSpec

Target = Literal["auto", "price", "delta", "returns", "log_returns"]
RATIOS = ("returns", "log_returns")  # targets that divide by the last price: positive series only
UNITS = {"price": "price", "delta": "change in value", "returns": "return", "log_returns": "log return"}
EXAMPLE_CSV = Path(__file__).resolve().parent.parent / "examples" / "msft_excerpt.csv"


def _features(prices: np.ndarray, target: str) -> np.ndarray:
    """The input series, aligned with `prices` (NaN where undefined: the first day's return)."""
    if target == "price":
        return prices.astype(np.float64)
    f = np.full(len(prices), np.nan)
    if target == "delta":
        f[1:] = np.diff(prices)
    else:
        f[1:] = prices[1:] / prices[:-1] - 1 if target == "returns" else np.log(prices[1:] / prices[:-1])
    return f


def _to_target(future: np.ndarray, base: np.ndarray, target: str) -> np.ndarray:
    if target == "price":
        return future
    if target == "delta":
        return future - base
    return future / base - 1 if target == "returns" else np.log(future / base)


def to_prices(y: np.ndarray, base: np.ndarray, target: str) -> np.ndarray:
    """Targets in the user's units (after inverse scaling) -> prices, given the last known price."""
    if target == "price":
        return y
    if target == "delta":
        return base + y
    return base * (1 + y) if target == "returns" else base * np.exp(y)


class SeriesPreprocessing(Preprocessing):
    """Prices -> standardised windows (N, window, 1); the scaler is the training part's mean and std."""

    kind = "series"
    classical_baseline = "series"  # evaluate/baselines.py: a linear autoregression on the window
    input_name = "series"

    @property
    def needs(self) -> int:
        """Prices needed per forecast: the window (plus one day to form the first return)."""
        return self.state["window"] + (self.state["target"] != "price")

    def windows(self, prices: np.ndarray) -> torch.Tensor:
        """(N, needs) raw prices -> (N, window, 1) model inputs."""
        s = self.state
        f = np.stack([_features(row, s["target"])[-s["window"]:] for row in prices])
        return torch.from_numpy(((f - s["mean"]) / s["std"])[..., None].astype(np.float32))

    def prices(self, raw: Any) -> np.ndarray:
        """Any raw series form -> (N, needs) prices: the last `needs` prices (a list, array, tensor or pandas
        Series), rows of exactly `needs` prices (2-D), a CSV path or a DataFrame with the training value column
        (its last window)."""
        import pandas as pd

        s = self.state
        if isinstance(raw, (str, Path)):
            raw = read_series(raw, s["column"], s["date_column"], s["missing"])[1]
        elif isinstance(raw, pd.DataFrame):
            if s["column"] not in raw.columns:
                raise InputError(f"the table has no value column '{s['column']}'; its columns are: "
                                 f"{', '.join(map(str, raw.columns))}")
            raw = raw[s["column"]]
        if isinstance(raw, torch.Tensor):
            raw = raw.detach().cpu().numpy()
        try:
            arr = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise InputError("prices must be numbers: give a list of the last prices, or rows of them") from None
        if arr.ndim == 1:
            if len(arr) < self.needs:
                raise InputError(f"this run needs the last {self.needs} prices to forecast, got {len(arr)}")
            arr = arr[None, -self.needs:]
        if arr.ndim != 2 or arr.shape[1] != self.needs:
            raise InputError(f"expected rows of {self.needs} prices (window {s['window']}), got shape {arr.shape}")
        if not np.isfinite(arr).all() or (s["target"] in RATIOS and (arr <= 0).any()):
            raise InputError("the prices hold missing, infinite or (for returns) non-positive values")
        return arr

    def transform(self, raw: Any) -> torch.Tensor:
        """Any form prices() reads -> (N, window, 1) model inputs."""
        return self.windows(self.prices(raw))

    def prepare(self, raw: Any, units: str | None = None) -> Inputs:
        if units is not None:
            return super().prepare(raw, units)  # refuses, saying why
        arr = self.prices(raw)
        return Inputs(self.windows(arr), base=arr[:, -1])

    def outputs(self, y: np.ndarray, inputs: Inputs) -> np.ndarray:
        """Raw outputs -> prices: the target's units (a price, a return or a log return), then from the last input
        price to a price. The one step every entry point (predict, serve, forecast, export's document) uses."""
        value = super().outputs(y, inputs)
        return to_prices(value, inputs.base, self.state["target"])

    # ---------------------------------------------------------------- entry points

    def cli_inputs(self, args: list[str]) -> CliInputs:
        if len(args) != 1:
            raise InputError(f"predict on a series run takes one CSV file (its last rows are the window), got {len(args)}")
        return CliInputs(args[0])

    def http_body(self, limits: Limits) -> Any:
        from .http_body import Number, body_model, bounded_list

        return body_model("SeriesBody", f"At least the last {self.needs} prices, oldest first.",
                          prices=(bounded_list(Number, limits, "max_prices", "prices", least=self.needs), ...))

    def http_json(self, body: Any, limits: Limits) -> np.ndarray:
        prices = body.get("prices") if isinstance(body, dict) else body
        if not isinstance(prices, list) or not prices:
            raise InputError(f'send JSON {{"prices": [...]}} with at least the last {self.needs} prices')
        if not all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in prices):
            raise InputError("prices must be numbers, e.g. {\"prices\": [410.2, 411.0, ...]}")
        return self.prices(prices)

    def http_files(self, files: list[tuple[str, bytes]], limits: Limits) -> np.ndarray:
        """A CSV with the training date and value columns; its last window."""
        import tempfile

        from .bundle import _one_csv

        _one_csv(files, self, limits, "max_prices")  # one file, not empty, a CSV, at most --max-prices lines
        s = self.state
        with tempfile.NamedTemporaryFile(suffix=".csv") as f:  # read_series reads a path, with its own checks
            f.write(files[0][1])
            f.flush()
            try:
                return self.prices(read_series(f.name, s["column"], s["date_column"], s["missing"])[1])
            except DataError as e:
                raise InputError(str(e).replace(Path(f.name).name, files[0][0])) from None

    def card(self, limits: Limits) -> dict[str, Any]:
        s = self.state
        return {"series": {"prices_needed": self.needs, "window": s["window"], "horizon": s["horizon"],
                           "column": s["column"], "date_column": s["date_column"], "target": s["target"]}}

    def hint(self) -> str:
        return 'POST a CSV with the date and value columns as field \'file\', or JSON {"prices": [...]}'

    def document(self, task: str) -> dict[str, Any]:
        s = self.state
        feature = {"price": "f[i] = p[i]", "delta": "f[i] = p[i] - p[i-1]", "returns": "f[i] = p[i] / p[i-1] - 1",
                   "log_returns": "f[i] = ln(p[i] / p[i-1])"}[s["target"]]
        to_price = {"price": "price = v", "delta": "price = last_price + v", "returns": "price = last_price * (1 + v)",
                    "log_returns": "price = last_price * exp(v)"}[s["target"]]
        return {
            "kind": "series",
            "raw_input": {"type": "prices", "needs": self.needs,
                          "text": f"the last {self.needs} prices (or more; the last {self.needs} are read), oldest "
                                  "first" + (", all > 0" if s["target"] in RATIOS else "")},
            "steps": [{"op": "series_window", "needs": self.needs, "window": s["window"], "feature": s["target"],
                       "mean": float(s["mean"]), "std": float(s["std"]),
                       "text": f"p = the last `needs` prices; {feature}; x = (f - mean) / std over the last `window` "
                               "values of f, oldest first, shaped (window, 1), float32"}],
            "postprocess": {"op": "price", "scale": float(s["target_std"]), "shift": float(s["target_mean"]),
                            "target": s["target"], "horizon": s["horizon"],
                            "text": f"v = o[0] * scale + shift; {to_price}, where last_price is the last input "
                                    f"price: the answer is the price {s['horizon']} step(s) after it"},
        }

    def examples(self, x: torch.Tensor) -> list[Any]:
        """Price lists whose windows are the model inputs (N, window, 1): un-standardised, then (for returns)
        compounded from a first price of 100."""
        s = self.state
        f = x[:8, :, 0].double().numpy() * s["std"] + s["mean"]
        if s["target"] == "price":
            return f.tolist()
        if s["target"] == "delta":
            return (100.0 + np.cumsum(np.concatenate([np.zeros((len(f), 1)), f], axis=1), axis=1)).tolist()
        steps = 1 + f if s["target"] == "returns" else np.exp(f)
        return (100.0 * np.cumprod(np.concatenate([np.ones((len(f), 1)), steps], axis=1), axis=1)).tolist()


def read_series(path: str | Path, column: str, date_column: str, missing: str) -> tuple[np.ndarray, np.ndarray]:
    """Dates (datetime64, sorted) and values from a CSV; clear errors for bad dates and gaps."""
    import pandas as pd

    from .tabular import read_csv

    path = Path(path)
    df = read_csv(path)
    for role, col in (("date", date_column), ("value", column)):
        if col not in df.columns:
            key = "date_column" if role == "date" else "column"
            raise DataError(f"{path.name} has no {role} column '{col}'; its columns are: {', '.join(map(str, df.columns))}; set data.{key}=NAME")
    dates = pd.to_datetime(df[date_column], errors="coerce")
    bad = np.flatnonzero(dates.isna().to_numpy())
    if len(bad):
        shown = ", ".join(f"line {i + 2}: {df[date_column].iloc[i]!r}" for i in bad[:3])
        raise DataError(f"{len(bad)} date(s) in '{date_column}' cannot be parsed ({shown}); fix or remove those rows")
    dup = dates[dates.duplicated()]
    if len(dup):
        raise DataError(f"{len(dup)} duplicate date(s) in '{date_column}', first {dup.iloc[0].date()}; keep one row per date")
    values = pd.to_numeric(df[column], errors="coerce")
    if not dates.is_monotonic_increasing:
        warnings.warn(f"{path.name} is not in date order; its rows were sorted by '{date_column}'")
        order = np.argsort(dates.to_numpy(), kind="stable")
        dates, values = dates.iloc[order], values.iloc[order]
    values = values.reset_index(drop=True)
    dates = dates.reset_index(drop=True)
    inf = np.isinf(values.to_numpy(dtype=np.float64))
    if inf.any():  # an inf price makes every window around it nan: refused, or carried over like a gap
        if missing != "ffill":
            raise DataError(f"{int(inf.sum())} non-finite value(s) (inf) in '{column}', first on "
                            f"{dates[inf].iloc[0].date()}; replace them, or use --set data.missing=ffill")
        values = values.mask(pd.Series(inf))
    gaps = values.isna()
    if gaps.any():
        if missing != "ffill":
            first = dates[gaps].iloc[0].date()
            raise DataError(
                f"{int(gaps.sum())} missing or non-numeric value(s) in '{column}', first on {first}; "
                "fill them, or use --set data.missing=ffill (carry the last known value forward)"
            )
        values = values.ffill()
        lead = int(values.isna().sum())  # nothing to carry before the first value: drop those days
        if lead:
            warnings.warn(f"the first {lead} row(s) have no value to carry forward; they were dropped")
        keep = values.notna().to_numpy()
        dates, values = dates[keep], values[keep]
    return dates.to_numpy(), values.to_numpy(dtype=np.float64)


@DATASETS.register()
def price_csv(
    spec: SplitSpec,
    path: str = "",
    column: str = "Close",
    date_column: str = "Date",
    window: int = 60,
    horizon: int = 1,
    target: Target = "auto",
    missing: Literal["error", "ffill"] = "error",
) -> DataBundle:
    """A dated series (Yahoo/Kaggle OHLCV CSV, or any date + value columns) as windows; chronological split."""
    if window < 1 or horizon < 1:
        raise DataError(f"data.window={window} and data.horizon={horizon} must both be >= 1")
    csv = Path(path) if path else EXAMPLE_CSV  # the shipped MSFT excerpt, so the recipe runs out of the box
    dates, prices = read_series(csv, column, date_column, missing)
    if target in RATIOS and (prices <= 0).any():
        raise DataError(f"data.target={target} needs positive values, but '{column}' has {int((prices <= 0).sum())} "
                        "<= 0; use target=delta (step-to-step differences) or auto")
    make = lambda t: _windows(csv, dates, prices, spec, window, horizon, t, column, date_column, missing)  # noqa: E731
    if target != "auto":
        return make(target)
    from .forecast_target import choose_target

    trials = {t: make(t) for t in ("price", "delta")}
    chosen, why = choose_target(trials)
    bundle = trials[chosen]
    bundle.meta["target_choice"] = why
    bundle.meta.setdefault("notes", []).append(why)
    return bundle


def _windows(csv: Path, dates: np.ndarray, prices: np.ndarray, spec: SplitSpec, window: int, horizon: int,
             target: str, column: str, date_column: str, missing: str) -> DataBundle:
    """The series as (N, window, 1) windows of `target`'s features, split by the predicted day."""
    n = len(prices)
    first_t = window - 1 + (target != "price")  # the first day whose window is complete
    t_all = np.arange(first_t, n - horizon)  # the last observed day of each sample
    split_row = int(n * (1 - spec.test_fraction))  # test targets are the last rows, as the seed's 80/20
    is_test = t_all + horizon >= split_row
    n_test, n_rest = int(is_test.sum()), int((~is_test).sum())
    n_val = int(round(n_rest * spec.val_fraction))
    if n_test < 2 or n_rest - n_val < 2 or n_val < 1:
        need = int(np.ceil((first_t + horizon + 6) / (1 - spec.test_fraction)))
        raise DataError(
            f"{csv.name} has {n} rows: too few for window {window} + horizon {horizon} and a "
            f"{spec.test_fraction:.0%} test split ({n_rest} training and {n_test} test windows); "
            f"give at least ~{need} rows or a smaller data.window"
        )
    n_train = n_rest - n_val
    feats = _features(prices, target)
    base = prices[t_all]
    y_raw = _to_target(prices[t_all + horizon], base, target)
    train_t = t_all[:n_train]
    # Scaler: the training samples' inputs only (up to the last training day); never validation or test rows.
    seen = feats[first_t - window + 1 : train_t[-1] + 1]
    mean, std = float(np.nanmean(seen)), float(np.nanstd(seen) or 1.0)
    t_mean, t_std = float(y_raw[:n_train].mean()), float(y_raw[:n_train].std() or 1.0)
    pre = SeriesPreprocessing(
        window=window, horizon=horizon, target=target, mean=mean, std=std, target_mean=t_mean, target_std=t_std,
        column=column, date_column=date_column, missing=missing,
    )
    idx = t_all[:, None] + np.arange(-window + 1, 1)[None, :]  # (N, window) day indices
    x = torch.from_numpy(((feats[idx] - mean) / std)[..., None].astype(np.float32))  # (N, window, 1)
    y = torch.from_numpy(((y_raw - t_mean) / t_std).astype(np.float32))
    parts = {"train": slice(0, n_train), "val": slice(n_train, n_rest), "test": slice(n_rest, None)}
    day = lambda a: [str(d)[:10] for d in a]  # noqa: E731
    series = {
        # what forecast metrics and the plot need, per split: the predicted day, its true price, the last known price
        k: {"dates": day(dates[t_all[s] + horizon]), "truth": prices[t_all[s] + horizon].tolist(), "base": base[s].tolist()}
        for k, s in parts.items()
    }
    return DataBundle(
        train=Split(x[parts["train"]], y[parts["train"]]), val=Split(x[parts["val"]], y[parts["val"]]),
        test=Split(x[parts["test"]], y[parts["test"]]), task="regression", input_shape=(window, 1),
        preprocessing=pre,
        meta={"dataset": f"price_csv:{csv.name}", "column": column, "target": target, "window": window,
              "horizon": horizon, "rows": n, "series": series, "target_unit": UNITS[target]},
    )
