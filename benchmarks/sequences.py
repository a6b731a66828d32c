"""Run a sequence recipe over several seeds and print one JSON line per run (metrics from its run folder).

Usage (every heavy run under the shared lock):
    .venv/bin/python benchmarks/sequences.py stock-lstm --seeds 0 1 2 \
        --set data.path=../shared/data/stocks/msft.csv
Prints {"recipe", "seed", "train_seconds", "epochs", "parameters", "test": {...headline metrics...}, "run"}
and a final {"summary": ...} line with the median of each headline metric.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys


def main(argv: list[str] | None = None) -> int:
    from corenets.config import apply_overrides
    from corenets.experiment import run_config
    from corenets.recipes import load_recipe

    p = argparse.ArgumentParser()
    p.add_argument("recipe")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--set", dest="overrides", nargs="*", default=[])
    p.add_argument("--out", default="runs/bench")
    a = p.parse_args(argv)
    rows = []
    for seed in a.seeds:
        cfg = apply_overrides(load_recipe(a.recipe), [*a.overrides, f"seed={seed}", f"out={a.out}"])
        run = run_config(cfg, quiet=True)
        m = json.loads((run / "metrics.json").read_text())
        t = m["test"]
        keys = ["accuracy", "f1", "roc_auc", "rmse", "mae", "mape", "rmse_over_persistence"]
        test = {k: (t[k]["mean"] if isinstance(t.get(k), dict) else t[k]) for k in keys if k in t}
        if isinstance(t.get("baseline"), dict) and "rmse" in t["baseline"]:
            test["baseline_rmse"] = t["baseline"]["rmse"]
        row = {"recipe": a.recipe, "seed": seed, "train_seconds": round(m["train_seconds"], 1),
               "epochs": m.get("epochs_run"), "parameters": m["parameters"], "test": test, "run": str(run)}
        if m.get("refit"):  # train_seconds counts both fits; the refit's part beside it
            row["refit"] = {"epochs": m["refit"]["epochs"], "rows": m["refit"]["rows"],
                            "train_seconds": round(m["refit"]["train_seconds"], 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {k: statistics.median(r["test"][k] for r in rows) for k in rows[0]["test"]}
    summary["train_seconds"] = statistics.median(r["train_seconds"] for r in rows)
    print(json.dumps({"summary": {"recipe": a.recipe, "overrides": a.overrides, "seeds": a.seeds, "median": summary}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
