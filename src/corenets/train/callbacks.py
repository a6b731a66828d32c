"""Callbacks: a base with empty hooks, and short subclasses (STYLE.md rule 9).

Each callback keeps its state in state_dict() so a resumed run continues exactly.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, Callable

import torch

from .state import TrainState


class Callback:
    order = 0  # hooks run in ascending order; Checkpoint runs last so last.pt sees every other callback's state

    def on_train_begin(self, state: "TrainState") -> None: ...
    def on_epoch_begin(self, state: "TrainState") -> None: ...
    def on_batch_end(self, state: "TrainState", batch: int, loss: float) -> None: ...
    def on_epoch_end(self, state: "TrainState", logs: dict[str, float]) -> None: ...
    def on_train_end(self, state: "TrainState") -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, d: dict[str, Any]) -> None: ...


class History(Callback):
    """One row per epoch: losses, metrics, learning rate, seconds.

    Keras users read it as they read Keras' History: `history.history["val_loss"]` (one list per column, with
    the training columns also under Keras' names `loss`, `accuracy`) and `history.epoch` (counted from 0).
    `cn.fit` also sets `best_epoch` (1-based, the epoch whose weights the model ends with) and `config`.
    In Jupyter a History shows its curves; `.plot()` gives them as a picture.
    """

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []
        self.stopped: str | None = None  # why training ended before its last epoch, if it did
        self.best_epoch = 0
        self.config = None  # the TrainConfig it trained with (cn.fit)

    def on_epoch_end(self, state, logs):
        self.rows.append(dict(logs))

    def column(self, key: str) -> list[float]:
        return [r[key] for r in self.rows if key in r]

    @property
    def history(self) -> dict[str, list[float]]:
        keys = dict.fromkeys(k for r in self.rows for k in r if k != "epoch")
        out = {k: self.column(k) for k in keys}
        out.update({k[len("train_"):]: v for k, v in list(out.items()) if k.startswith("train_")})
        return out

    @property
    def epoch(self) -> list[int]:
        return [int(r["epoch"]) - 1 for r in self.rows]

    def plot(self):
        """The loss and metric curves as a picture (shown inline in Jupyter; `.save(path)` writes the PNG)."""
        from ..notebook import curves_picture

        return curves_picture(self.rows)

    def _repr_html_(self) -> str:
        from ..notebook import history_html

        return history_html(self.rows, self.stopped)

    def state_dict(self):
        return {"rows": self.rows}

    def load_state_dict(self, d):
        self.rows = [dict(r) for r in d["rows"]]


class StepLog(Callback):
    """The training loss of each step, written to `path` (steps.csv) after each epoch: a short run's curve is
    drawn on a step axis (evaluate/plots.curves), where one point per epoch would say little."""

    def __init__(self, path, max_rows: int = 2000):
        self.path, self.max_rows = path, max_rows
        self.rows: list[dict[str, float]] = []

    def on_batch_end(self, state, batch, loss):
        every = max(1, state.epochs * state.steps_per_epoch // self.max_rows)
        if batch % every == 0:
            self.rows.append({"epoch": state.epoch + (batch + 1) / state.steps_per_epoch, "train_loss": float(loss)})

    def on_epoch_end(self, state, logs):
        from ..files import write_history

        write_history(self.path, self.rows)


def resolve_mode(monitor: str, mode: str) -> str:
    if mode != "auto":
        return mode
    lowered = monitor.lower()
    return "min" if any(k in lowered for k in ("loss", "mae", "mse", "rmse", "mape", "error")) else "max"


class Monitor:
    """Tracks the best value of one history column."""

    def __init__(self, monitor: str, mode: str = "auto", min_delta: float = 0.0):
        self.monitor, self.mode, self.min_delta = monitor, resolve_mode(monitor, mode), abs(min_delta)
        self.best: float | None = None
        self.best_epoch = 0

    def improved(self, logs: dict[str, float]) -> bool:
        if self.monitor not in logs:
            from ..errors import ConfigError

            raise ConfigError(f"train.monitor='{self.monitor}' is not recorded; choose one of: {', '.join(sorted(logs))}")
        value = logs[self.monitor]
        if not math.isfinite(value):
            return False
        better = self.best is None or (
            value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta
        )
        if better:
            self.best, self.best_epoch = value, int(logs["epoch"])
        return better

    def state_dict(self):
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, d):
        self.best, self.best_epoch = d["best"], d["best_epoch"]


def _clone_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().cpu() for k, v in model.state_dict().items()}


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved for `patience` epochs; optionally restore the best weights."""

    def __init__(self, monitor="val_loss", mode="auto", patience=5, min_delta=0.0, restore_best=True,
                 best_kept: bool | None = None):
        self.tracker = Monitor(monitor, mode, min_delta)
        self.patience, self.restore_best = patience, restore_best
        # whether the run ends with the best epoch's weights, by this callback or (the CLI) by model.pt: its message says which
        self.best_kept = restore_best if best_kept is None else best_kept
        self.wait = 0
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.stopped_epoch = 0

    def on_epoch_end(self, state, logs):
        if self.tracker.improved(logs):
            self.wait = 0
            if self.restore_best:
                self.best_weights = _clone_weights(state.model)
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = int(logs["epoch"])
                state.stop(stop_message(self.stopped_epoch, state.epochs, self.tracker, self.patience, self.best_kept),
                           error=False)

    def on_train_end(self, state):
        if self.restore_best and self.best_weights is not None:
            state.model.load_state_dict(self.best_weights)

    def state_dict(self):
        return {"tracker": self.tracker.state_dict(), "wait": self.wait, "best_weights": self.best_weights,
                "stopped_epoch": self.stopped_epoch}

    def load_state_dict(self, d):
        self.tracker.load_state_dict(d["tracker"])
        self.wait, self.best_weights, self.stopped_epoch = d["wait"], d["best_weights"], d["stopped_epoch"]


