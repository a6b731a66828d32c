"""seed_cnn on Fashion-MNIST: corenets vs the seed's Keras code vs the PyTorch-tutorial loop.

Same network (93,322 params), Adam, batch 64, all 60,000 training images, the
10,000 test images. Runs are interleaved (keras, tutorial, corenets, keras, ...)
so machine noise hits all three alike. Training seconds only; evaluation excluded.

    .venv/bin/python benchmarks/fashion_mnist_cnn.py speed --runs 3 --epochs 10
    .venv/bin/python benchmarks/fashion_mnist_cnn.py accuracy --seeds 0 1 2

`accuracy` runs the fashion-mnist-cnn and fashion-mnist-cnn-bn recipes (54k/6k train/val, best
epoch chosen on validation, scored once on test). Results go to benchmarks/results/*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS = HERE.parent.parent / "shared" / "peers"
KERAS_PY = "/tmp/peers-venv/bin/python"


def peer(script: str, python: str, epochs: int, seed: int) -> list[dict]:
    out = subprocess.run([python, str(PEERS / script), "--data", "fashion-mnist", "--epochs", str(epochs), "--seed", str(seed)],
                         capture_output=True, text=True, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [r for r in rows if "epoch" in r]


def corenets_run(epochs: int, seed: int, recipe: str = "fashion-mnist-cnn") -> list[dict]:
    """The recipe's model and train settings, on all 60k training images (as the peers), test as validation."""
    import torch

    from corenets.config import apply_overrides
    from corenets.data import DataBundle, Split, load_dataset
    from corenets.models import create_model
    from corenets.recipes import load_recipe
    from corenets.train.device import seed_everything
    from corenets.train.loop import fit

    cfg = apply_overrides(load_recipe(recipe), [f"train.epochs={epochs}", f"seed={seed}"])
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seed_everything(seed)
    b = load_dataset(cfg.data.name, **cfg.data.options)
    full = Split(torch.cat([b.train.x, b.val.x]), torch.cat([b.train.y, b.val.y]))
    b = DataBundle(train=full, val=b.test, test=b.test, task=b.task, input_shape=b.input_shape, classes=b.classes,
                   preprocessing=b.preprocessing)
    model = create_model(cfg.model.name, b.input_shape, b.num_outputs, **cfg.model.options)
    hist = fit(model, b, cfg.train, seed=seed)
    total, rows = 0.0, []
    for r in hist.rows:
        total += r["seconds"]
        rows.append({"epoch": int(r["epoch"]), "train_seconds": round(total, 2), "test_accuracy": round(r["val_accuracy"], 4)})
    return rows


def speed(args) -> dict:
    programs = {
        "keras": lambda s: peer("keras_seed_cnn.py", KERAS_PY, args.epochs, s),
        "tutorial": lambda s: peer("torch_tutorial_cnn.py", sys.executable, args.epochs, s),
        "corenets": lambda s: corenets_run(args.epochs, s),
    }
    runs = {k: [] for k in programs if k in args.programs}
    for r in range(args.runs):
        for name in runs:
            t = time.perf_counter()
            rows = programs[name](r)
            runs[name].append(rows)
            load = os.getloadavg()[0]  # other jobs on this shared machine; recorded, not controlled
            rows[-1]["load_after"] = round(load, 2)
            print(f"run {r} {name}: {rows[-1]['train_seconds'] / len(rows):.2f} s/epoch, test {rows[-1]['test_accuracy']:.4f} "
                  f"({time.perf_counter() - t:.0f} s wall, load {load:.1f})", flush=True)
    summary = {}
    for name, rr in runs.items():
        per_epoch = [rows[-1]["train_seconds"] / len(rows) for rows in rr]
        summary[name] = {"s_per_epoch_median": round(statistics.median(per_epoch), 2), "s_per_epoch_runs": [round(v, 2) for v in per_epoch],
                         "final_test_accuracy": [rows[-1]["test_accuracy"] for rows in rr],
                         "final_test_accuracy_median": statistics.median(rows[-1]["test_accuracy"] for rows in rr), "curves": rr}
    return {"epochs": args.epochs, "batch_size": 64, "runs": args.runs, "machine": "2-core CPU, no GPU", "summary": summary}


def accuracy(args) -> dict:
    import corenets as cn

    out = {}
    for recipe in args.recipes:
        accs, secs = [], []
        for s in args.seeds:
            run = cn.run_recipe(recipe, seed=s, out="/tmp/corenets-bench-runs", quiet=True)
            m = json.loads((run / "metrics.json").read_text())
            accs.append(m["test"]["accuracy"])
            secs.append(m["train_seconds"])
            print(f"{recipe} seed {s}: test accuracy {accs[-1]:.4f}, {secs[-1]:.0f} s training", flush=True)
        out[recipe] = {"seeds": args.seeds, "test_accuracy": accs, "median": statistics.median(accs), "train_seconds": secs}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("part", choices=["speed", "accuracy"])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--programs", nargs="+", default=["keras", "tutorial", "corenets"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--recipes", nargs="+", default=["fashion-mnist-cnn", "fashion-mnist-cnn-bn"])
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    result = speed(a) if a.part == "speed" else accuracy(a)
    out = Path(a.out or HERE / "results" / f"fashion_mnist_cnn_{a.part}.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "curves"} if isinstance(v, dict) else v
                      for k, v in (result.get("summary") or result).items()}, indent=1))


if __name__ == "__main__":
    main()
