"""Time to accuracy: test accuracy at fixed checkpoints of TRAINING time, corenets vs the Keras peer.

The clock runs only while training steps run: per-epoch validation and the
checkpoint evaluations themselves are not counted. A recipe trains on all
official training images (as the peer does); the test set is scored at each
checkpoint (with the recipe's TTA) and at the end of training.

    .venv/bin/python benchmarks/time_to_accuracy.py \
        --recipe fashion-mnist-fast --target 0.92 --seeds 0 1 2 --peer-jsonl benchmarks/results/keras_seed_cnn_fashion.jsonl

`--epochs 4 12` runs the recipe at several schedule lengths (each a full one-cycle).
`--run-peer` runs ../shared/peers/keras_seed_cnn.py first (10 epochs) and records its
per-epoch lines. Writes benchmarks/results/time_to_accuracy_<recipe>.json and a plot
accuracy-vs-seconds beside it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS = HERE.parent.parent / "shared" / "peers"
KERAS_PY = "/tmp/peers-venv/bin/python"
CHECKPOINTS = [5, 10, 15, 20, 30, 45, 60, 90, 120, 150, 200, 250, 300]


def make_clock(checkpoints, score):
    """A callback that counts training seconds only and calls score() when a checkpoint is crossed."""
    from corenets.train.callbacks import Callback

    class TrainClock(Callback):
        order = -10  # before Checkpoint-like callbacks; it only reads the model

        def __init__(self):
            self.seconds, self.mark, self.todo, self.points = 0.0, None, sorted(checkpoints), []

        def _tick(self):
            now = time.perf_counter()
            self.seconds += now - self.mark
            self.mark = now

        def on_epoch_begin(self, state):
            self.mark = time.perf_counter()  # validation between epochs is not training time

        def on_batch_end(self, state, batch, loss):
            self._tick()
            if self.todo and self.seconds >= self.todo[0]:
                while self.todo and self.seconds >= self.todo[0]:
                    self.todo.pop(0)
                self.points.append(score(self.seconds, state.epoch + (batch + 1) / state.steps_per_epoch))
                state.net.train()
                self.mark = time.perf_counter()  # scoring is not training time

        def on_epoch_end(self, state, logs):
            logs["train_clock"] = self.seconds

    return TrainClock()


def corenets_curve(recipe: str, seed: int, sets: list[str], checkpoints: list[float]) -> dict:
    """One run of `recipe`: points [(train seconds, epoch, test accuracy)] and the final one."""
    import torch

    from corenets.config import apply_overrides
    from corenets.data import DataBundle, Split
    from corenets.experiment import load_data
    from corenets.models import create_model
    from corenets.recipes import load_recipe
    from corenets.train.augment import FlipTTA
    from corenets.train.device import seed_everything
    from corenets.train.loop import fit

    cfg = apply_overrides(load_recipe(recipe), [f"seed={seed}", *sets])
    torch.set_num_threads(cfg.threads or torch.get_num_threads())
    seed_everything(seed)
    b = load_data(cfg)
    full = Split(torch.cat([b.train.x, b.val.x]), torch.cat([b.train.y, b.val.y]))
    # fit() needs a validation part; nothing is chosen on it here, so a small slice of training rows will do
    b = DataBundle(train=full, val=Split(full.x[:512], full.y[:512]), test=b.test, task=b.task, input_shape=b.input_shape,
                   classes=b.classes, preprocessing=b.preprocessing)
    model = create_model(cfg.model.name, b.input_shape, b.num_outputs, **cfg.model.options)
    scorer = FlipTTA(model) if cfg.train.tta == "flip" else model
    fmt = torch.channels_last if cfg.train.channels_last else torch.contiguous_format

    @torch.no_grad()
    def score(seconds: float, epoch: float) -> dict:
        scorer.eval()
        correct = 0
        for i in range(0, len(b.test), 1000):
            x = b.test.x[i:i + 1000].contiguous(memory_format=fmt)
            correct += (scorer(x).argmax(1) == b.test.y[i:i + 1000]).sum().item()
        return {"seconds": round(seconds, 2), "epoch": round(epoch, 3), "test_accuracy": correct / len(b.test)}

    clock = make_clock(checkpoints, score)
    t = time.perf_counter()
    hist = fit(model, b, cfg.train, [clock], seed=seed)
    wall = time.perf_counter() - t
    final = score(clock.seconds, len(hist.rows))
    return {"seed": seed, "epochs": cfg.train.epochs, "points": clock.points + [final], "final": final,
            "wall_seconds": round(wall, 1), "parameters": sum(p.numel() for p in model.parameters())}


def profile(recipe: str, sets: list[str], steps: int = 30) -> dict:
    """Where a training step's time goes (torch.profiler) and the FLOP/s it achieves (FlopCounterMode)."""
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile
    from torch.utils.flop_counter import FlopCounterMode

    from corenets.config import apply_overrides
    from corenets.data import Split
    from corenets.experiment import load_data
    from corenets.models import create_model
    from corenets.recipes import load_recipe
    from corenets.train.loop import fit

    cfg = apply_overrides(load_recipe(recipe), sets)
    torch.set_num_threads(cfg.threads or torch.get_num_threads())
    b = load_data(cfg)
    bs = cfg.train.batch_size
    b.train = Split(b.train.x[:bs * steps], b.train.y[:bs * steps])
    b.val = Split(b.val.x[:bs], b.val.y[:bs])
    model = create_model(cfg.model.name, b.input_shape, b.num_outputs, **cfg.model.options)
    one = apply_overrides(cfg, ["train.epochs=1"]).train
    fit(model, b, one)  # warm-up: oneDNN picks its kernels on the first steps
    x = b.train.x[:bs].contiguous(memory_format=torch.channels_last if one.channels_last else torch.contiguous_format)
    with FlopCounterMode(display=False) as fc:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=one.precision == "bf16"):
            loss = torch.nn.functional.cross_entropy(model(x), b.train.y[:bs])
        loss.backward()
    flops_per_image = fc.get_total_flops() / bs
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        t = time.perf_counter()
        fit(model, b, one)
        seconds = time.perf_counter() - t
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)
    images = bs * steps
    return {"flops_per_image_train": flops_per_image, "images_per_second": images / seconds,
            "achieved_gflops": flops_per_image * images / seconds / 1e9, "threads": torch.get_num_threads(),
            "top_ops": table}


