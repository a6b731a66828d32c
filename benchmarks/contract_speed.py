"""Issue 16's speed check: this tree against another corenets source tree, interleaved in one session.

Two figures, each a separate process per run, alternating A B A B so machine noise hits both alike:
- quickstart: the whole `corenets run quickstart` command, wall seconds (Python start to report);
- fashion-mnist-cnn: seconds per training epoch (history.csv's `seconds`, mean over the epochs run).

    .venv/bin/python benchmarks/contract_speed.py --other /path/to/previous/src --runs 5

`--other` is a `src` folder of the previous release (e.g. a `git worktree` of it); both trees run with this venv's
Python and packages, each put first on PYTHONPATH. Prints one JSON line per run and a summary with medians and the
ratios this/other and this-lean/other ("lean": report.classical_baseline and report.inspect off).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_once(src: Path, args: list[str]) -> tuple[float, Path]:
    out = Path(tempfile.mkdtemp(prefix="cn-speed-"))
    env = {**os.environ, "PYTHONPATH": str(src)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "corenets", "run", *args, "--quiet", "--out", str(out)], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    return wall, next(p for p in out.iterdir() if p.is_dir())


def epoch_seconds(run_dir: Path) -> float:
    with open(run_dir / "history.csv", newline="") as f:
        return statistics.mean(float(r["seconds"]) for r in csv.DictReader(f))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--other", required=True, help="the previous release's src folder")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--cnn-epochs", type=int, default=2)
    a = p.parse_args()
    trees = {"this": HERE.parent / "src", "other": Path(a.other).resolve()}
    # this tree again with what later issues added to every run switched off (the classical baseline, the report's
    # "What it learned" figures): the contract's own cost, apart from the features that came after it
    lean = ["--set", "report.classical_baseline=false", "report.inspect=false"]
    variants = {"this": (trees["this"], []), "this-lean": (trees["this"], lean), "other": (trees["other"], [])}
    got: dict[str, dict[str, list[float]]] = {t: {"quickstart_s": [], "cnn_s_per_epoch": []} for t in variants}
    for i in range(a.runs):
        for tree, (src, extra) in variants.items():
            wall, _ = run_once(src, ["quickstart", *extra])
            _, cnn = run_once(src, ["fashion-mnist-cnn", "--epochs", str(a.cnn_epochs), *extra])
            row = {"run": i, "tree": tree, "quickstart_s": round(wall, 3), "cnn_s_per_epoch": round(epoch_seconds(cnn), 3)}
            got[tree]["quickstart_s"].append(row["quickstart_s"])
            got[tree]["cnn_s_per_epoch"].append(row["cnn_s_per_epoch"])
            print(json.dumps(row), flush=True)
    summary = {k: {t: statistics.median(got[t][k]) for t in variants} for k in ("quickstart_s", "cnn_s_per_epoch")}
    for k, v in summary.items():
        v["ratio_this_over_other"] = round(v["this"] / v["other"], 3)
        v["ratio_lean_over_other"] = round(v["this-lean"] / v["other"], 3)
    print(json.dumps({"summary": summary}))


if __name__ == "__main__":
    main()
