"""scratch-mlp-digits: the NumPy engine against torch on the same recipe (same MLP, data split, optimiser).

    .venv/bin/python benchmarks/scratch_digits.py --seeds 0 1 2

Prints, per engine, the test accuracy and seconds of each seed and their medians:
train_seconds is the fit loop alone (metrics.json), wall is the whole run_recipe call
(data, training, evaluation, plots, report).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time


def main(argv=None) -> int:
    import corenets

    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--engines", nargs="+", default=["scratch", "torch"])
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as out:
        for engine in args.engines:
            acc, train_s, wall_s = [], [], []
            for seed in args.seeds:
                t0 = time.perf_counter()
                run = corenets.run_recipe("scratch-mlp-digits", f"engine={engine}", seed=seed, out=out, quiet=True)
                wall_s.append(time.perf_counter() - t0)
                m = json.loads((run / "metrics.json").read_text())
                acc.append(m["test"]["accuracy"])
                train_s.append(m["train_seconds"])
                print(f"{engine:8s} seed {seed}: accuracy {acc[-1]:.4f}  train {train_s[-1]:.2f}s  wall {wall_s[-1]:.2f}s",
                      flush=True)
            print(f"{engine:8s} median: accuracy {statistics.median(acc):.4f}  train {statistics.median(train_s):.2f}s  "
                  f"wall {statistics.median(wall_s):.2f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
