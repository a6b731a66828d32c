"""Fast on any CPU (issue 22): corenets against its Keras peer with the kernels held to AVX2 and fp32.

On a CPU with AMX or AVX-512 this stands in for an AVX2-only machine (a laptop, an AMD server, an older
Intel): every run of either side gets ONEDNN_MAX_CPU_ISA=AVX2 (oneDNN, in torch and in TensorFlow),
ATEN_CPU_CAPABILITY=avx2 (torch's own kernels), MKL_ENABLE_INSTRUCTIONS=AVX2 (MKL's GEMM under torch) and,
for corenets, train.precision=fp32. `--native` drops the restrictions (the AMX figure). corenets chooses its
threads as `corenets run` does (threads: 0, train/threads.py: one when another process keeps a core busy, else
whichever of 1 or 2 trains faster); every result records the count. `--set threads=2` forces two.
Pairs run interleaved, corenets then the peer, each in a fresh process; the median of the pairs is reported.

    .venv/bin/python benchmarks/avx2.py check
    .venv/bin/python benchmarks/avx2.py pairs seed_cnn --pairs 3 --epochs 2
    .venv/bin/python benchmarks/avx2.py pairs sst2-lstm --pairs 3 --set data.path=PATH/TO/sst2
    .venv/bin/python benchmarks/avx2.py profile seed_cnn --steps 200

Workloads: seed_cnn (recipe fashion-mnist-cnn, s/epoch at batch 64, against keras_seed_cnn.py); fm-lstm and
fm-gru (fashion-mnist-lstm/-gru, s/epoch, against keras_rows_rnn.py); sst2-lstm and sst2-gru (the whole recipe's
training seconds and dev accuracy, against keras_sst2_lstm.py's seconds to its best epoch); fm-fast
(fashion-mnist-fast, training seconds to 0.93 and 0.94 test accuracy, no peer: Keras never reaches 0.92).
`check` trains a few steps of a conv net, an LSTM and a GRU on each side with ONEDNN_VERBOSE=1 and MKL_VERBOSE=1
and lists the kernels' ISAs; it fails if any AVX-512 or AMX kernel ran. Every result carries the CPU (`lscpu`
model name, whether it has AMX/AVX-512) and the settings. Results go to benchmarks/results/avx2_*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS = HERE.parent.parent / "shared" / "peers"
KERAS_PY = "/tmp/peers-venv/bin/python"
AVX2_ENV = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
FP32 = ["train.precision=fp32"]
WORKLOADS = {  # name: (recipe, kind, peer command after the script's path)
    "seed_cnn": ("fashion-mnist-cnn", "epoch", ["keras_seed_cnn.py", "--data", "fashion-mnist"]),
    "fm-lstm": ("fashion-mnist-lstm", "epoch", ["keras_rows_rnn.py", "--cell", "lstm"]),
    "fm-gru": ("fashion-mnist-gru", "epoch", ["keras_rows_rnn.py", "--cell", "gru"]),
    "sst2-lstm": ("sst2-lstm", "recipe", ["keras_sst2_lstm.py", "--cell", "lstm", "--epochs", "1"]),
    "sst2-gru": ("sst2-gru", "recipe", ["keras_sst2_lstm.py", "--cell", "gru", "--epochs", "2"]),
    "fm-fast": ("fashion-mnist-fast", "tta", None),
}


def machine(native: bool) -> dict:
    """The CPU as lscpu names it, which of AVX2/AVX-512/AMX it has, and the settings the runs get."""
    text = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"Model name:\s*(.+)", text)
    flags = set((re.search(r"Flags:\s*(.+)", text) or re.search("()", "")).group(1).split())
    return {"cpu": model.group(1).strip() if model else "?", "cores": os.cpu_count(), "avx2": "avx2" in flags,
            "avx512": "avx512f" in flags, "amx": "amx_tile" in flags,
            "env": {} if native else AVX2_ENV, "corenets_sets": [] if native else FP32,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_before": round(os.getloadavg()[0], 2)}


def child_env(native: bool, verbose: bool = False) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in AVX2_ENV}
    env.update({} if native else AVX2_ENV)
    env["PYTHONPATH"] = str(HERE.parent / "src")
    if verbose:
        env.update(ONEDNN_VERBOSE="1", MKL_VERBOSE="1")
    return env


# ---------------------------------------------------------------- corenets side (runs in a child process)

def corenets_epochs(recipe: str, epochs: int, seed: int, sets: list[str]) -> dict:
    """The recipe's model and train settings on all 60k training images (as the peers), test as validation."""
    import torch

    from corenets.config import apply_overrides
    from corenets.data import DataBundle, Split
    from corenets.experiment import load_data
    from corenets.models import create_model
    from corenets.recipes import load_recipe
    from corenets.train.device import seed_everything
    from corenets.train.loop import fit

    cfg = apply_overrides(load_recipe(recipe), [f"train.epochs={epochs}", f"seed={seed}", *sets])
    torch.set_num_threads(cfg.threads or torch.get_num_threads())
    seed_everything(seed)
    b = load_data(cfg)
    full = Split(torch.cat([b.train.x, b.val.x]), torch.cat([b.train.y, b.val.y]))
    b = DataBundle(train=full, val=b.test, test=b.test, task=b.task, input_shape=b.input_shape, classes=b.classes,
                   preprocessing=b.preprocessing)
    model = create_model(cfg.model.name, b.input_shape, b.num_outputs, **cfg.model.options)
    if not cfg.threads:  # as `corenets run` chooses them
        from corenets.experiment_torch import TorchEngine

        engine = TorchEngine(cfg)
        engine.model = model
        engine._choose_threads(b)
    rows = fit(model, b, cfg.train, seed=seed).rows
    return {"s_per_epoch": sum(r["seconds"] for r in rows) / len(rows), "test_accuracy": rows[-1]["val_accuracy"],
            "epochs": len(rows), "isa": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()}


