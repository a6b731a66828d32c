"""The classical baseline's cost beside the network's (issue 18: "stays under about 10% of the run's time").

    .venv/bin/python benchmarks/classical_budget.py [--sst2 PATH/TO/sst2] [--seeds 0 1 2]

Runs each recipe below once per seed with its defaults (the classical baseline on, "What it learned" off so the
wall time is training, test and report) and reads the run's metrics.json: `classical.fit_seconds` (the
scikit-learn fit and its test scoring, timed apart from training), `train_seconds` and `wall_seconds` (the whole
run). Prints one JSON line per run and a table of medians; the share is fit_seconds / wall_seconds. A run of a few
seconds gets at least a 2-second budget (evaluate/baselines.py MIN_SECONDS), so its share may exceed 10%.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECIPES = {  # recipe -> extra arguments (data paths are added by flags)
    "quickstart": [],
    "breast-cancer-ann": [],
    "stock-lstm": [],
    "fashion-mnist-cnn": [],
    "sst2-lstm": [],
}


def one(recipe: str, extra: list[str], seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "corenets", "run", recipe, *extra, "--seed", str(seed), "--quiet",
               "--out", tmp, "--set", "report.inspect=false"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        m = json.loads(next(Path(tmp).rglob("metrics.json")).read_text())
    c = m["classical"]
    return {"recipe": recipe, "seed": seed, "baseline": c["name"], "rows": c["rows"], "of_rows": c["of_rows"],
            "fit_seconds": round(c["fit_seconds"], 2), "train_seconds": round(m["train_seconds"], 2),
            "wall_seconds": round(m["wall_seconds"], 2), "share": round(c["fit_seconds"] / m["wall_seconds"], 4)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--sst2", help="the SST-2 folder (skips sst2-lstm without it)")
    p.add_argument("--only", nargs="+", help="these recipes only")
    args = p.parse_args(argv)
    rows = []
    for recipe, extra in RECIPES.items():
        if args.only and recipe not in args.only:
            continue
        if recipe.startswith("sst2"):
            if not args.sst2:
                continue
            extra = [*extra, "--set", f"data.path={args.sst2}"]
        for seed in args.seeds:
            rows.append(one(recipe, extra, seed))
            print(json.dumps(rows[-1]), flush=True)
    print("| recipe | classical baseline | rows fitted | fit s | training s | run s | share of run |")
    print("|---|---|---|---|---|---|---|")
    for recipe in dict.fromkeys(r["recipe"] for r in rows):
        rs = [r for r in rows if r["recipe"] == recipe]
        med = {k: statistics.median(r[k] for r in rs) for k in ("fit_seconds", "train_seconds", "wall_seconds", "share")}
        print(f"| {recipe} | {rs[0]['baseline']} | {rs[0]['rows']:,} of {rs[0]['of_rows']:,} | {med['fit_seconds']:.2f} "
              f"| {med['train_seconds']:.1f} | {med['wall_seconds']:.1f} | {med['share']:.1%} |")


if __name__ == "__main__":
    main()
