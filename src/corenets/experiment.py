"""One experiment, top to bottom: prepare, open the folder, fit, optional refit, finalize, evaluate, write.

`prepare` does everything that can fail on the user's input (data, model, pre-run checks) before the first
write, so a mistake leaves nothing on disk. The engine (engine: torch or scratch, engines.Engine) trains; the
rest is the same for both: one DataBundle, one set of metrics and plots, one run record (record.py).
"""

from __future__ import annotations

import dataclasses
import platform
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import compat, preflight, runs
from .config import RunConfig, dump_yaml, load_yaml, to_dict
from .data import load_dataset
from .data.bundle import DataBundle, SplitSpec
from .engines import Engine, Fitted
from .errors import RunFolderError
from .evaluate import baselines
from .evaluate import metrics as M
from .evaluate import plots
from .evaluate.report import build_report
from .record import Metrics, describe, flat_config, read_metrics, write_metrics

# Keys that may differ between a run and its --resume: they change where and how long, not what is learned.
RESUME_FREE = {"out", "device", "threads", "train.epochs", "description"}


@dataclasses.dataclass
class Prepared:
    """A run that passed every check and has written nothing yet."""

    cfg: RunConfig
    bundle: DataBundle
    engine: Engine
    quiet: bool
    run_dir: Path | None = None  # the folder being resumed, until open_folder makes a new one
    resume: dict[str, Any] | None = None  # last.pt's training state
    score_test: bool = True  # False: a tuning trial, chosen on validation, never scores the test split


