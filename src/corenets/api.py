"""The notebook API: `fit`, `evaluate` and `save_run`, so a model trained in Python gets what `corenets run` gives.

    import corenets as cn
    bundle = cn.load_dataset("digits")
    model = cn.create_model("mlp", bundle.input_shape, bundle.num_outputs, hidden=[64])
    history = cn.fit(model, bundle, cn.TrainConfig(epochs=10))    # device auto, a progress bar, a line per epoch
    cn.evaluate(model, bundle)                                   # test metrics beside their baselines
    run = cn.load_run(cn.save_run(model, bundle, history, "runs/digits-notebook"))
    run.show_predictions(n=16)

`save_run` writes the folder through the experiment's own steps (experiment.run_prepared: open_folder,
write_history, evaluate_outputs, write_record), with an engine whose "fit" is the one already done; so
predict, serve, export, compare, evaluate and the report read it as they read a CLI run.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any, Sequence

import torch

from .config import DataConfig, ModelConfig, RunConfig, TrainConfig
from .data.bundle import DataBundle
from .engines import Fitted
from .errors import ConfigError, RunFolderError
from .experiment_torch import TorchEngine
from .record import ModelSpec, scorer
from .train.callbacks import Callback, EarlyStopping, History, ProgressBar
from .train.device import select_device
from .train.distributed import World


def fit(model: torch.nn.Module, bundle: DataBundle, cfg: TrainConfig | None = None, *, device: str = "auto",
        verbose: int = 1, callbacks: Sequence[Callback] = (), seed: int = 0) -> History:
    """Train `model` on bundle.train, validating on bundle.val each epoch, as `corenets run` trains.

    Args:
        model: e.g. from cn.create_model; it is moved to the device.
        bundle: from cn.load_dataset.
        cfg: epochs, optimiser, schedule, early stopping, restore_best, ... (default TrainConfig()).
        device: "auto" (the CLI's rule: cuda, then mps, then cpu), "cpu", "cuda" or "mps".
        verbose: 0 silent; 1 a progress bar (tqdm.auto: a widget in Jupyter) and a line per epoch; 2 lines only.
        callbacks: more train.callbacks.Callback objects.
        seed: seeds the batch order.
    Returns:
        A History: `history.history["val_loss"]`, `history.epoch` (Keras), `.rows`, `.column(key)`,
        `.best_epoch`, `.plot()`. With train.restore_best (the default) the model ends with the weights of
        its best epoch on train.monitor, as a CLI run's model.pt does; early stopping says where it stopped.
    """
    from .train.loop import fit as train

    cfg = cfg or TrainConfig()
    # EarlyStopping keeps the best weights in memory; without train.early_stopping its patience outlasts the run
    keep = EarlyStopping(cfg.monitor, cfg.mode, cfg.early_stopping or cfg.epochs + 1, cfg.min_delta, cfg.restore_best)
    history = train(model, bundle, cfg, [ProgressBar(verbose=verbose), keep, *callbacks], device=select_device(device),
                    seed=seed)
    best = keep.tracker.best_epoch
    history.best_epoch = best if cfg.restore_best and best else len(history.rows)
    history.config = cfg
    return history


def _device_of(model: torch.nn.Module) -> torch.device:
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def evaluate(model: torch.nn.Module, bundle: DataBundle, *, tta: str = "none", classical: bool = True,
             train_seconds: float = 0.0, verbose: int = 1) -> dict[str, Any]:
    """Test metrics of `model` on bundle.test beside their baselines, as a CLI run's metrics.json "test" holds.

    Args:
        tta: "flip" scores the model averaged with its mirror image (mirror-safe images only).
        classical: also fit the strong scikit-learn baseline on the same rows (evaluate/baselines.py).
        train_seconds: the training time its fit is budgeted against (10% of it, at least 2 s).
        verbose: 1 prints a warning when the score is at or below a baseline; 0 does not.
    Returns:
        A dict: the task's metrics (accuracy, f1, roc_auc, per_class, confusion_matrix, or rmse, mae, r2),
        "baseline" (the majority class, the training mean, or persistence for a forecast), "classical" and
        "warnings".
    """
    from .experiment import evaluate_outputs, record_warnings
    from .train.loop import predict_outputs

    out = predict_outputs(scorer(model, tta), bundle.test.x, TrainConfig.eval_batch_size, _device_of(model)).numpy()
    with tempfile.TemporaryDirectory() as tmp:  # the plots have no run folder to go to
        (Path(tmp) / "plots").mkdir()
        test = evaluate_outputs(out, bundle, Path(tmp))
    if classical:
        from .evaluate.baselines import classical_baseline, compare_to

        test["classical"] = compare_to(classical_baseline(bundle, train_seconds), test)
    test["warnings"] = record_warnings(test, bundle.task, test.get("classical"))
    if verbose:
        for w in test["warnings"]:
            print(f"warning: {w}", flush=True)
    return test


class NotebookEngine(TorchEngine):
    """The torch engine around a model already trained in Python: its fit is the History handed over."""

    def __init__(self, cfg: RunConfig, model: torch.nn.Module, history: History):
        self.cfg, self.model, self.history = cfg, model, history
        self.world, self.device, self.is_main = World(), _device_of(model), True
        self.best_epoch = history.best_epoch or len(history.rows)

    def fit(self, bundle, run_dir, resume, quiet) -> Fitted:
        rows = self.history.rows
        return Fitted(rows, self.best_epoch, self.history.stopped, float(sum(r.get("seconds", 0.0) for r in rows)))

    def finalize(self, bundle, run_dir, fitted) -> None:
        from . import runs

        runs.save_model(run_dir / "model.pt", self.model, ModelSpec.of_run(self.cfg, bundle, self.best_epoch).to_dict())


def run_config_of(model: torch.nn.Module, bundle: DataBundle, history: History, name: str) -> RunConfig:
    """The RunConfig that would repeat this notebook run: the bundle's dataset, the model's build, the TrainConfig."""
    from .config import check_name, resolve_paths

    made = getattr(model, "corenets_model", None)
    if made is None:
        raise ConfigError(f"save_run rebuilds the model from its registered name, and this {type(model).__name__} was "
                          "not made by cn.create_model; build it with cn.create_model (or register it with "
                          "@MODELS.register in corenets.models) so predict, serve and export can load it")
    loaded = bundle.meta.get("loaded_with")
    if loaded is None:
        raise ConfigError("save_run writes how to load the data again, and this DataBundle was not made by "
                          "cn.load_dataset; load it with cn.load_dataset (a CSV of your own: 'csv', 'text_csv', "
                          "'image_folder', 'price_csv')")
    check_name(name)
    options = {k: v for k, v in made["options"].items() if k not in bundle.facts}  # facts come from the data again
    data = DataConfig(loaded["name"], loaded["val_fraction"], loaded["test_fraction"], dict(loaded["options"]))
    # no refit: the weights handed over are the ones to keep
    train = dataclasses.replace(history.config or TrainConfig(epochs=max(len(history.rows), 1)), refit=False)
    return resolve_paths(RunConfig(name=name, seed=loaded["seed"], data=data,
                                   model=ModelConfig(made["name"], options), train=train))


def save_run(model: torch.nn.Module, bundle: DataBundle, history: History, path: str | Path | None = None, *,
             name: str = "notebook") -> Path:
    """Write a complete run folder for a model trained in Python (with cn.fit), as `corenets run` writes one.

    Args:
        model: made by cn.create_model and trained, holding the weights to keep.
        bundle: from cn.load_dataset (its test split is scored now, once).
        history: what cn.fit returned.
        path: a new or empty folder; default runs/<name>-<timestamp>.
        name: the run's name (the recipe field of its record).
    Returns:
        The run folder: model.pt, config.yaml, history.csv, metrics.json, plots/ and report.html.
    """
    from . import runs
    from .experiment import Prepared, run_prepared

    cfg = run_config_of(model, bundle, history, name)  # refused before anything is written
    if path is not None:
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise RunFolderError(f"{path} already holds files; save_run writes a new run folder: give a new path")
        path.mkdir(parents=True, exist_ok=True)
    else:
        path = runs.new_run_dir(cfg.out, cfg.name)
    run = Prepared(cfg, bundle, NotebookEngine(cfg, model, history), quiet=True, run_dir=path)
    return run_prepared(run)
