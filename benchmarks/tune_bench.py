"""Issue 20's numbers: pruning pays, lr-find lands near the grid's best rate, two workers scale.

    .venv/bin/python benchmarks/tune_bench.py pruning  --recipe quickstart --trials 30 --epochs 10 --studies 3
    .venv/bin/python benchmarks/tune_bench.py lrfind   --recipe quickstart
    .venv/bin/python benchmarks/tune_bench.py workers  --trials 20 --epochs 5
    .venv/bin/python benchmarks/tune_bench.py phases   --trials 20 --epochs 5
    .venv/bin/python benchmarks/tune_bench.py budget   --recipe fashion-mnist-cnn-bn --trials 8 --epochs 3 --pruner none --set threads=1

Each writes a JSON record to benchmarks/results/tune_<what>.json and prints one line per measurement.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def pruning(a) -> dict:
    """Best validation value and training epochs of `studies` studies with the median pruner and with none.

    Study k of either arm has seed k (the same split, initialisation and TPE seed). The none arm does not depend on
    the pruner's settings, so a finished study is kept in the results file and reused; --redo ARM reruns an arm."""
    import corenets as cn

    path = RESULTS / f"tune_pruning_{a.recipe}{'_cv' + str(a.cv) if a.cv else ''}.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    out = {}
    for pruner in a.arms:
        kept = [] if pruner in a.redo else old.get(pruner, {}).get("studies", [])
        rows = kept[:a.studies]
        for k in range(len(rows), a.studies):
            with tempfile.TemporaryDirectory() as tmp:
                over = [f"train.epochs={a.epochs}", f"seed={k}", *a.set]
                if a.cv:
                    over.append(f"cv={a.cv}")
                t0 = time.perf_counter()
                s = cn.tune(a.recipe, trials=a.trials, overrides=over, pruner=pruner, out=a.workdir or tmp,
                            study=f"{pruner}-{k}", final=False)
                rows.append({"seed": k, "best": s.best_value, "epochs": s.epochs, "pruned": s.pruned,
                             "seconds": time.perf_counter() - t0})
                print(pruner, k, rows[-1], flush=True)
        out[pruner] = {"studies": rows, "median_best": statistics.median(r["best"] for r in rows),
                       "median_epochs": statistics.median(r["epochs"] for r in rows)}
    if set(out) != {"median", "none"}:  # one arm now, the other later (the file keeps both)
        path.write_text(json.dumps({"args": vars(a), **old, **out}, indent=2))
        return out
    out["epoch_ratio"] = out["median"]["median_epochs"] / out["none"]["median_epochs"]
    out["best_gap"] = out["median"]["median_best"] - out["none"]["median_best"]
    # the same seed is the same split and the same first trials: the paired gap is the pruner's own cost
    gaps = [m["best"] - n["best"] for m, n in zip(out["median"]["studies"], out["none"]["studies"])]
    out["paired_gaps"] = gaps
    out["median_paired_gap"] = statistics.median(gaps)
    path.write_text(json.dumps({"args": vars(a), **out}, indent=2))
    print(json.dumps({k: v for k, v in out.items() if k not in ("median", "none")}))
    return out