def read_peer(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.startswith("{")]
    return [{"seconds": r["train_seconds"], "epoch": r["epoch"], "test_accuracy": r["test_accuracy"]} for r in rows if "epoch" in r]


def run_peer(out: Path, epochs: int = 10, seed: int = 0) -> list[dict]:
    res = subprocess.run([KERAS_PY, str(PEERS / "keras_seed_cnn.py"), "--data", "fashion-mnist", "--epochs", str(epochs),
                          "--seed", str(seed)], capture_output=True, text=True, check=True)
    out.write_text(res.stdout)
    return read_peer(out)


def first_reaching(points: list[dict], target: float) -> float | None:
    return next((p["seconds"] for p in points if p["test_accuracy"] >= target), None)


def summarize(runs: list[dict], target: float) -> dict:
    finals = [r["final"] for r in runs]
    reach = [first_reaching(r["points"], target) for r in runs]
    return {
        "epochs": runs[0]["epochs"], "seeds": [r["seed"] for r in runs],
        "final_test_accuracy": [f["test_accuracy"] for f in finals],
        "final_test_accuracy_median": statistics.median(f["test_accuracy"] for f in finals),
        "train_seconds": [f["seconds"] for f in finals], "train_seconds_median": statistics.median(f["seconds"] for f in finals),
        "seconds_to_target": reach,
        "seconds_to_target_median": statistics.median(reach) if all(v is not None for v in reach) else None,
    }


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (epochs, runs) in enumerate(result["corenets"].items()):
        for j, r in enumerate(runs):
            pts = r["points"]
            ax.plot([p["seconds"] for p in pts], [p["test_accuracy"] for p in pts], "o-", ms=3, color=colors[i % 10],
                    alpha=0.8, label=f"corenets {result['recipe']} ({epochs} epochs)" if j == 0 else None)
    if result.get("peer"):
        pts = result["peer"]
        ax.plot([p["seconds"] for p in pts], [p["test_accuracy"] for p in pts], "s--", ms=3, color="gray",
                label="Keras seed CNN (peer)")
    ax.axhline(result["target"], color="red", lw=0.8, ls=":", label=f"target {result['target']}")
    ax.set_xlabel("training seconds (evaluation not counted)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0.8, 0.95)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"Time to accuracy, {result['machine']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", default="fashion-mnist-fast")
    p.add_argument("--target", type=float, default=0.92)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--epochs", nargs="+", type=int, default=[], help="schedule lengths to run (default: the recipe's)")
    p.add_argument("--set", dest="sets", action="append", default=[], help="recipe overrides, e.g. train.lr=0.2")
    p.add_argument("--checkpoints", nargs="+", type=float, default=CHECKPOINTS, help="training seconds to score at")
    p.add_argument("--peer-jsonl", help="the Keras peer's per-epoch JSON lines from this session")
    p.add_argument("--run-peer", action="store_true", help="run the Keras peer first (10 epochs, seed 0)")
    p.add_argument("--out", help="JSON path (default benchmarks/results/time_to_accuracy_<recipe>.json)")
    p.add_argument("--profile", action="store_true", help="only profile 30 training steps: top ops and FLOP/s")
    a = p.parse_args(argv)
    if a.profile:
        res = profile(a.recipe, a.sets)
        print(res.pop("top_ops"))
        print(json.dumps(res))
        return res
    out = Path(a.out or HERE / "results" / f"time_to_accuracy_{a.recipe}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    peer = None
    if a.run_peer:
        peer = run_peer(out.with_suffix(".peer.jsonl"))
    elif a.peer_jsonl:
        peer = read_peer(Path(a.peer_jsonl))
    result = {"recipe": a.recipe, "target": a.target, "machine": "2-core CPU, no GPU", "sets": a.sets,
              "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
              "peer": peer, "corenets": {}, "summary": {}}
    for epochs in a.epochs or [None]:
        sets = a.sets + ([f"train.epochs={epochs}"] if epochs else [])
        runs = []
        for seed in a.seeds:
            r = corenets_curve(a.recipe, seed, sets, a.checkpoints)
            runs.append(r)
            pts = ", ".join(f"{q['seconds']:.0f}s {q['test_accuracy']:.4f}" for q in r["points"])
            print(f"{a.recipe} epochs={r['epochs']} seed={seed}: {pts}", flush=True)
        key = str(runs[0]["epochs"])
        result["corenets"][key] = runs
        result["summary"][key] = summarize(runs, a.target)
        print(json.dumps({key: result["summary"][key]}), flush=True)
    if peer:
        result["summary"]["peer"] = {"final_test_accuracy": peer[-1]["test_accuracy"], "train_seconds": peer[-1]["seconds"],
                                     "seconds_to_target": first_reaching(peer, a.target)}
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(out)
    plot(result, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return result


if __name__ == "__main__":
    main()
