"""Foundation figures: quickstart (accuracy and whole-process seconds) and breast-cancer-ann (--cv 5).

    python benchmarks/foundation.py --seeds 0 1 2 --out benchmarks/results/foundation.json

Each run is a separate `corenets run` process, timed from outside, so the seconds
include Python start-up, imports, data loading, training, evaluation, plots and report.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(args: list[str], out: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "corenets", "run", *args, "--out", out, "--quiet"],
                          capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    folder = Path(re.search(r"report: (.*)/report.html", proc.stdout).group(1))
    return wall, json.loads((folder / "metrics.json").read_text())


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default="benchmarks/results/foundation.json")
    a = p.parse_args()
    rec: dict = {"quickstart": [], "breast-cancer-ann-cv5": []}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in a.seeds:
            wall, m = run(["quickstart", "--seed", str(seed)], tmp)
            rec["quickstart"].append({"seed": seed, "wall_seconds": wall, "train_seconds": m["train_seconds"],
                                      "test_accuracy": m["test"]["accuracy"],
                                      "baseline_accuracy": m["test"]["baseline"]["accuracy"]})
            print(json.dumps(rec["quickstart"][-1]), flush=True)
        for seed in a.seeds:
            wall, m = run(["breast-cancer-ann", "--cv", "5", "--seed", str(seed)], tmp)
            t = m["test"]
            rec["breast-cancer-ann-cv5"].append({
                "seed": seed, "wall_seconds": wall, **{k: t[k]["mean"] for k in ("accuracy", "f1", "roc_auc")},
                **{f"{k}_std": t[k]["std"] for k in ("accuracy", "roc_auc")}, "baseline_accuracy": t["baseline"]["accuracy"]})
            print(json.dumps(rec["breast-cancer-ann-cv5"][-1]), flush=True)
    for name, rows in rec.items():
        keys = [k for k in rows[0] if k != "seed"]
        print(name, {k: round(statistics.median(r[k] for r in rows), 4) for k in keys})
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(rec, indent=1) + "\n")


if __name__ == "__main__":
    main()