def corenets_recipe(recipe: str, seed: int, sets: list[str]) -> dict:
    """The recipe as `corenets run` trains it: its training seconds (both fits if it refits) and test accuracy."""
    import torch

    from corenets.config import apply_overrides
    from corenets.experiment import run_config
    from corenets.recipes import load_recipe

    cfg = apply_overrides(load_recipe(recipe), [*sets, f"seed={seed}", "out=/tmp/corenets-avx2-runs"])
    run = run_config(cfg, quiet=True)
    m = json.loads((run / "metrics.json").read_text())
    return {"train_seconds": m["train_seconds"], "test_accuracy": m["test"]["accuracy"], "epochs": m.get("epochs_run"),
            "isa": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()}


def corenets_tta(recipe: str, seed: int, sets: list[str]) -> dict:
    """Training seconds to 0.93 and 0.94 test accuracy (time_to_accuracy.py's clock and checkpoints)."""
    import torch

    sys.path.insert(0, str(HERE))
    from time_to_accuracy import corenets_curve, first_reaching

    from corenets.train.threads import free_cores, usable_cores

    torch.set_num_threads(free_cores(usable_cores()))  # threads: 0's first test (a conv net gains from every free core)
    r = corenets_curve(recipe, seed, sets, [20, 30, 40, 50, 60, 75, 90, 120, 150, 200, 250])
    at60 = max((p["test_accuracy"] for p in r["points"] if p["seconds"] <= 60.5), default=None)
    return {"seconds_to_0.93": first_reaching(r["points"], 0.93), "seconds_to_0.94": first_reaching(r["points"], 0.94),
            "accuracy_by_60s": at60, "final": r["final"], "points": r["points"], "isa": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads()}


def side_corenets(workload: str, seed: int, epochs: int, sets: list[str]) -> dict:
    recipe, kind, _ = WORKLOADS[workload]
    if kind == "epoch":
        return corenets_epochs(recipe, epochs, seed, sets)
    return corenets_recipe(recipe, seed, sets) if kind == "recipe" else corenets_tta(recipe, seed, sets)


def run_corenets(workload: str, seed: int, epochs: int, sets: list[str], native: bool) -> dict:
    cmd = [sys.executable, __file__, "side", workload, "--seed", str(seed), "--epochs", str(epochs),
           "--set", *([] if native else FP32), *sets]
    out = subprocess.run(cmd, capture_output=True, text=True, env=child_env(native))
    if out.returncode:
        raise SystemExit(f"corenets side failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_peer(workload: str, seed: int, epochs: int, native: bool, data: str | None) -> dict:
    recipe, kind, cmd = WORKLOADS[workload]
    args = [KERAS_PY, str(PEERS / cmd[0]), *cmd[1:], "--seed", str(seed)]
    if kind == "epoch":
        args += ["--epochs", str(epochs)]
    elif data:
        args += ["--data-dir", data]
    out = subprocess.run(args, capture_output=True, text=True, env=child_env(native))
    if out.returncode:
        raise SystemExit(f"peer failed:\n{out.stderr[-3000:]}")
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith('{"epoch"')]
    best = max(rows, key=lambda r: r["test_accuracy"])  # the first epoch with the best accuracy
    return {"s_per_epoch": rows[-1]["train_seconds"] / len(rows), "seconds_to_best": best["train_seconds"],
            "best_epoch": best["epoch"], "test_accuracy": rows[-1]["test_accuracy"],
            "best_test_accuracy": best["test_accuracy"], "epochs": len(rows)}


# ---------------------------------------------------------------- parts