def lrfind(a) -> dict:
    """lr-find's suggestion against the best of a log grid 1e-4 .. 1, one epoch each (validation loss)."""
    import corenets as cn
    from corenets.runs import load_run  # noqa: F401  (history is read from the run folder)

    grid = [10 ** (e / 2) for e in range(-8, 1)]  # 1e-4, 3e-4, ..., 1
    partial = RESULTS / f"tune_lrfind_{a.recipe}.grid.json"  # each grid point as it finishes; a rerun resumes
    kept = json.loads(partial.read_text()) if partial.exists() else {}
    scores = {lr: kept[f"{lr:.0e}"] for lr in grid if f"{lr:.0e}" in kept}
    with tempfile.TemporaryDirectory() as tmp:
        for lr in grid:
            if lr in scores:
                continue
            try:
                run = cn.run_recipe(a.recipe, f"train.lr={lr}", "train.epochs=1", *a.set, out=tmp, quiet=True)
            except cn.CorenetsError as e:  # a rate that diverges scores nothing
                print(f"lr {lr:.0e}: {e}", flush=True)
                scores[lr] = math.nan
                partial.write_text(json.dumps({f"{k:.0e}": v for k, v in scores.items()}, indent=2))
                continue
            lines = (Path(run) / "history.csv").read_text().splitlines()
            col = lines[0].split(",").index("val_loss")
            scores[lr] = float(lines[1].split(",")[col])
            print(f"lr {lr:.0e}: val_loss {scores[lr]:.4f}", flush=True)
            partial.write_text(json.dumps({f"{k:.0e}": v for k, v in scores.items()}, indent=2))
        r = cn.lr_find(a.recipe, *a.set, out=Path(tmp) / "lr.png")
    finite = {k: v for k, v in scores.items() if math.isfinite(v)}
    best = min(finite, key=finite.get)
    factor = max(r.suggestion / best, best / r.suggestion)
    print(f"grid best {best:.0e}, lr-find {r.suggestion:.3g}: factor {factor:.2f}", flush=True)
    return {"grid": scores, "grid_best": best, "suggestion": r.suggestion, "factor": factor,
            "steps": len(r.lrs)}


def _phases(study_dir: Path, started: float, ended: float) -> dict:
    """Where a study's wall time went, from the trials' own start and end times in its journal: before the first
    trial (interpreter, imports, plan, spawning), inside trials (summed over workers), after the last (the report)."""
    import optuna

    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(next(study_dir.rglob("study.journal")))))
    study = optuna.load_study(study_name=optuna.get_all_study_names(storage)[0], storage=storage)
    trials = [t for t in study.trials if t.datetime_complete]
    first = min(t.datetime_start.timestamp() for t in trials)
    last = max(t.datetime_complete.timestamp() for t in trials)
    starts: dict[str, float] = {}
    for t in trials:
        w = str(t.user_attrs.get("worker"))
        starts[w] = min(starts.get(w, math.inf), t.datetime_start.timestamp() - started)
    return {"before_first_trial": first - started, "after_last_trial": ended - last,
            "first_trial_of_each_worker": sorted(starts.values()),
            "trial_seconds": sum((t.datetime_complete - t.datetime_start).total_seconds() for t in trials),
            "trials": len(trials)}


def workers(a) -> dict:
    """Wall time of a `trials`-trial study with one local worker and with two (separate processes, timed outside),
    with the CPU seconds the processes used and where the wall time went (_phases)."""
    import resource

    out = {}
    for n in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "corenets", "tune", a.recipe, "--trials", str(a.trials), "--workers", str(n),
                   "--pruner", "none", "--no-final", "--out", tmp, "--set", f"train.epochs={a.epochs}", "threads=1",
                   *a.set]
            cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0, w0 = time.perf_counter(), time.time()
            subprocess.run(cmd, check=True, capture_output=True)
            wall, cpu1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
            out[n] = wall
            out[f"{n}_detail"] = {"cpu_seconds": cpu, "cores_busy": cpu / wall, "loadavg_after": os.getloadavg(),
                                  **_phases(Path(tmp), w0, w0 + wall)}
            print(f"{n} worker(s): {wall:.1f} s", out[f"{n}_detail"], flush=True)
    out["ratio"] = out[2] / out[1]
    return out


def phases(a) -> dict:
    """CPU seconds (not wall: they barely move with the machine's load) of each part of a one-worker study: the
    interpreter and imports a spawned worker repeats, plan, the trials, and the end (best.yaml, the report).
    The serial share bounds what two workers can reach on two free cores: (serial + (trials + import) / 2) / total."""
    cmd = [sys.executable, "-c", "import corenets.tune.final, corenets.experiment, torch, optuna, sklearn"]
    t = time.process_time
    imports = []
    for _ in range(3):
        before = os.times()
        subprocess.run(cmd, check=True)
        after = os.times()
        imports.append(after.children_user - before.children_user + after.children_system - before.children_system)
    from corenets.tune.final import finish
    from corenets.tune.study import plan, work

    with tempfile.TemporaryDirectory() as tmp:
        c0 = t()
        spec = plan(a.recipe, a.trials, (), [f"train.epochs={a.epochs}", "threads=1", *a.set], "none", out=tmp)
        c1 = t()
        work(spec)
        c2 = t()
        finish(spec, final=False)
        c3 = t()
    out = {"import_cpu_s": statistics.median(imports), "plan_cpu_s": c1 - c0, "trials_cpu_s": c2 - c1,
           "finish_cpu_s": c3 - c2}
    serial = out["import_cpu_s"] + out["plan_cpu_s"] + out["finish_cpu_s"]
    total = serial + out["trials_cpu_s"]
    out["serial_share"] = serial / total
    # the second worker's interpreter starts while the first runs trials: the first is one import ahead
    out["best_two_worker_ratio"] = (serial + (out["trials_cpu_s"] + out["import_cpu_s"]) / 2) / total
    print(out, flush=True)
    return out


