"""`engine: torch`: the experiment's steps done with torch (train/loop.py), one process or this rank of torchrun's.

experiment.py calls the same methods on this engine and on the NumPy one (experiment_scratch.ScratchEngine):
load_data, build, summary, fit, refit, finalize, predict_outputs, close.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import runs
from .config import RunConfig
from .data.bundle import DataBundle, Split
from .engines import Fitted
from .errors import ConfigError, Interrupted, RunFolderError, TrainingError
from .models import build_model, count_parameters
from .record import ModelSpec, scorer
from .evaluate.plots import SHORT_RUN
from .train.callbacks import (Checkpoint, EarlyStopping, GracefulInterrupt, History, ProgressBar, StepLog, StopAfter,
                              TensorBoard)
from .train.device import seed_everything, select_device
from .train.distributed import World
from .train.loop import fit, predict_outputs
from .train.threads import choose_threads  # imported early: it reads torch's default thread count before any run sets it


def resume_command(run_dir: Path) -> str:
    return f"corenets run --config {run_dir}/config.yaml --resume {run_dir}"


class TorchEngine:
    """Trains `cfg`'s model with torch; under torchrun only rank 0 (`is_main`) writes."""

    name = "torch"

    def __init__(self, cfg: RunConfig):
        if cfg.train.refit and cfg.train.schedule == "plateau":
            raise ConfigError("train.refit replays the chosen epochs' learning rates, but schedule 'plateau' sets "
                              "them from validation loss, which a refit on training + validation has not; use cosine, "
                              "step, linear or none, or set train.refit=false")
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        seed_everything(cfg.seed, cfg.deterministic)
        self.cfg = cfg
        device = select_device(cfg.device)
        self.world = World.from_env(device)  # one process, or this rank of torchrun's
        self.device = self.world.place(device)
        if self.world.size > 1 and cfg.cv >= 2:
            raise ConfigError("--cv runs its folds one after another in one process; leave out --nproc/torchrun")
        self.is_main = self.world.is_main
        self.model: torch.nn.Module | None = None
        self.best_epoch = 0
        self.threads_note: str | None = None  # threads: 0 chose the count at build (train/threads.py)
        self.callbacks: list = []  # extra callbacks for the selection fit (corenets tune's pruning)

    # ------------------------------------------------------------------ prepare

    def load_data(self, load) -> DataBundle:
        with self.world.guard(), self.world.main_first():  # rank 0 downloads and caches first
            return load(self.cfg)

    def build(self, bundle: DataBundle) -> None:
        c = self.cfg.model
        self.model = build_model(c.name, bundle.input_shape, bundle.num_outputs, c.options, c.members, bundle.task,
                                 facts=bundle.facts)
        if self.cfg.threads == 0 and self.device.type == "cpu" and self.threads_note is None:
            self.threads_note = self._choose_threads(bundle)
            bundle.meta.setdefault("notes", []).append(self.threads_note)  # the report says what was chosen and why

    def _choose_threads(self, bundle: DataBundle) -> str:
        """threads: 0 on a CPU: time a few steps on 1 thread and on every free core (train/threads.py)."""
        from .models.hooks import hooks_of
        from .train.loop import make_loss
        from .train.precision import autocast, resolve_precision, to_memory_format

        t = self.cfg.train
        precision = resolve_precision(t.precision, self.device)
        xb = to_memory_format(bundle.train.x[:t.batch_size], t.channels_last)
        yb = bundle.train.y[:t.batch_size]

        def step(model: torch.nn.Module) -> None:  # the loop's forward + loss + backward, on a copy of the model
            model.to(memory_format=torch.channels_last if t.channels_last else torch.preserve_format)
            with autocast(self.device, precision):
                loss = hooks_of(model).training_loss(make_loss(bundle.task, t))(model(xb), yb)
            loss.backward()

        return choose_threads(self.model, step)[1]

    def resume_state(self, run_dir: Path) -> dict[str, Any]:
        state = runs.load_checkpoint(run_dir / "last.pt")
        self.best_epoch = state.get("best_epoch", 0)
        return state["train_state"]

    def parameters(self) -> int:
        return count_parameters(self.model)

    def summary(self, bundle: DataBundle) -> str:
        from .evaluate.summary import model_summary

        try:
            return model_summary(self.model, bundle.train.x[:1], self.cfg.train.batch_size, self.cfg.train.optimizer)
        except Exception as e:  # a summary is a courtesy; never lose a run over it
            return f"{self.model}\n\n(torchinfo could not trace this model: {e})\nparameters: {self.parameters()}"

    def check_free_space(self, run_dir: Path) -> None:
        runs.check_free_space(run_dir, self.model)  # a full disk found now, not after the first epoch

    # ------------------------------------------------------------------ fit

    def _save_best(self, run_dir: Path, bundle: DataBundle):
        def save_best(m: torch.nn.Module, epoch: int) -> None:
            self.best_epoch = epoch
            if self.is_main:
                runs.save_model(run_dir / "model.pt", m, ModelSpec.of_run(self.cfg, bundle, epoch).to_dict())

        return save_best

    def _save_last(self, run_dir: Path):
        def save_last(st) -> None:
            if self.is_main:
                runs.atomic_save({"format_version": runs.FORMAT_VERSION, "train_state": st.state_dict(),
                                  "best_epoch": self.best_epoch}, run_dir / "last.pt")
                runs.write_history(run_dir / "history.csv",
                                   next(cb.rows for cb in st.callbacks if isinstance(cb, History)))

        return save_last

    def _callbacks(self, run_dir: Path, bundle: DataBundle, quiet: bool) -> list:
        t = self.cfg.train
        callbacks: list = [ProgressBar(quiet=quiet), GracefulInterrupt()]
        if t.epochs <= SHORT_RUN and self.is_main:  # a short run's curve is drawn per step (steps.csv)
            callbacks.append(StepLog(run_dir / "steps.csv"))
        if t.early_stopping > 0:
            callbacks.append(EarlyStopping(t.monitor, t.mode, t.early_stopping, t.min_delta, restore_best=False,
                                           best_kept=t.restore_best))  # finalize restores model.pt's best
        if t.tensorboard and self.is_main:  # other ranks have no folder
            callbacks.append(TensorBoard(str(run_dir / "tensorboard")))
        callbacks.extend(self.callbacks)
        callbacks.append(Checkpoint(self._save_best(run_dir, bundle), self._save_last(run_dir), t.monitor, t.mode,
                                    t.min_delta))
        return callbacks

    def fit(self, bundle: DataBundle, run_dir: Path, resume: dict[str, Any] | None, quiet: bool) -> Fitted:
        """Train on bundle.train, choosing the epoch on bundle.val; model.pt and last.pt are written each epoch."""
        again = resume_command(run_dir)
        try:
            with self.world.guard():
                history = fit(self.model, bundle, self.cfg.train, self._callbacks(run_dir, bundle, quiet),
                              device=self.device, seed=self.cfg.seed, resume=resume, world=self.world)
        except Interrupted as e:
            raise Interrupted(f"{e}; a resumable checkpoint is in {run_dir}/last.pt. Resume with: {again}") from None
        except TrainingError as e:
            raise TrainingError(f"{e} (run folder: {run_dir}; model.pt holds epoch {self.best_epoch})") from None
        except RunFolderError as e:  # a write failed mid-run (full disk), or last.pt holds other callbacks
            raise RunFolderError(f"{e}. The last good checkpoint is kept: resume with {again}") from None
        return Fitted(history.rows, self.best_epoch, history.stopped, float(sum(r["seconds"] for r in history.rows)))

    def refit(self, bundle: DataBundle, run_dir: Path, fitted: Fitted, quiet: bool) -> Fitted:
        """A fresh model (same seed) trained on training + validation rows for the epochs chosen on validation.

        The schedule keeps its full length and training stops after those epochs, so the refit replays the
        chosen model's learning-rate path on more rows: training, validation, and the rows withheld only to
        keep validation leak-free (SST-2's phrases of validation sentences). Preprocessing stays fitted on
        the training part.
        """
        t = self.cfg.train
        epochs = fitted.best_epoch if t.restore_best and fitted.best_epoch > 0 else len(fitted.rows)
        seed_everything(self.cfg.seed, self.cfg.deterministic)
        self.build(bundle)
        parts = [bundle.train, bundle.val] + ([bundle.withheld()] if bundle.withheld is not None else [])
        both = Split(torch.cat([p.x for p in parts]), torch.cat([p.y for p in parts]))
        if not quiet:
            print(f"refit on training + validation ({len(both):,} rows) for {epochs} epoch(s)", flush=True)
        callbacks = [ProgressBar(quiet=quiet), GracefulInterrupt(), StopAfter(epochs)]
        try:
            with self.world.guard():
                history = fit(self.model, dataclasses.replace(bundle, train=both), t, callbacks, device=self.device,
                              seed=self.cfg.seed, world=self.world, validate=False)
        except Interrupted:
            raise Interrupted(f"interrupted in the refit on training + validation; model.pt holds the selection "
                              f"fit's epoch {fitted.best_epoch}, and resuming redoes the refit: "
                              f"{resume_command(run_dir)}") from None
        except TrainingError as e:
            raise TrainingError(f"{e} in the refit on training + validation (run folder: {run_dir}; model.pt holds "
                                f"the selection fit's epoch {fitted.best_epoch}; set train.refit=false to keep it)") from None
        seconds = float(sum(r["seconds"] for r in history.rows))
        refit = {"epochs": epochs, "rows": len(both), "train_seconds": seconds}
        return dataclasses.replace(fitted, train_seconds=fitted.train_seconds + seconds, refit=refit)

    # ------------------------------------------------------------------ finalize and score

    def finalize(self, bundle: DataBundle, run_dir: Path, fitted: Fitted) -> None:
        """Leave model.pt and the model in memory holding the weights the test scores."""
        save_best = self._save_best(run_dir, bundle)
        if fitted.refit is not None:  # the refit model replaces the selection fit's in model.pt
            save_best(self.model, fitted.refit["epochs"])
        elif self.cfg.train.restore_best and (run_dir / "model.pt").is_file():
            self.model.load_state_dict(runs.load_checkpoint(run_dir / "model.pt")["state_dict"])
        else:  # the last weights are the answer: model.pt must hold them
            save_best(self.model, len(fitted.rows))
        fitted.best_epoch = self.best_epoch

    def predict_outputs(self, x: torch.Tensor) -> np.ndarray:
        """Raw outputs (N, num_outputs), scored as the test scores the model (flip TTA when configured)."""
        t = self.cfg.train
        return predict_outputs(scorer(self.model, t.tta), x, t.eval_batch_size, self.device).numpy()

    def record(self) -> dict[str, Any]:
        """The engine's part of metrics.json."""
        per = self.cfg.train.batch_size
        return {"engine": "torch", "device": str(self.device), "threads": torch.get_num_threads(),
                "parameters": self.parameters(),
                "batch_size": {"per_process": per, "processes": self.world.size, "global": per * self.world.size,
                               "semantics": "per process: each of the processes draws batch_size rows per step"}}

    def close(self) -> None:
        self.world.close()