def versions() -> dict[str, str]:
    import sklearn

    return {"corenets": runs.corenets_version(), "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "scikit-learn": sklearn.__version__}


def load_data(cfg: RunConfig) -> DataBundle:
    return load_dataset(cfg.data.name, SplitSpec.of_config(cfg), **cfg.data.options)


def check_resume(cfg: RunConfig, run_dir: Path) -> None:
    """Raise RunFolderError unless `run_dir` is an unfinished run made by a config compatible with `cfg`."""
    if (Path(run_dir) / "config.yaml").is_file():  # a different config is named first, finished or not
        _check_same_config(cfg, run_dir)
    runs.resumable(run_dir)  # a folder, a run, unfinished, past its first epoch


def _check_same_config(cfg: RunConfig, run_dir: Path) -> None:
    saved = flat_config(to_dict(load_yaml(run_dir / "config.yaml")))
    now = flat_config(to_dict(cfg))
    free = set(RESUME_FREE)
    if now.get("train.schedule") in ("cosine", "onecycle"):
        free.discard("train.epochs")  # these schedules are laid out over the planned length; it cannot change midway
    diff = sorted(k for k in set(saved) | set(now) if k not in free and saved.get(k) != now.get(k))
    if diff:
        shown = ", ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in diff[:5])
        raise RunFolderError(f"cannot resume {run_dir}: it was made by a different config ({shown}); resume with "
                             f"`corenets run --config {run_dir / 'config.yaml'} --resume {run_dir}`")


def make_engine(cfg: RunConfig) -> Engine:
    if cfg.engine == "scratch":  # the NumPy engine trains; data, metrics and run folder stay the same
        from .experiment_scratch import ScratchEngine

        return ScratchEngine(cfg)
    from .experiment_torch import TorchEngine

    return TorchEngine(cfg)


# ------------------------------------------------------------------ the steps


def run_config(cfg: RunConfig, resume: str | Path | None = None, quiet: bool = False) -> Path | None:
    """Train and evaluate one config; returns the run folder (None on a torchrun rank other than 0).

    With cfg.cv >= 2 and fold 0, runs every fold inside one parent folder (run_cv).
    """
    if cfg.cv >= 2 and cfg.fold == 0:
        return run_cv(cfg, quiet=quiet)
    return run_prepared(prepare(cfg, resume, quiet))


def prepare(cfg: RunConfig, resume: str | Path | None = None, quiet: bool = False) -> Prepared:
    """Load the data, build the model and run every pre-run check; nothing is written."""
    engine = make_engine(cfg)
    run = Prepared(cfg, None, engine, quiet or not engine.is_main)
    if resume is not None:
        run.run_dir = Path(resume)
        check_resume(cfg, run.run_dir)
        run.resume = engine.resume_state(run.run_dir)
    run.bundle = engine.load_data(load_data)
    compat.check_model_fits(cfg.model.name, run.bundle)
    preflight.check_before_run(cfg, run.bundle, engine.device)  # before build: it sizes the model on the meta device
    engine.build(run.bundle)
    return run


def run_prepared(run: Prepared) -> Path | None:
    """The steps after `prepare`: the first write, training, the test, the record."""
    open_folder(run)
    t0 = time.perf_counter()
    fitted = run.engine.fit(run.bundle, run.run_dir, run.resume, run.quiet)
    if run.cfg.train.refit:
        fitted = run.engine.refit(run.bundle, run.run_dir, fitted, run.quiet)
    wall = time.perf_counter() - t0
    if not run.engine.is_main:
        run.engine.close()
        return None
    runs.write_history(run.run_dir / "history.csv", fitted.rows)  # a kill between last.pt and history.csv lost a row
    run.engine.finalize(run.bundle, run.run_dir, fitted)
    if not run.score_test:  # a tuning trial: the record holds validation only (corenets tune)
        test, classical = {}, None
    else:
        test = evaluate_outputs(run.engine.predict_outputs(run.bundle.test.x), run.bundle, run.run_dir)
        classical = baselines.for_run(run.cfg, run.bundle, test, fitted.train_seconds, run.quiet)
    write_record(run, fitted, test, wall, classical)
    run.engine.close()
    return run.run_dir


def open_folder(run: Prepared) -> None:
    """The first write: a new run folder (or the resumed one) with config.yaml and summary.txt."""
    cfg = run.cfg
    if run.run_dir is None and run.engine.is_main:
        run.run_dir = runs.new_run_dir(cfg.out, cfg.name if cfg.fold == 0 else f"fold-{cfg.fold}")
    if run.engine.is_main:
        if run.resume is not None:
            runs.remove_leftovers(run.run_dir)  # the temporary files of the writes the kill interrupted
        run.engine.check_free_space(run.run_dir)
        runs.atomic_write_text(run.run_dir / "config.yaml", dump_yaml(cfg))
        (run.run_dir / "plots").mkdir(exist_ok=True)
        runs.atomic_write_text(run.run_dir / "summary.txt", run.engine.summary(run.bundle))
    if not run.quiet:
        print(f"run folder: {run.run_dir}", flush=True)


def write_record(run: Prepared, fitted: Fitted, test: dict[str, Any], wall: float,
                 classical: dict[str, Any] | None = None) -> Path:
    """metrics.json (record.Metrics), the curves and the report: the last step, so a finished run has them all."""
    cfg, bundle = run.cfg, run.bundle
    notes = list(bundle.meta.get("notes", []))
    if fitted.refit:
        notes.append(f"refit: the final model was trained afresh on training + validation rows "
                     f"({fitted.refit['rows']:,}) for {fitted.refit['epochs']} epoch(s), the count chosen on "
                     "validation; the validation curve and figures are those of the selection fit, and the test "
                     "figures are the refit model's")
    if run.engine.name == "scratch":
        notes.append("trained by corenets.scratch, the NumPy engine (no torch in the loop)")
    m = Metrics(task=bundle.task, test=test, recipe=cfg.name, description=describe(cfg),
                best_epoch=fitted.best_epoch, epochs_run=len(fitted.rows), monitor=cfg.train.monitor,
                stopped=fitted.stopped, train_seconds=fitted.train_seconds, wall_seconds=wall, refit=fitted.refit,
                members=cfg.model.members, seed=cfg.seed, tta=cfg.train.tta, versions=versions(),
                data={**bundle.sizes(), "dataset": bundle.meta.get("dataset", cfg.data.name),
                      "input_shape": list(bundle.input_shape), "classes": bundle.classes},
                finished=datetime.now().isoformat(timespec="seconds"), notes=notes,
                warnings=record_warnings(test, bundle.task, classical))
    m = dataclasses.replace(m, **run.engine.record(), classical=classical)
    plots.curves(fitted.rows, run.run_dir / "plots" / "curves.png", "accuracy" if bundle.task != "regression" else "rmse",
                 unit=bundle.meta.get("target_unit", ""), steps=runs.read_history(run.run_dir / "steps.csv"))
    write_metrics(run.run_dir, m)
    if cfg.report.inspect:  # "What it learned": from the saved model, once, before the report reads plots/
        from .inspect.report import draw_learned

        draw_learned(run.run_dir, bundle)
    build_report(run.run_dir)
    return run.run_dir


def evaluate_model(scored: torch.nn.Module, bundle: DataBundle, run_dir: Path, batch_size: int,
                   device: torch.device | str = "cpu") -> dict[str, Any]:
    """Test metrics with baselines, and their plots, from `scored` (the model as record.scorer wraps it)."""
    from .train.loop import predict_outputs

    return evaluate_outputs(predict_outputs(scored, bundle.test.x, batch_size, device).numpy(), bundle, run_dir)


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
    bundle.preprocessing.test_plots(bundle.test.x.numpy(), y, proba, bundle.classes, plot_dir)  # images: samples, top losses
    return result


def run_cv(cfg: RunConfig, quiet: bool = False) -> Path:
    """K folds, each a full run folder inside one parent; the parent reports mean ± std.

    Fold 1 is prepared (data, model, checks) before the parent folder exists, so a mistake leaves nothing.
    """
    first = prepare(dataclasses.replace(cfg, fold=1), quiet=quiet)
    parent = runs.new_run_dir(cfg.out, f"{cfg.name}-cv{cfg.cv}")
    runs.atomic_write_text(parent / "config.yaml", dump_yaml(cfg))
    if not quiet:
        print(f"cross-validation folder: {parent}", flush=True)
    folds = []
    for k in range(1, cfg.cv + 1):
        if not quiet:
            print(f"--- fold {k}/{cfg.cv}", flush=True)
        if k == 1:
            first.cfg = dataclasses.replace(first.cfg, out=str(parent))
            folds.append(run_prepared(first))
        else:
            folds.append(run_config(dataclasses.replace(cfg, fold=k, out=str(parent)), quiet=quiet))
    write_cv_record(cfg, parent, folds)
    return parent


def write_cv_record(cfg: RunConfig, parent: Path, folds: list[Path]) -> None:
    each = [read_metrics(f) for f in folds]
    test = M.summarize_folds([f.test for f in each], each[0].task)
    m = Metrics(task=each[0].task, test=test, classical=baselines.over_folds([f.classical for f in each], test),
                recipe=cfg.name,
                description=describe(cfg), cv=cfg.cv, folds=[f.name for f in folds],
                train_seconds=float(sum(f.train_seconds for f in each)), parameters=each[0].parameters,
                members=cfg.model.members, seed=cfg.seed, device=each[0].device, engine=each[0].engine,
                data={**each[0].data, "train": "per fold", "val": "per fold", "test": "one fold each"},
                versions=versions(), finished=datetime.now().isoformat(timespec="seconds"),
                notes=[f"{cfg.cv}-fold stratified cross-validation: each fold's rows are the test set once; "
                       "validation is carved from the other folds, so no test row ever chooses a model. Each fold "
                       "folder is a full run."])
    m.warnings = record_warnings(m.test, m.task, m.classical)
    write_metrics(parent, m)
    build_report(parent)


def summary_line(run_dir: Path) -> str:
    """`test: accuracy 0.9750 (baseline 0.1000), ...`: the headline numbers of a finished run."""
    m = read_metrics(run_dir)
    base = m.test.get("baseline", {})
    parts = []
    for k, v in M.headline(m.test, m.task).items():
        val = f"{v['mean']:.4f} ± {v['std']:.4f}" if isinstance(v, dict) else f"{v:.4f}"
        b = base.get(k)
        parts.append(f"{k} {val}" + (f" (baseline {b:.4f})" if isinstance(b, float) else ""))
    return "test: " + ", ".join(parts) + baselines.summary_text(m.classical) + "".join(f"\nwarning: {w}" for w in m.warnings)


def record_warnings(test: dict[str, Any], task: str, classical: dict[str, Any] | None = None) -> list[str]:
    """Every warning metrics.json carries, from its scores: at or below the baseline, losing to the classical one.
    Whoever writes or rewrites the scores (the run, a cross-validation parent, `corenets evaluate`) calls this."""
    return baseline_warnings(test, task) + ([classical["warning"]] if classical and classical.get("warning") else [])


def baseline_warnings(test: dict[str, Any], task: str) -> list[str]:
    """A warning in plain words when the headline score is at or below its baseline's, for any task.

    The headline is the first of the task's summary metrics the baseline also has (accuracy for classifiers,
    rmse for regression and forecasts; a cross-validation parent's mean); whether lower is better is the
    monitor's rule (train.callbacks.resolve_mode).
    """
    from .train.callbacks import resolve_mode

    base = test.get("baseline", {})
    for k in M.HEADLINE[task]:
        v, b = test.get(k), base.get(k)
        v = v.get("mean") if isinstance(v, dict) else v
        if not (isinstance(v, (int, float)) and isinstance(b, (int, float))):
            continue
        worse = v > b if resolve_mode(k, "auto") == "min" else v < b
        if v != b and not worse:
            return []
        return [f"test {k} {v:.4f} is {'the same as' if v == b else 'worse than'} the baseline's {b:.4f} "
                f"({base.get('name', 'baseline')}): the model does no better than a rule that ignores its inputs; "
                "check the data, the learning rate and the number of epochs"]
    return []