def _test_accuracy(run) -> dict:
    m = json.loads((Path(run) / "metrics.json").read_text())
    return {"test_accuracy": m["test"]["accuracy"], "best_epoch": m["best_epoch"], "train_seconds": m["train_seconds"]}


def budget(a) -> dict:
    """Tuning for a fixed budget: a study of `trials` trials of `epochs` epochs each (validation only), then the best
    config and the recipe's own, each trained for the recipe's full epochs and scored on test once per seed.

    Resumable: each finished step is kept in the results file and skipped when the command runs again."""
    import corenets as cn

    path = RESULTS / f"tune_budget_{a.recipe}.json"
    state = json.loads(path.read_text()) if path.exists() else {}
    work = Path(a.workdir or tempfile.mkdtemp(prefix="tune-budget-"))
    if "study" not in state:
        t0 = time.perf_counter()
        s = cn.tune(a.recipe, trials=a.trials, overrides=[f"train.epochs={a.epochs}", *a.set], out=str(work),
                    pruner=a.pruner, final=False)
        state["study"] = {"trials": a.trials, "trial_epochs": a.epochs, "complete": s.complete, "pruned": s.pruned,
                          "failed": s.failed, "pruner": a.pruner, "epochs": s.epochs, "best_value": s.best_value,
                          "best_params": s.best_params, "seconds": time.perf_counter() - t0}
        path.write_text(json.dumps(state, indent=2))
        print("study", state["study"], flush=True)
    best = [f"{k}={v}" for k, v in state["study"]["best_params"].items()]
    for seed in a.seeds:
        for label, over in (("best", best), ("recipe", [])):
            key = f"{label}_seed{seed}"
            if key in state:
                continue
            run = cn.run_recipe(a.recipe, *over, *a.set, seed=seed, out=str(work / "final"), quiet=True)
            state[key] = _test_accuracy(run)
            path.write_text(json.dumps(state, indent=2))
            print(key, state[key], flush=True)
    for label in ("best", "recipe"):
        accs = [state[f"{label}_seed{s}"]["test_accuracy"] for s in a.seeds if f"{label}_seed{s}" in state]
        if accs:
            state[f"{label}_median_test_accuracy"] = statistics.median(accs)
    path.write_text(json.dumps(state, indent=2))
    return state


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["pruning", "lrfind", "workers", "budget", "phases"])
    p.add_argument("--recipe", default="quickstart")
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--studies", type=int, default=3)
    p.add_argument("--cv", type=int, default=0)
    p.add_argument("--set", nargs="*", default=[])
    p.add_argument("--arms", nargs="*", default=["median", "none"], help="pruning: which arms to run")
    p.add_argument("--redo", nargs="*", default=[], help="pruning: arms to rerun instead of reusing")
    p.add_argument("--pruner", default="median", help="budget: the study's pruner")
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    p.add_argument("--workdir", help="pruning/budget: where the studies and the final runs live (kept, so a rerun resumes)")
    a = p.parse_args()
    result = {"pruning": pruning, "lrfind": lrfind, "workers": workers, "budget": budget, "phases": phases}[a.what](a)
    if a.what in ("budget", "pruning"):  # each writes its own file as it goes
        return
    RESULTS.mkdir(exist_ok=True)
    name = f"tune_{a.what}_{a.recipe}{'_cv' + str(a.cv) if a.cv else ''}.json"
    (RESULTS / name).write_text(json.dumps({"args": vars(a), **{str(k): v for k, v in result.items()}}, indent=2))
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, dict)}))


if __name__ == "__main__":
    main()