def pairs(a) -> dict:
    """corenets, peer, corenets, peer, ...: each pair with seeds 0, 1, 2, ...; medians and the ratio of medians."""
    recipe, kind, cmd = WORKLOADS[a.workload]
    data = next((s.split("=", 1)[1] for s in a.sets if s.startswith("data.path=")), None)
    res = {"workload": a.workload, "recipe": recipe, "kind": kind, "machine": machine(a.native), "sets": a.sets,
           "epochs": a.epochs if kind == "epoch" else None, "corenets": [], "peer": []}
    for i in range(a.pairs):
        res["corenets"].append(run_corenets(a.workload, i, a.epochs, a.sets, a.native))
        print(f"pair {i} corenets: {_brief(res['corenets'][-1])}", flush=True)
        if cmd and not a.no_peer:
            res["peer"].append(run_peer(a.workload, i, a.epochs, a.native, data))
            print(f"pair {i} peer:     {_brief(res['peer'][-1])} (load {os.getloadavg()[0]:.1f})", flush=True)
    res["summary"] = summarize(res)
    return res


def _brief(r: dict) -> str:
    return json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items() if k not in ("points", "final")})


def summarize(res: dict) -> dict:
    def med(side: str, key: str):
        vals = [r[key] for r in res[side] if r.get(key) is not None]
        return round(statistics.median(vals), 4) if vals and len(vals) == len(res[side]) else None

    kind, s = res["kind"], {}
    if kind == "epoch":
        s = {"corenets_s_per_epoch": med("corenets", "s_per_epoch"), "peer_s_per_epoch": med("peer", "s_per_epoch")}
        if s["peer_s_per_epoch"]:
            s["peer_over_corenets"] = round(s["peer_s_per_epoch"] / s["corenets_s_per_epoch"], 3)
    elif kind == "recipe":
        s = {"corenets_train_seconds": med("corenets", "train_seconds"), "peer_seconds_to_best": med("peer", "seconds_to_best")}
        if s["peer_seconds_to_best"]:
            s["corenets_over_peer"] = round(s["corenets_train_seconds"] / s["peer_seconds_to_best"], 3)
        s["peer_best_test_accuracy"] = med("peer", "best_test_accuracy")
    else:
        s = {k: med("corenets", k) for k in ("seconds_to_0.93", "seconds_to_0.94", "accuracy_by_60s")}
    s["corenets_test_accuracy"] = med("corenets", "test_accuracy")
    s["peer_test_accuracy"] = med("peer", "test_accuracy") if res["peer"] else None
    return s


KERAS_CHECK = """
import numpy as np, tensorflow as tf
from tensorflow.keras import layers, models
x, y = np.random.rand(256, 28, 28).astype("float32"), np.random.randint(0, 10, 256)
nets = [models.Sequential([layers.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
                           layers.Flatten(), layers.Dense(64, activation="relu"), layers.Dense(10)]),
        models.Sequential([layers.Input((28, 28)), layers.LSTM(128), layers.Dense(10)]),
        models.Sequential([layers.Input((28, 28)), layers.GRU(128), layers.Dense(10)])]
for i, m in enumerate(nets):
    m.compile(optimizer="adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    m.fit(x[..., None] if i == 0 else x, y, batch_size=64, epochs=1, verbose=0)
print("tensorflow", tf.__version__, "onednn opts", tf.__dict__.get("_onednn_opts", "?"))
"""


def kernels(text: str) -> dict:
    """What ONEDNN_VERBOSE / MKL_VERBOSE printed: each oneDNN implementation that ran (with its count) and the ISA lines."""
    impls: dict[str, int] = {}
    for line in text.splitlines():
        f = line.split(",")
        if line.startswith(("onednn_verbose", "dnnl_verbose")) and "exec" in f and len(f) > f.index("exec") + 3:
            key = f"{f[f.index('exec') + 2]} {f[f.index('exec') + 3]}"
            impls[key] = impls.get(key, 0) + 1
    isa = sorted({line.strip()[:160] for line in text.splitlines() if "isa:" in line or "enabled processors" in line})
    bad = sorted(k for k in impls if "avx512" in k or "amx" in k)
    return {"implementations": impls, "isa_lines": isa, "avx512_or_amx": bad}


