"""The generic forecast command against persistence, per data.target, on the shipped MSFT excerpt and on a
daily-temperature-like series that crosses zero (tests/test_forecast_target.temperatures).

    .venv/bin/python benchmarks/forecast_targets.py [--full-msft ../shared/data/stocks/msft.csv]

Each row is `corenets run --data price_csv --model lstm --set data.target=T` (the defaults otherwise: window 60,
10 epochs, Adam 1e-3, batch 64, seed 0, --threads 1) and its test RMSE over persistence's (Theil's U2; < 1 beats
it). BENCHMARKS.md "## Forecast targets" holds the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def run(csv: Path, column: str, target: str, out: Path) -> dict:
    from corenets.cli import main

    folder = out / f"{csv.stem}-{target}"
    assert main(["run", "--data", "price_csv", "--model", "lstm", "--set", f"data.path={csv}", "--set",
                 f"data.column={column}", "--set", f"data.target={target}", "--threads", "1", "--quiet",
                 "--out", str(folder)]) == 0
    m = json.loads((next(folder.iterdir()) / "metrics.json").read_text())
    return {"target": m["test"]["target"], "rmse": m["test"]["rmse"], "persistence": m["test"]["baseline"]["rmse"],
            "u2": m["test"]["rmse_over_persistence"], "classical": (m.get("classical") or {}).get("metrics", {}).get("rmse")}


def main(argv=None) -> None:
    from test_forecast_target import temperatures

    from corenets.data.timeseries import EXAMPLE_CSV

    p = argparse.ArgumentParser()
    p.add_argument("--full-msft", help="also the full msft.csv (7,983 rows)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        temps = tmp / "temperatures.csv"
        temperatures().to_csv(temps, index=False)
        series = [("msft_excerpt", EXAMPLE_CSV, "Close"), ("temperatures", temps, "temp")]
        if args.full_msft:
            series.append(("msft_full", Path(args.full_msft), "Close"))
        print("| series | data.target | used | test RMSE | persistence | U2 (RMSE / persistence) | linear AR |")
        print("|---|---|---|---|---|---|---|")
        for name, csv, column in series:
            for target in ("auto", "price", "delta"):
                r = run(csv, column, target, tmp)
                print(f"| {name} | {target} | {r['target']} | {r['rmse']:.4f} | {r['persistence']:.4f} | "
                      f"{r['u2']:.3f} | {r['classical']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
