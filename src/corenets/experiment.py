"""One experiment end to end: config -> data -> model -> fit -> evaluate -> run folder and report."""

from __future__ import annotations

import dataclasses
import json
import platform
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import runs
from .config import RunConfig, dump_yaml, load_yaml, to_dict
from .data import load_dataset
from .data.bundle import DataBundle, Split, SplitSpec
from .errors import ConfigError, Interrupted, RunFolderError, TrainingError
from .evaluate import metrics as M
from .evaluate import plots
from .evaluate.report import build_report
from .models import build_model, count_parameters
from .train.callbacks import Checkpoint, EarlyStopping, GracefulInterrupt, ProgressBar, StopAfter, TensorBoard
from .train.device import seed_everything, select_device
from .train.distributed import World
from .train.loop import fit, predict_outputs

# Keys that may differ between a run and its --resume: they change where and how long, not what is learned.
RESUME_FREE = {"out", "device", "threads", "train.epochs", "description"}


def versions() -> dict[str, str]:
    import sklearn

    return {"corenets": runs.corenets_version(), "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "scikit-learn": sklearn.__version__}


def load_data(cfg: RunConfig) -> DataBundle:
    spec = SplitSpec(seed=cfg.seed, val_fraction=cfg.data.val_fraction, test_fraction=cfg.data.test_fraction,
                     folds=cfg.cv, fold=max(cfg.fold - 1, 0))
    return load_dataset(cfg.data.name, spec, **cfg.data.options)


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and k in ("data", "model", "train"):
            out.update(_flat(v, f"{k}."))
        else:
            out[prefix + k] = v
    return out


def check_resume(cfg: RunConfig, run_dir: Path) -> dict[str, Any]:
    """The last.pt state of `run_dir`, after checking that its config is compatible with `cfg`."""
    runs.resumable(run_dir)
    saved = _flat(to_dict(load_yaml(run_dir / "config.yaml")))
    now = _flat(to_dict(cfg))
    free = set(RESUME_FREE)
    if now.get("train.schedule") in ("cosine", "onecycle"):
        free.discard("train.epochs")  # these schedules are laid out over the planned length; it cannot change midway
    diff = sorted(k for k in set(saved) | set(now) if k not in free and saved.get(k) != now.get(k))
    if diff:
        shown = ", ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in diff[:5])
        raise RunFolderError(f"cannot resume {run_dir}: it was made by a different config ({shown}); resume with "
                             f"`corenets run --config {run_dir / 'config.yaml'} --resume {run_dir}`")
    state = runs.load_checkpoint(run_dir / "last.pt")
    return state


def run_config(cfg: RunConfig, resume: str | Path | None = None, quiet: bool = False) -> Path:
    """Train and evaluate one config; returns the run folder. With cfg.cv >= 2 and fold 0, runs every fold."""
    if cfg.cv >= 2 and cfg.fold == 0:
        return run_cv(cfg, quiet=quiet)
    if cfg.engine == "scratch":  # the NumPy engine trains; data, metrics and run folder stay the same
        from .experiment_scratch import run_scratch_config

        return run_scratch_config(cfg, resume=resume, quiet=quiet)
    if cfg.train.refit and cfg.train.schedule == "plateau":
        raise ConfigError("train.refit replays the chosen epochs' learning rates, but schedule 'plateau' sets them "
                          "from validation loss, which a refit on training + validation has not; use cosine, step, "
                          "linear or none, or set train.refit=false")
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed, cfg.deterministic)
    device = select_device(cfg.device)
    world = World.from_env(device)  # one process, or this rank of torchrun's; only rank 0 writes
    device, quiet = world.place(device), quiet or not world.is_main
    if world.size > 1 and cfg.cv >= 2:
        raise ConfigError("--cv runs its folds one after another in one process; leave out --nproc/torchrun")
    if resume is not None:
        run_dir = Path(resume)
        state = check_resume(cfg, run_dir)
        resume_state = state["train_state"]
    else:
        run_dir, resume_state = None, None
    with world.guard(), world.main_first():  # rank 0 downloads and caches first
        bundle = load_data(cfg)  # before creating the folder: bad data leaves no half-made run behind
    model = build_model(cfg.model.name, bundle.input_shape, bundle.num_outputs, cfg.model.options, cfg.model.members,
                        bundle.task)
    if run_dir is None and world.is_main:
        run_dir = runs.new_run_dir(cfg.out, cfg.name if cfg.fold == 0 else f"fold-{cfg.fold}")
    if world.is_main:
        runs.check_free_space(run_dir, model)  # a full disk found now, not after the first epoch
        runs.atomic_write_text(run_dir / "config.yaml", dump_yaml(cfg))
        (run_dir / "plots").mkdir(exist_ok=True)
        runs.atomic_write_text(run_dir / "summary.txt", model_summary(model, bundle))
    if not quiet:
        print(f"run folder: {run_dir}", flush=True)
    tcfg = cfg.train
    best = {"epoch": 0}

    def save_best(m: torch.nn.Module, epoch: int) -> None:
        best["epoch"] = epoch
        if world.is_main:
            runs.save_model(run_dir / "model.pt", m, runs.model_spec(cfg, bundle, epoch))

    def save_last(st) -> None:
        if not world.is_main:
            return
        runs.atomic_save({"format_version": runs.FORMAT_VERSION, "train_state": st.state_dict(), "best_epoch": best["epoch"]},
                         run_dir / "last.pt")
        runs.write_history(run_dir / "history.csv", history_of(st))

    callbacks: list = [ProgressBar(quiet=quiet), GracefulInterrupt()]
    if tcfg.early_stopping > 0:
        callbacks.append(EarlyStopping(tcfg.monitor, tcfg.mode, tcfg.early_stopping, tcfg.min_delta, restore_best=False))
    if tcfg.tensorboard:
        callbacks.append(TensorBoard(str(run_dir / "tensorboard")))
    callbacks.append(Checkpoint(save_best, save_last, tcfg.monitor, tcfg.mode))
    if resume_state is not None:
        best["epoch"] = state.get("best_epoch", 0)
        if len(resume_state["callbacks"]) != len(callbacks) + 2:
            raise RunFolderError(f"cannot resume {run_dir}: its checkpoint holds a different set of callbacks")
    t0 = time.perf_counter()
    again = f"corenets run --config {run_dir}/config.yaml --resume {run_dir}"
    try:
        with world.guard():
            history = fit(model, bundle, tcfg, callbacks, device=device, seed=cfg.seed, resume=resume_state, world=world)
    except Interrupted as e:
        raise Interrupted(f"{e}; a resumable checkpoint is in {run_dir}/last.pt. Resume with: {again}") from None
    except TrainingError as e:
        raise TrainingError(f"{e} (run folder: {run_dir}; model.pt holds epoch {best['epoch']})") from None
    except RunFolderError as e:  # a write failed mid-run (full disk): the previous last.pt is intact
        raise RunFolderError(f"{e}. The last good checkpoint is kept: resume with {again}") from None
    refit = None
    if tcfg.refit:
        chosen = best["epoch"] if tcfg.restore_best and best["epoch"] > 0 else len(history.rows)
        try:
            with world.guard():
                model, refit = refit_model(cfg, bundle, chosen, device, world, quiet)
        except Interrupted:
            raise Interrupted(f"interrupted in the refit on training + validation; model.pt holds the selection "
                              f"fit's epoch {best['epoch']}, and resuming redoes the refit: {again}") from None
        except TrainingError as e:
            raise TrainingError(f"{e} in the refit on training + validation (run folder: {run_dir}; model.pt holds "
                                f"the selection fit's epoch {best['epoch']}; set train.refit=false to keep it)") from None
    wall = time.perf_counter() - t0
    if not world.is_main:
        world.close()
        return None
    runs.write_history(run_dir / "history.csv", history.rows)  # a kill between last.pt and history.csv lost the last row
    if refit is not None:  # the refit model replaces the selection fit's in model.pt
        save_best(model, refit["epochs"])
    elif tcfg.restore_best and (run_dir / "model.pt").is_file():
        model.load_state_dict(runs.load_checkpoint(run_dir / "model.pt")["state_dict"])
    else:  # the last weights are the answer: model.pt must hold them
        save_best(model, len(history.rows))
    test = evaluate_model(model, bundle, run_dir, device, tta=tcfg.tta)
    rows = history.rows
    info = {
        "recipe": cfg.name, "description": cfg.description, "task": bundle.task, "test": test,
        "best_epoch": best["epoch"], "epochs_run": len(rows), "monitor": tcfg.monitor, "stopped": history.stopped,
        "train_seconds": float(sum(r["seconds"] for r in rows)) + (refit["train_seconds"] if refit else 0.0),
        "wall_seconds": wall, "refit": refit,
        "parameters": count_parameters(model), "members": cfg.model.members, "seed": cfg.seed, "device": str(device),
        "threads": torch.get_num_threads(),
        "batch_size": {"per_process": tcfg.batch_size, "processes": world.size, "global": tcfg.batch_size * world.size,
                       "semantics": "per process: each of the processes draws batch_size rows per step"},
        "data": {**bundle.sizes(), "dataset": bundle.meta.get("dataset", cfg.data.name), "input_shape": list(bundle.input_shape),
                 "classes": bundle.classes},
        "versions": versions(), "finished": datetime.now().isoformat(timespec="seconds"),
        "notes": bundle.meta.get("notes", []) + ([
            f"refit: the final model was trained afresh on training + validation rows ({refit['rows']:,}) for "
            f"{refit['epochs']} epoch(s), the count chosen on validation; the validation curve and figures are "
            f"those of the selection fit, and the test figures are the refit model's"] if refit else []),
    }
    plots.curves(rows, run_dir / "plots" / "curves.png", "accuracy" if bundle.task != "regression" else "rmse")
    runs.write_json(run_dir / "metrics.json", info)
    build_report(run_dir)
    world.close()
    return run_dir


