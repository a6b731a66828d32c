"""price_csv: windows, chronological split, no leakage, bad inputs; forecast metrics and the persistence baseline."""

import numpy as np
import pandas as pd
import pytest
import torch

from corenets.data import Preprocessing, SplitSpec, load_dataset
from corenets.data.timeseries import EXAMPLE_CSV
from corenets.errors import DataError
from corenets.evaluate.forecast import forecast_metrics


def _csv(tmp_path, prices, name="p.csv", dates=None, column="Close"):
    dates = dates if dates is not None else pd.date_range("2020-01-01", periods=len(prices), freq="D").strftime("%Y-%m-%d")
    p = tmp_path / name
    pd.DataFrame({"Date": dates, column: prices}).to_csv(p, index=False)
    return p


def test_persistence_baseline_by_hand():
    truth = np.array([11.0, 12.0, 10.0])
    base = np.array([10.0, 11.0, 12.0])  # persistence: yesterday's value
    pred = np.array([11.5, 11.5, 11.0])
    m = forecast_metrics(truth, pred, base)
    # persistence errors: 1, 1, 2 -> rmse sqrt(6/3), mae 4/3, mape (1/11 + 1/12 + 2/10)/3
    assert m["baseline"]["rmse"] == pytest.approx(np.sqrt(2.0))
    assert m["baseline"]["mae"] == pytest.approx(4 / 3)
    assert m["baseline"]["mape"] == pytest.approx((1 / 11 + 1 / 12 + 0.2) / 3 * 100)
    # model errors: .5, .5, 1 -> rmse sqrt(1.5/3)
    assert m["rmse"] == pytest.approx(np.sqrt(0.5))
    assert m["rmse_over_persistence"] == pytest.approx(np.sqrt(0.5) / np.sqrt(2.0))
    assert "beats persistence" in m["verdict"]
    worse = forecast_metrics(truth, base + 3, base)
    assert worse["rmse_over_persistence"] > 1 and "LOSES to persistence" in worse["verdict"]


def test_windows_split_and_no_leakage(tmp_path):
    prices = np.arange(1.0, 101.0)  # 100 days, price = day number
    prices[-20:] += 1000  # the test period is far above anything seen in training
    b = load_dataset("price_csv", SplitSpec(val_fraction=0.1, test_fraction=0.2), path=str(_csv(tmp_path, prices)), window=5,
                     target="price")
    s = b.meta["series"]
    # targets of the last 20 rows are the test split; windows end the day before
    assert len(b.test) == 20 and s["test"]["truth"][0] == prices[80] and s["test"]["base"][0] == prices[79]
    assert len(b.train) + len(b.val) == 75 and len(b.val) == 8
    assert s["val"]["dates"][-1] < s["test"]["dates"][0]  # chronological
    pre = b.preprocessing.state
    # the scaler saw the training samples only: mean of days 1..(last training day)
    last_train_day = s["train"]["base"][-1]
    assert pre["mean"] == pytest.approx(np.mean(np.arange(1.0, last_train_day + 1)))
    assert pre["target_mean"] < 100  # not pulled up by the +1000 test prices
    # the first training window is the first 5 prices, scaled
    expected = (np.arange(1.0, 6.0) - pre["mean"]) / pre["std"]
    torch.testing.assert_close(b.train.x[0, :, 0], torch.tensor(expected, dtype=torch.float32))
    # the saved preprocessing rebuilds a window from raw prices
    again = Preprocessing.from_dict(b.preprocessing.to_dict())
    torch.testing.assert_close(again.transform(prices[:5]), b.train.x[:1])
    with pytest.raises(DataError, match="last 5 prices"):
        again.transform(prices[:3])


def test_log_returns_target_converts_back_to_prices(tmp_path):
    prices = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 300)))
    b = load_dataset("price_csv", path=str(_csv(tmp_path, prices)), window=10, target="log_returns")
    from corenets.data.timeseries import to_prices

    y = b.preprocessing.inverse_target(b.test.y.double()).numpy()
    s = b.meta["series"]["test"]
    np.testing.assert_allclose(to_prices(y, np.asarray(s["base"]), "log_returns"), s["truth"], rtol=1e-5)
    assert b.input_shape == (10, 1)


def test_bad_price_files(tmp_path):
    prices = np.linspace(10, 20, 120)
    dates = list(pd.date_range("2020-01-01", periods=120).strftime("%Y-%m-%d"))
    shuffled = dates[60:] + dates[:60]
    with pytest.warns(UserWarning, match="sorted"):
        b = load_dataset("price_csv", path=str(_csv(tmp_path, np.r_[prices[60:], prices[:60]], "u.csv", shuffled)), window=5)
    assert b.meta["series"]["test"]["truth"][-1] == pytest.approx(20.0)  # sorted back into order
    with pytest.raises(DataError, match="duplicate date"):
        load_dataset("price_csv", path=str(_csv(tmp_path, prices, "d.csv", dates[:-1] + dates[:1])), window=5)
    with pytest.raises(DataError, match="cannot be parsed.*'not a date'"):
        load_dataset("price_csv", path=str(_csv(tmp_path, prices, "x.csv", dates[:-1] + ["not a date"])), window=5)
    gappy = prices.copy()
    gappy[50] = np.nan
    with pytest.raises(DataError, match="1 missing.*data.missing=ffill"):
        load_dataset("price_csv", path=str(_csv(tmp_path, gappy, "g.csv")), window=5)
    filled = load_dataset("price_csv", path=str(_csv(tmp_path, gappy, "g.csv")), window=5, missing="ffill", target="price")
    assert len(filled.train) + len(filled.val) + len(filled.test) == 115
    with pytest.raises(DataError, match="has 30 rows: too few for window 60"):
        load_dataset("price_csv", path=str(_csv(tmp_path, prices[:30], "short.csv")))
    with pytest.raises(DataError, match="no value column 'Close'.*data.column"):
        load_dataset("price_csv", path=str(_csv(tmp_path, prices, "v.csv", column="Price")))


def test_shipped_excerpt_is_the_default():
    assert EXAMPLE_CSV.is_file()
    b = load_dataset("price_csv")
    assert b.meta["dataset"] == "price_csv:msft_excerpt.csv" and b.meta["rows"] == 500
    assert b.sizes() == {"train": 305, "val": 34, "test": 100}  # target auto: delta, whose first window needs a day more
    assert b.meta["target"] == "delta"
