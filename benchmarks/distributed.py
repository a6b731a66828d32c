"""Epoch time of 1 vs 2 training processes (torchrun/DDP on CPU), each with --threads 1.

    .venv/bin/python benchmarks/distributed.py [--repeats 3] [--epochs 3]

Trains Fashion-MNIST with the mlp (60,000 rows; 54,000 train after validation) and reads the per-epoch
training seconds from history.csv. Reports the median over repeats of each run's median epoch time, the speed-up
and the scaling efficiency (speed-up / processes). batch_size is per process, so 2 processes take half the steps.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def epoch_seconds(nproc: int, epochs: int, batch: int) -> tuple[float, float]:
    out = Path(tempfile.mkdtemp(prefix="corenets-bench-dist-"))
    cmd = [sys.executable, "-m", "corenets", "run", "--data", "fashion_mnist", "--model", "mlp", "--epochs", str(epochs),
           "--threads", "1", "--quiet", "--out", str(out), "--set", f"train.batch_size={batch}"]
    if nproc > 1:
        cmd += ["--nproc", str(nproc)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=1800)
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    with open(folder / "history.csv") as f:
        rows = list(csv.DictReader(f))
    return statistics.median(float(r["seconds"]) for r in rows), float(rows[-1]["val_accuracy"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    a = ap.parse_args()
    results = {}
    for nproc in (1, 2):
        runs = [epoch_seconds(nproc, a.epochs, a.batch) for _ in range(a.repeats)]
        results[nproc] = (statistics.median(t for t, _ in runs), statistics.median(acc for _, acc in runs))
        print(f"{nproc} process(es): epoch times {[round(t, 2) for t, _ in runs]}", file=sys.stderr)
    t1, t2 = results[1][0], results[2][0]
    print("| processes | epoch seconds (median of 3) | val accuracy after the last epoch | speed-up | scaling efficiency |")
    print("|---|---|---|---|---|")
    print(f"| 1 | {t1:.2f} | {results[1][1]:.4f} | 1.00 | 100% |")
    print(f"| 2 | {t2:.2f} | {results[2][1]:.4f} | {t1 / t2:.2f} | {t1 / t2 / 2:.0%} |")


if __name__ == "__main__":
    main()