def stop_message(epoch: int, epochs: int, tracker: Monitor, patience: int, best_kept: bool) -> str:
    """What early stopping says, on the console and in the report: where, on what, and which weights are kept."""
    waited = f"{patience} epoch" + ("" if patience == 1 else "s")
    best = f"{tracker.best:.4g}" if tracker.best is not None else "none"
    kept = f"the weights of epoch {tracker.best_epoch} are kept" if best_kept and tracker.best_epoch else \
        f"the last weights (epoch {epoch}) are kept"
    return (f"early stopping at epoch {epoch} of {epochs}: {tracker.monitor} has not improved for {waited} "
            f"(best {best} at epoch {tracker.best_epoch}); {kept}")


class StopAfter(Callback):
    """End training after `epochs` epochs while the schedule keeps its full length (a refit replays the chosen epochs)."""

    def __init__(self, epochs: int):
        self.epochs = epochs

    def on_epoch_end(self, state, logs):
        if int(logs["epoch"]) >= self.epochs:
            state.stop(f"refit: the {self.epochs} epoch(s) chosen on validation are done", error=False)


class Checkpoint(Callback):
    """Writes the best weights (chosen on validation) and the full last state, atomically, each epoch.

    `save_best(weights, epoch)` and `save_last(state_dict)` do the writing (runs.py), so this
    class knows nothing of the folder layout.
    """

    order = 100

    def __init__(self, save_best: Callable, save_last: Callable, monitor="val_loss", mode="auto", min_delta=0.0):
        self.save_best, self.save_last = save_best, save_last
        self.tracker = Monitor(monitor, mode, min_delta)  # early stopping's notion of "best", so both name one epoch

    def on_epoch_end(self, state, logs):
        if self.tracker.improved(logs):
            self.save_best(state.model, self.tracker.best_epoch)
        self.save_last(state)

    def on_train_end(self, state):
        if state.interrupted:  # mid-epoch: last.pt records the batch reached, so --resume goes on from the next one
            self.save_last(state)

    def state_dict(self):
        return {"tracker": self.tracker.state_dict()}

    def load_state_dict(self, d):
        self.tracker.load_state_dict(d["tracker"])


