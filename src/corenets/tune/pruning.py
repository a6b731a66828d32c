"""The callback that lets Optuna's pruner stop a trial: it reports the monitored validation metric after each
epoch and, when the pruner says so, ends training as early stopping does (the trial's run folder is complete)."""

from __future__ import annotations

import math

from ..train.callbacks import Callback, resolve_mode

# Measured on quickstart (BENCHMARKS.md, Tuning): judging from the 3rd finished trial and after epoch 1 stopped
# the eventual best trial; from the 4th and after 20% of the epochs the best scores stay within 0.005.
STARTUP_TRIALS = 4  # finished trials before the median pruner judges any
WARMUP_SHARE = 0.2  # and a trial is judged on its epochs only from this share of them on


def warmup_steps(epochs: int) -> int:
    """The first epoch after which the median pruner may stop a trial: 20% of the way in (10 epochs -> 2).

    Learning curves cross: a low rate is behind after epoch 1 and ahead at the end, so judging after epoch 1
    stopped the eventual best trial. Folds (--cv) do not cross that way: fold k's score is an unbiased, noisier
    estimate of the trial's mean, so with --cv the pruner may judge from fold 1 on."""
    return max(1, math.ceil(WARMUP_SHARE * epochs))


def make_pruner(kind: str, epochs: int, folds: int = 0):
    """Optuna's pruner for `--pruner`: steps are a trial's epochs, or its folds with --cv (folds >= 2)."""
    import optuna

    steps = folds if folds >= 2 else epochs
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS,
                                           n_warmup_steps=1 if folds >= 2 else warmup_steps(epochs))
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(1, steps))
    return optuna.pruners.NopPruner()


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
