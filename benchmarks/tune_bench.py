"""Issue 20's numbers: pruning pays, lr-find lands near the grid's best rate, two workers scale.

    .venv/bin/python benchmarks/tune_bench.py pruning  --recipe quickstart --trials 30 --epochs 10 --studies 3
    .venv/bin/python benchmarks/tune_bench.py lrfind   --recipe quickstart
    .venv/bin/python benchmarks/tune_bench.py workers  --trials 20 --epochs 5

Each writes a JSON record to benchmarks/results/tune_<what>.json and prints one line per measurement.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def pruning(a) -> dict:
    """Best validation value and training epochs of `studies` studies with the median pruner and with none."""
    import corenets as cn

    out = {}
    for pruner in ("median", "none"):
        rows = []
        for k in range(a.studies):
            with tempfile.TemporaryDirectory() as tmp:
                over = [f"train.epochs={a.epochs}", f"seed={k}", *a.set]
                if a.cv:
                    over.append(f"cv={a.cv}")
                t0 = time.perf_counter()
                s = cn.tune(a.recipe, trials=a.trials, overrides=over, pruner=pruner, out=tmp, final=False)
                rows.append({"best": s.best_value, "epochs": s.epochs, "pruned": s.pruned,
                             "seconds": time.perf_counter() - t0})
                print(pruner, k, rows[-1], flush=True)
        out[pruner] = {"studies": rows, "median_best": statistics.median(r["best"] for r in rows),
                       "median_epochs": statistics.median(r["epochs"] for r in rows)}
    out["epoch_ratio"] = out["median"]["median_epochs"] / out["none"]["median_epochs"]
    out["best_gap"] = abs(out["median"]["median_best"] - out["none"]["median_best"])
    return out


def lrfind(a) -> dict:
    """lr-find's suggestion against the best of a log grid 1e-4 .. 1, one epoch each (validation loss)."""
    import corenets as cn
    from corenets.runs import load_run  # noqa: F401  (history is read from the run folder)

    grid = [10 ** (e / 2) for e in range(-8, 1)]  # 1e-4, 3e-4, ..., 1
    scores = {}
    with tempfile.TemporaryDirectory() as tmp:
        for lr in grid:
            run = cn.run_recipe(a.recipe, f"train.lr={lr}", "train.epochs=1", *a.set, out=tmp, quiet=True)
            lines = (Path(run) / "history.csv").read_text().splitlines()
            col = lines[0].split(",").index("val_loss")
            scores[lr] = float(lines[1].split(",")[col])
            print(f"lr {lr:.0e}: val_loss {scores[lr]:.4f}", flush=True)
        r = cn.lr_find(a.recipe, *a.set, out=Path(tmp) / "lr.png")
    finite = {k: v for k, v in scores.items() if math.isfinite(v)}
    best = min(finite, key=finite.get)
    factor = max(r.suggestion / best, best / r.suggestion)
    print(f"grid best {best:.0e}, lr-find {r.suggestion:.3g}: factor {factor:.2f}", flush=True)
    return {"grid": scores, "grid_best": best, "suggestion": r.suggestion, "factor": factor,
            "steps": len(r.lrs)}


def workers(a) -> dict:
    """Wall time of a `trials`-trial study with one local worker and with two (separate processes, timed outside)."""
    out = {}
    for n in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "corenets", "tune", a.recipe, "--trials", str(a.trials), "--workers", str(n),
                   "--pruner", "none", "--no-final", "--out", tmp, "--set", f"train.epochs={a.epochs}", "threads=1",
                   *a.set]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            out[n] = time.perf_counter() - t0
            print(f"{n} worker(s): {out[n]:.1f} s", flush=True)
    out["ratio"] = out[2] / out[1]
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["pruning", "lrfind", "workers"])
    p.add_argument("--recipe", default="quickstart")
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--studies", type=int, default=3)
    p.add_argument("--cv", type=int, default=0)
    p.add_argument("--set", nargs="*", default=[])
    a = p.parse_args()
    result = {"pruning": pruning, "lrfind": lrfind, "workers": workers}[a.what](a)
    RESULTS.mkdir(exist_ok=True)
    name = f"tune_{a.what}_{a.recipe}{'_cv' + str(a.cv) if a.cv else ''}.json"
    (RESULTS / name).write_text(json.dumps({"args": vars(a), **{str(k): v for k, v in result.items()}}, indent=2))
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, dict)}))


if __name__ == "__main__":
    main()
