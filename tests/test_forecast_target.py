"""data.target=delta (any series, zero crossings included) and auto (price or delta, chosen on validation)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from corenets.data import SplitSpec, load_dataset
from corenets.data.timeseries import EXAMPLE_CSV, _to_target, to_prices
from corenets.errors import DataError

SPEC = SplitSpec(seed=0, val_fraction=0.1, test_fraction=0.2)


def temperatures(n: int = 1095, seed: int = 0) -> pd.DataFrame:
    """A daily-temperature-like series that crosses zero: a seasonal mean and AR(1) weather, three years."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    weather = np.zeros(n)
    for i in range(1, n):
        weather[i] = 0.75 * weather[i - 1] + rng.normal(0, 2.5)
    return pd.DataFrame({"Date": pd.date_range("2021-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
                         "temp": np.round(8 + 12 * np.sin(2 * np.pi * (t - 100) / 365.25) + weather, 1)})


@pytest.fixture
def temps_csv(tmp_path) -> Path:
    path = tmp_path / "temps.csv"
    temperatures().to_csv(path, index=False)
    return path


def test_delta_is_the_step_to_step_change_and_returns_to_values():
    future, base = np.array([-1.5, 2.0, 0.0]), np.array([1.0, -3.0, 0.5])
    d = _to_target(future, base, "delta")
    assert d.tolist() == [-2.5, 5.0, -0.5]
    assert to_prices(d, base, "delta").tolist() == future.tolist()


def test_a_series_crossing_zero_trains_on_delta_and_refuses_returns(temps_csv):
    with pytest.raises(DataError, match="use target=delta"):  # returns divide by the last value
        load_dataset("price_csv", SPEC, path=str(temps_csv), column="temp", target="log_returns")
    b = load_dataset("price_csv", SPEC, path=str(temps_csv), column="temp", target="delta", window=5)
    temps = pd.read_csv(temps_csv)["temp"].to_numpy()
    pre = b.preprocessing
    assert pre.needs == 6 and b.meta["target_unit"] == "change in value"
    # the inputs are standardised differences of the window; the kind's outputs() adds the model's delta back
    x = b.train.x[0, :, 0].double().numpy() * pre.state["std"] + pre.state["mean"]
    assert x == pytest.approx(np.diff(temps[:6]), abs=1e-4)
    inputs = pre.prepare(temps[:6])  # negative values are fine for a delta
    y = np.array([(2.0 - pre.state["target_mean"]) / pre.state["target_std"]])  # a raw output meaning "+2.0"
    assert pre.outputs(y, inputs) == pytest.approx([temps[5] + 2.0])


def test_auto_chooses_delta_for_a_trending_price_and_says_so():
    b = load_dataset("price_csv", SPEC)  # the shipped MSFT excerpt rises out of its training range
    assert b.meta["target"] == "delta" and b.preprocessing.state["target"] == "delta"
    assert b.meta["target_choice"].startswith("data.target=auto chose 'delta'")
    assert b.meta["target_choice"] in b.meta["notes"]  # the report prints the run's notes


def test_auto_keeps_the_level_where_the_level_predicts(tmp_path):
    # climbs by ~1 a day and falls to 0 once past 10: the next value depends on the level, which a 3-day window of
    # differences rarely shows (only when it holds the fall), so the delta loses and the level is kept
    rng = np.random.default_rng(1)
    x = [0.0]
    for _ in range(599):
        x.append(x[-1] + rng.uniform(0.5, 1.5) if x[-1] < 10 else 0.0)
    path = tmp_path / "saw.csv"
    pd.DataFrame({"Date": pd.date_range("2020-01-01", periods=600, freq="D").strftime("%Y-%m-%d"),
                  "Close": np.round(x, 3)}).to_csv(path, index=False)
    b = load_dataset("price_csv", SPEC, path=str(path), window=3)
    assert b.meta["target"] == "price" and "chose 'price'" in b.meta["target_choice"]


def _forecast_run(tmp_path, csv: Path, column: str, epochs: int = 10) -> dict:
    from corenets.cli import main

    out = tmp_path / "runs"
    assert main(["run", "--data", "price_csv", "--model", "lstm", "--set", f"data.path={csv}", "--set",
                 f"data.column={column}", "--epochs", str(epochs), "--threads", "1", "--out", str(out)]) == 0
    run = next(out.iterdir())
    return {"metrics": json.loads((run / "metrics.json").read_text()), "report": (run / "report.md").read_text()}


def test_the_report_says_which_target_auto_chose(tmp_path, temps_csv):
    r = _forecast_run(tmp_path, temps_csv, "temp", epochs=1)
    assert r["metrics"]["test"]["target"] == "delta"
    assert "data.target=auto chose 'delta'" in r["report"]
    assert "Forecast target: delta" in r["report"]


@pytest.mark.slow
@pytest.mark.parametrize("series", ["msft_excerpt", "temperatures"])
def test_generic_lstm_forecast_is_within_2_percent_of_persistence(tmp_path, temps_csv, series):
    csv, column = (EXAMPLE_CSV, "Close") if series == "msft_excerpt" else (temps_csv, "temp")
    m = _forecast_run(tmp_path, csv, column)["metrics"]["test"]
    assert m["rmse_over_persistence"] <= 1.02, m["rmse_over_persistence"]
