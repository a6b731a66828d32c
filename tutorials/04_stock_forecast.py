# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4. An LSTM stock forecast, and why it must beat "tomorrow = today"
#
# The seed's stock model reads the last 60 daily closing prices and predicts the next one: LSTM(50) -> LSTM(50)
# -> Dense(25) -> Dense(1), Adam, mean squared error. Its plot looks impressive: the predicted line hugs the real
# one. But so does the laziest forecast there is, **persistence**: tomorrow's price = today's. A forecast is only
# worth something if it beats persistence, so corenets reports every price forecast beside it, with the ratio of
# their errors (RMSE / persistence RMSE, Theil's U2; below 1 is better than persistence).
#
# **Data.** corenets ships an excerpt: the last 500 trading days (2015-11 to 2017-11) of Microsoft's daily prices,
# from the public-domain "Huge Stock Market Dataset" on Kaggle (the copy the pmdarima package bundles). Any
# Yahoo/Kaggle-style CSV works: `data.path=prices.csv` (columns Date, Close, ...).
#
# **Fast mode** (`FAST = True`, about 30 s) trains both models on the excerpt for 10 epochs. For the full
# 1986-2017 series set `FAST = False` and `PRICES` to your copy of msft.csv: the log-return model measured
# RMSE 0.578 against persistence 0.580 (ratio 0.997), the price model about 5 times worse (BENCHMARKS.md).

# %% tags=["parameters"]
FAST = True
PRICES = ""  # a CSV of daily prices; "" = the shipped excerpt

# %%
import json

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Image, display

import corenets as cn
from corenets.experiment import summary_line

data = [f"data.path={PRICES}"] if PRICES else []
settings = {"threads": 1} if FAST else {}
returns = cn.run_recipe("stock-lstm", *data, quiet=True, **settings)  # the recipe learns log returns
prices = cn.run_recipe("stock-lstm", *data, "data.target=price", quiet=True, **settings)  # the seed's way
for r in (returns, prices):
    print(summary_line(r))

# %% [markdown]
# ## Persistence, beside each model

# %%
rows = []
for name, r in [("log returns", returns), ("prices (the seed's way)", prices)]:
    t = cn.load_run(r).metrics.test
    rows.append({"model learns": name, "RMSE": t["rmse"], "persistence RMSE": t["baseline"]["rmse"],
                 "ratio": t["rmse_over_persistence"]})
table = pd.DataFrame(rows)
table

# %% [markdown]
# ## Why the price model loses
#
# A model of price *levels* learns the range of prices it was trained on. The test days come last (a
# chronological split), and a stock that rose leaves that range: the network saturates and lags, so its errors
# grow while persistence's do not. A model of *returns* (the day-to-day change, here the log of the ratio of
# prices) learns something that looks the same in every year; its prediction is turned back into a price from
# the last real price. Daily returns are close to unpredictable, so the best it can honestly do is land close
# to persistence, which is what it does: a ratio near 1 is the expected result, and the report says so.

# %%
print(cn.load_run(returns).metrics.test["verdict"])
display(Image(filename=str(returns / "plots" / "forecast.png")))

# %% [markdown]
# ## Predicting the next price
#
# `Run.predict` takes the last prices (a model of returns needs the window plus one: 61 days; more are fine, it
# reads the last ones) and answers in prices, the same number
# `corenets predict`, `corenets forecast` and the server give.

# %%
from importlib import resources

csv = PRICES or str(resources.files("corenets") / "examples" / "msft_excerpt.csv")
closes = pd.read_csv(csv)["Close"].to_numpy()
run = cn.load_run(returns)
print(f"last close {closes[-1]:.2f}; predicted next close {run.predict(closes).values[0]:.2f}")

# %% [markdown]
# ## The headline number
#
# The returns model stays within 5% of persistence's error; the price model does worse than the returns model.

# %%
ratio = {r["model learns"]: r["ratio"] for r in rows}
print(ratio)
assert ratio["log returns"] < 1.05, ratio
assert ratio["prices (the seed's way)"] > ratio["log returns"], ratio
