"""`corenets forecast RUN prices.csv --steps N`: the next N values after the CSV's last row, recursively."""

from __future__ import annotations

import warnings

from ..cli import subcommand, with_arguments


def _arguments(p):
    p.add_argument("run", help="a run folder made by a price_csv recipe (e.g. stock-lstm)")
    p.add_argument("csv", help="a CSV with the same date and value columns as training; its last rows are the input window")
    p.add_argument("--steps", type=int, default=1, help="how many steps ahead (each step feeds the last forecast back)")


@subcommand("forecast", "forecast the next N values of a price series from a trained price_csv run (recursive)")
@with_arguments(_arguments)
def cmd_forecast(args) -> int:
    import pandas as pd

    from ..data.timeseries import read_series
    from ..evaluate.forecast import recursive_forecast
    from ..runs import load_run

    run = load_run(args.run)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = recursive_forecast(run, args.csv, args.steps)
    for w in caught:
        print(f"warning: {w.message}")
    s = run.preprocessing.state
    dates, prices = read_series(args.csv, s["column"], s["date_column"], s["missing"])
    last = pd.Timestamp(dates[-1])
    # business days for daily market data; the step number is the exact meaning either way
    days = pd.bdate_range(last + pd.Timedelta(days=1), periods=len(out))
    print(f"last known: {last.date()} {s['column']} {prices[-1]:.4f}")
    for (k, value), day in zip(out, days):
        print(f"step {k:>3} (~{day.date()}): {value:.4f}")
    m = run.metrics.test if run.metrics else {}
    if "rmse_over_persistence" in m:
        print(f"test rmse / persistence rmse of this run: {m['rmse_over_persistence']:.3f} (above 1: it loses to 'tomorrow = today')")
    return 0