def check(a) -> dict:
    """A few training steps per side with the verbose logs on: which kernels ran."""
    res = {"machine": machine(a.native), "corenets": {}, "keras": {}}
    for w in ("seed_cnn", "fm-lstm", "fm-gru"):
        cmd = [sys.executable, __file__, "side", w, "--epochs", "1", "--rows", "640", "--set",
               *([] if a.native else FP32)]
        out = subprocess.run(cmd, capture_output=True, text=True, env=child_env(a.native, verbose=True))
        res["corenets"][w] = {**kernels(out.stdout + out.stderr), "aten": json.loads(out.stdout.splitlines()[-1])["isa"]}
    env = child_env(a.native, verbose=True)
    out = subprocess.run([KERAS_PY, "-c", KERAS_CHECK], capture_output=True, text=True, env=env)
    res["keras"] = {**kernels(out.stdout + out.stderr), "tf_enable_onednn_opts": env.get("TF_ENABLE_ONEDNN_OPTS", "unset (default on)"),
                    "tail": (out.stdout + out.stderr).strip().splitlines()[-1:]}
    bad = {k: v["avx512_or_amx"] for k, v in res["corenets"].items() if v["avx512_or_amx"]}
    res["ok"] = a.native or (not bad and not res["keras"]["avx512_or_amx"]
                             and all(v["aten"] == "AVX2" for v in res["corenets"].values()))
    return res


def profile_side(workload: str, steps: int, sets: list[str]) -> dict:
    """`steps` training steps of the recipe under torch.profiler: top operators and achieved FLOP/s."""
    import torch
    from torch.profiler import ProfilerActivity, profile
    from torch.utils.flop_counter import FlopCounterMode

    from corenets.config import apply_overrides
    from corenets.data import Split
    from corenets.experiment import load_data
    from corenets.models import build_model
    from corenets.recipes import load_recipe
    from corenets.train.loop import fit

    cfg = apply_overrides(load_recipe(WORKLOADS[workload][0]), [*sets, "train.epochs=1"])
    torch.set_num_threads(cfg.threads or torch.get_num_threads())
    b = load_data(cfg)
    bs, full, c = cfg.train.batch_size, b.train, cfg.model
    model = build_model(c.name, b.input_shape, b.num_outputs, c.options, c.members, b.task, facts=b.facts)
    b.train = Split(full.x[:bs * 8], full.y[:bs * 8])
    with FlopCounterMode(display=False) as fc:  # also the warm-up: oneDNN picks its kernels on the first steps
        fit(model, b, cfg.train, validate=False)
    flops_per_row = fc.get_total_flops() / len(b.train)
    b.train = Split(full.x[:bs * steps], full.y[:bs * steps])
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t = time.perf_counter()
        fit(model, b, cfg.train, validate=False)
        seconds = time.perf_counter() - t
    rows = len(b.train)
    return {"workload": workload, "steps": steps, "batch_size": bs, "train_flops_per_row": flops_per_row,
            "rows_per_second": rows / seconds, "achieved_gflops": flops_per_row * rows / seconds / 1e9,
            "threads": torch.get_num_threads(), "isa": torch.backends.cpu.get_cpu_capability(),
            "top_ops": prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)}


def side(a) -> dict:
    if a.profile:
        return profile_side(a.workload, a.steps, a.sets)
    if a.rows:  # the kernel check: a few steps on `rows` training images
        import corenets.experiment as ex

        load = ex.load_data

        def small(cfg):
            b = load(cfg)
            b.train.x, b.train.y, b.test.x, b.test.y = b.train.x[:a.rows], b.train.y[:a.rows], b.test.x[:256], b.test.y[:256]
            b.val.x, b.val.y = b.val.x[:256], b.val.y[:256]
            return b

        ex.load_data = small
    return side_corenets(a.workload, a.seed, a.epochs, a.sets)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("part", choices=["pairs", "check", "profile", "side"])
    p.add_argument("workload", nargs="?", default="seed_cnn", choices=list(WORKLOADS))
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2, help="epochs per run for the per-epoch workloads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=100, help="profile: training steps")
    p.add_argument("--rows", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--set", dest="sets", nargs="*", default=[], help="recipe overrides, e.g. data.path=PATH/TO/sst2")
    p.add_argument("--native", action="store_true", help="no kernel restrictions, the recipe's own precision (AMX)")
    p.add_argument("--no-peer", action="store_true")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    if a.part == "side":
        print(json.dumps(side(a)))
        return
    if a.part == "profile":
        cmd = [sys.executable, __file__, "side", a.workload, "--profile", "--steps", str(a.steps), "--set",
               *([] if a.native else FP32), *a.sets]
        out = subprocess.run(cmd, capture_output=True, text=True, env=child_env(a.native))
        if out.returncode:
            raise SystemExit(out.stderr[-3000:])
        result = {"machine": machine(a.native), **json.loads(out.stdout.strip().splitlines()[-1])}
        print(result["top_ops"])
    else:
        result = pairs(a) if a.part == "pairs" else check(a)
    tag = f"{a.part}_{a.workload}" if a.part != "check" else "check"
    out = Path(a.out or HERE / "results" / f"avx2_{tag}{'_native' if a.native else ''}.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k not in ("top_ops", "corenets", "peer")}, indent=1)[:4000])


if __name__ == "__main__":
    main()
