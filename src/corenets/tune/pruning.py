"""The callback that lets Optuna's pruner stop a trial: it reports the monitored validation metric after each
epoch and, when the pruner says so, ends training as early stopping does (the trial's run folder is complete)."""

from __future__ import annotations

import math

from ..train.callbacks import Callback, resolve_mode


class PruneOnValidation(Callback):
    """Report `monitor` to `trial` after each epoch (step = epoch); stop the fit when the pruner prunes.

    With report=False it only records the values (cross-validation reports each fold's best instead)."""

    def __init__(self, trial, monitor: str, mode: str = "auto", report: bool = True):
        self.trial, self.monitor, self.mode, self.report = trial, monitor, resolve_mode(monitor, mode), report
        self.values: list[float] = []
        self.pruned_at: int | None = None  # the epoch the pruner stopped the trial after

    @property
    def best(self) -> float:
        finite = [v for v in self.values if math.isfinite(v)]
        if not finite:
            return math.nan
        return min(finite) if self.mode == "min" else max(finite)

    def on_epoch_end(self, state, logs):
        if self.monitor not in logs:
            return
        self.values.append(float(logs[self.monitor]))
        if not self.report:
            return
        epoch = int(logs["epoch"])
        self.trial.report(self.values[-1], epoch)
        if self.trial.should_prune():
            self.pruned_at = epoch
            state.stop(f"pruned by Optuna after epoch {epoch} ({self.monitor} {self.values[-1]:.4g})")
