"""One tuning run: a recipe with overrides on a tuning seed, appended as one JSON line to a log.

The statistic that chooses is validation accuracy per epoch (`val`); the test accuracy (`dev` for SST-2) is
recorded beside it and chooses nothing. Tuning seeds are 100 and up, never the reported seeds 0, 1, 2.

Usage (one thread, so two runs share the 2 cores; under the shared lock):
    .venv/bin/python benchmarks/tune_run.py TAG sst2-gru 100 \
        train.batch_size=128 train.lr=0.002 [--log benchmarks/results/sst2_tuning.jsonl]
SST-2 recipes get data.path=../shared/data/sst2 unless the overrides name one.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time


def main(argv: list[str] | None = None) -> int:
    import torch

    from corenets.config import apply_overrides
    from corenets.experiment import run_config
    from corenets.recipes import load_recipe

    p = argparse.ArgumentParser()
    p.add_argument("tag")
    p.add_argument("recipe")
    p.add_argument("seed", type=int)
    p.add_argument("overrides", nargs="*")
    p.add_argument("--log", default="benchmarks/results/sst2_tuning.jsonl")
    p.add_argument("--out", default="/tmp/corenets-tuning")
    a = p.parse_args(argv)
    ov = list(a.overrides)
    if a.recipe.startswith("sst2") and not any(o.startswith("data.path=") for o in ov):
        ov.insert(0, "data.path=../shared/data/sst2")
    torch.set_num_threads(1)
    t0 = time.time()
    run = run_config(apply_overrides(load_recipe(a.recipe), [*ov, f"seed={a.seed}", f"out={a.out}"]), quiet=True)
    m = json.loads((run / "metrics.json").read_text())
    with open(run / "history.csv") as f:
        val = [round(float(r["val_accuracy"]), 4) for r in csv.DictReader(f)]
    row = {"tag": a.tag, "recipe": a.recipe, "seed": a.seed, "ov": ov, "val": val, "best_epoch": m["best_epoch"],
           "dev": m["test"]["accuracy"], "train_s": round(m["train_seconds"], 1), "wall": round(time.time() - t0, 1)}
    print(json.dumps(row), flush=True)
    with open(a.log, "a") as f:
        f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