def refit_model(cfg: RunConfig, bundle: DataBundle, epochs: int, device: torch.device, world: World,
                quiet: bool) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A fresh model (same seed) trained on training + validation rows for the `epochs` chosen on validation.

    The schedule keeps its full length and training stops after `epochs`, so the refit replays the chosen
    model's learning-rate path on more rows: training, validation, and the rows withheld only to keep validation
    leak-free (SST-2's phrases of validation sentences). Nothing is validated: every labelled row is trained on.
    Preprocessing (scaler, vocabulary) stays fitted on the training part.
    """
    seed_everything(cfg.seed, cfg.deterministic)
    model = build_model(cfg.model.name, bundle.input_shape, bundle.num_outputs, cfg.model.options, cfg.model.members,
                        bundle.task)
    parts = [bundle.train, bundle.val] + ([bundle.withheld()] if bundle.withheld is not None else [])
    both = Split(torch.cat([p.x for p in parts]), torch.cat([p.y for p in parts]))
    if not quiet:
        print(f"refit on training + validation ({len(both):,} rows) for {epochs} epoch(s)", flush=True)
    callbacks = [ProgressBar(quiet=quiet), GracefulInterrupt(), StopAfter(epochs)]
    history = fit(model, dataclasses.replace(bundle, train=both), cfg.train, callbacks, device=device, seed=cfg.seed,
                  world=world, validate=False)
    return model, {"epochs": epochs, "rows": len(both), "train_seconds": float(sum(r["seconds"] for r in history.rows))}


def history_of(state) -> list[dict[str, float]]:
    from .train.callbacks import History

    return next(cb.rows for cb in state.callbacks if isinstance(cb, History))


def model_summary(model: torch.nn.Module, bundle: DataBundle) -> str:
    from torchinfo import summary

    x = bundle.train.x[:2]
    try:
        return str(summary(model, input_data=[x], verbose=0, depth=4, col_names=("output_size", "num_params"),
                           device="cpu"))
    except Exception as e:  # a summary is a courtesy; never lose a run over it
        return f"{model}\n\n(torchinfo could not trace this model: {e})\nparameters: {count_parameters(model)}"


def evaluate_model(model: torch.nn.Module, bundle: DataBundle, run_dir: Path, device: torch.device | str = "cpu",
                   tta: str = "none") -> dict[str, Any]:
    """Test metrics with baselines, and their plots, from the model as it is now (tta="flip": mirrored images too)."""
    from .train.augment import FlipTTA

    scorer = FlipTTA(model) if tta == "flip" else model
    return evaluate_outputs(predict_outputs(scorer, bundle.test.x, 1024, device).numpy(), bundle, run_dir)


def evaluate_outputs(out: np.ndarray, bundle: DataBundle, run_dir: Path) -> dict[str, Any]:
    """Test metrics and plots from the model's raw test outputs (N, num_outputs), whichever engine made them."""
    y = bundle.test.y.numpy()
    plot_dir = run_dir / "plots"
    if "series" in bundle.meta:  # price_csv: RMSE/MAE/MAPE in prices beside persistence (evaluate/forecast.py)
        from .evaluate.forecast import evaluate_forecast

        return evaluate_forecast(out, bundle, plot_dir)
    if bundle.task == "regression":
        inv = bundle.preprocessing.inverse_target
        y_true = inv(torch.from_numpy(y.astype(np.float64))).numpy()
        y_pred = inv(torch.from_numpy(out.reshape(-1).astype(np.float64))).numpy()
        y_train = inv(bundle.train.y.double()).numpy()
        result = M.regression_metrics(y_true, y_pred, y_train)
        plots.predicted_vs_actual(y_true, y_pred, plot_dir / "predicted_vs_actual.png")
        return result
    proba = M.probabilities(out, bundle.task)
    result = M.classification_metrics(y, proba, bundle.classes, bundle.train.y.numpy())
    plots.confusion(result["confusion_matrix"], bundle.classes, plot_dir / "confusion.png")
    plots.roc(y, proba, bundle.classes, plot_dir / "roc.png")
    if bundle.preprocessing.kind == "image":  # sample grid, top losses, per-class accuracy
        from .evaluate.vision_plots import vision_plots

        vision_plots(bundle.test.x.numpy(), y, proba, bundle.classes, bundle.preprocessing.state, plot_dir)
    return result


def run_cv(cfg: RunConfig, quiet: bool = False) -> Path:
    """K folds, each a full run folder inside one parent; the parent reports mean ± std."""
    parent = runs.new_run_dir(cfg.out, f"{cfg.name}-cv{cfg.cv}")
    runs.atomic_write_text(parent / "config.yaml", dump_yaml(cfg))
    if not quiet:
        print(f"cross-validation folder: {parent}", flush=True)
    folds = []
    for k in range(1, cfg.cv + 1):
        fold_cfg = dataclasses.replace(cfg, fold=k, out=str(parent))
        if not quiet:
            print(f"--- fold {k}/{cfg.cv}", flush=True)
        folds.append(run_config(fold_cfg, quiet=quiet))
    fold_metrics = [json.loads((f / "metrics.json").read_text()) for f in folds]
    task = fold_metrics[0]["task"]
    summary = M.summarize_folds([m["test"] for m in fold_metrics], task)
    info = {
        "recipe": cfg.name, "description": cfg.description, "task": task, "cv": cfg.cv, "test": summary,
        "folds": [f.name for f in folds], "train_seconds": float(sum(m["train_seconds"] for m in fold_metrics)),
        "parameters": fold_metrics[0]["parameters"], "members": cfg.model.members, "seed": cfg.seed,
        "device": fold_metrics[0]["device"],
        "data": {**fold_metrics[0]["data"], "train": "per fold", "val": "per fold", "test": "one fold each"},
        "versions": versions(), "finished": datetime.now().isoformat(timespec="seconds"),
        "notes": [f"{cfg.cv}-fold stratified cross-validation: each fold's rows are the test set once; validation "
                  "is carved from the other folds, so no test row ever chooses a model. Each fold folder is a full run."],
    }
    runs.write_json(parent / "metrics.json", info)
    build_report(parent)
    return parent


def summary_line(run_dir: Path) -> str:
    m = json.loads((Path(run_dir) / "metrics.json").read_text())
    test, base = m["test"], m["test"].get("baseline", {})
    parts = []
    for k, v in M.headline(test, m["task"]).items():
        val = f"{v['mean']:.4f} ± {v['std']:.4f}" if isinstance(v, dict) else f"{v:.4f}"
        b = base.get(k)
        parts.append(f"{k} {val}" + (f" (baseline {b:.4f})" if isinstance(b, float) else ""))
    return "test: " + ", ".join(parts)
