"""End to end on the shipped MSFT excerpt: train stock-lstm briefly, report vs persistence, forecast recursively."""

import json

import numpy as np
import pytest

from corenets.data.timeseries import EXAMPLE_CSV
from corenets.errors import DataError


@pytest.fixture(scope="module")
def stock_run(tmp_path_factory):
    from corenets.config import apply_overrides
    from corenets.experiment import run_config
    from corenets.recipes import load_recipe

    out = tmp_path_factory.mktemp("runs")
    cfg = apply_overrides(load_recipe("stock-lstm"), ["train.epochs=1", f"out={out}", "model.hidden_size=8"])
    return run_config(cfg, quiet=True)


def test_report_is_in_prices_beside_persistence(stock_run):
    m = json.loads((stock_run / "metrics.json").read_text())["test"]
    assert m["baseline"]["name"].startswith("persistence")
    # persistence on the excerpt's last 100 closes, computed from the file
    import pandas as pd

    close = pd.read_csv(EXAMPLE_CSV)["Close"].to_numpy()
    truth, base = close[400:], close[399:-1]
    assert m["baseline"]["rmse"] == pytest.approx(np.sqrt(np.mean((truth - base) ** 2)))
    assert m["rmse_over_persistence"] == pytest.approx(m["rmse"] / m["baseline"]["rmse"])
    assert m["rmse"] > 0.05  # price units (dollars), not scaled log returns (~0.01)
    assert (stock_run / "plots" / "forecast.png").is_file()


def test_forecast_command(stock_run, capsys):
    from corenets.cli import main

    assert main(["forecast", str(stock_run), str(EXAMPLE_CSV), "--steps", "3"]) == 0
    out = capsys.readouterr().out
    assert "error compounds" in out and sum(line.startswith("step ") for line in out.splitlines()) == 3
    last = float(out.split("Close ")[1].split()[0])
    first = float(out.split("step   1")[1].split(": ")[1].split()[0])
    assert abs(first / last - 1) < 0.2  # a one-day forecast stays near the last close


def test_forecast_rejects_bad_input(stock_run, tmp_path):
    from corenets.evaluate.forecast import recursive_forecast
    from corenets.runs import load_run

    run = load_run(stock_run)
    short = tmp_path / "short.csv"
    short.write_text("Date,Close\n2020-01-01,1\n2020-01-02,2\n")
    with pytest.raises(DataError, match="needs the last 61"):
        recursive_forecast(run, short, 2)
    other = tmp_path / "other.csv"
    other.write_text("Day,Price\n2020-01-01,1\n")
    with pytest.raises(DataError, match="no date column 'Date'"):
        recursive_forecast(run, other, 2)