class NaNGuard(Callback):
    """Stops at the first non-finite loss, naming the epoch and batch; the best weights stay on disk."""

    def on_batch_end(self, state, batch, loss):
        if not math.isfinite(loss):
            state.stop(
                f"the training loss became {loss} at epoch {state.epoch + 1}, batch {batch + 1}; the best weights so far "
                "were kept. Lower train.lr, set train.grad_clip=1.0, or check the inputs for NaN/inf",
                error=True,
            )

    def on_epoch_end(self, state, logs):
        loss = logs.get("val_loss", 0.0)
        if not math.isfinite(loss):  # no epoch can be chosen on a nan validation loss: never report one as chosen
            state.stop(f"the validation loss became {loss} at epoch {int(logs['epoch'])} while the training loss was "
                       f"{logs.get('train_loss', float('nan')):.4g}; check the validation rows for nan/inf or values far "
                       "outside the training range, or lower train.lr", error=True)


class GracefulInterrupt(Callback):
    """The first Ctrl-C (SIGINT) asks the loop to stop after the current step; a second one, 3 s or more later,
    stops at once. Installed only in the main thread, and the old handler is put back at the end."""

    def __init__(self) -> None:
        self.old = None
        self.first = 0.0

    def on_train_begin(self, state):
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return

        def handle(signum, frame):
            if state.interrupted and time.monotonic() - self.first > 3:  # torchrun may forward the same Ctrl-C
                raise KeyboardInterrupt
            if not state.interrupted:
                self.first = time.monotonic()
                print("\ninterrupt: finishing the current step and writing a checkpoint (Ctrl-C again to quit now)",
                      file=sys.stderr, flush=True)
            state.interrupted = True

        self.old = signal.signal(signal.SIGINT, handle)

    def on_train_end(self, state):
        if self.old is not None:
            import signal

            signal.signal(signal.SIGINT, self.old)
            self.old = None


def in_notebook() -> bool:
    """True inside a Jupyter (IPython kernel) session, whose stdout is not a terminal but shows tqdm's widget."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class ProgressBar(Callback):
    """A tqdm.auto bar over batches (in a terminal or a notebook), one summary line per epoch, and why training
    stopped early. verbose: 0 silent, 1 bar and lines, 2 lines only (as Keras' verbose)."""

    def __init__(self, quiet: bool = False, stream=None, verbose: int = 1):
        self.quiet = quiet or verbose == 0
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.bar = None
        self.t0 = 0.0

    def on_epoch_begin(self, state):
        self.t0 = time.perf_counter()
        if not self.quiet and self.verbose == 1 and (self.stream.isatty() or in_notebook()):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=state.steps_per_epoch, desc=f"epoch {state.epoch + 1}/{state.epochs}", leave=False,
                            file=self.stream)

    def on_batch_end(self, state, batch, loss):
        if self.bar is not None:
            self.bar.update(1)
            if batch % 20 == 0:
                self.bar.set_postfix(loss=f"{loss:.4f}")

    def on_epoch_end(self, state, logs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if not self.quiet:
            parts = [f"{k} {v:.4f}" for k, v in logs.items() if k.startswith(("train_", "val_"))]
            print(f"epoch {int(logs['epoch'])}/{state.epochs}  " + "  ".join(parts) + f"  ({logs['seconds']:.1f}s)",
                  file=self.stream, flush=True)

    def on_train_end(self, state):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if not self.quiet and state.stopped and not state.failed:  # a failure is raised and said by its error
            print(state.stopped, file=self.stream, flush=True)


class TensorBoard(Callback):
    """Logs every history column to TensorBoard (needs the [tensorboard] extra)."""

    def __init__(self, log_dir: str):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            from ..errors import ConfigError

            raise ConfigError("train.tensorboard=true needs TensorBoard: pip install 'corenets[tensorboard]'") from None
        self.writer = SummaryWriter(log_dir)

    def on_epoch_end(self, state, logs):
        for k, v in logs.items():
            if k != "epoch":
                self.writer.add_scalar(k, v, int(logs["epoch"]))
        self.writer.flush()

    def on_train_end(self, state):
        self.writer.close()

