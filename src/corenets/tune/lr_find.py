"""Leslie Smith's learning-rate range test (fastai's `lr_find`, Lightning's tuner), on a copy of the model.

The rate rises exponentially from `start_lr` to `end_lr` over `steps` batches of the loop's own
train_one_epoch (train/loop.py), driven by a callback that sets each step's rate and records its loss.
The suggestion is the rate at the steepest descent of the smoothed loss, before it diverges.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from ..train.callbacks import Callback


@dataclasses.dataclass
class LRFind:
    """The range test's curve and its suggestion."""

    lrs: list[float]
    losses: list[float]  # each step's training loss, as measured
    smoothed: list[float]  # exponentially smoothed, bias-corrected (fastai's beta 0.98)
    suggestion: float  # the rate at the steepest descent of `smoothed`
    plot: Path | None = None

    @property
    def set_argument(self) -> str:
        return f"--set train.lr={self.suggestion:.3g}"


class RangeTest(Callback):
    """Sets the rate of step k to start * (end/start)^(k/(steps-1)); stops after `steps` or once the loss diverges."""

    def __init__(self, start_lr: float, end_lr: float, steps: int, diverge: float = 4.0):
        self.start, self.end, self.steps, self.diverge = start_lr, end_lr, steps, diverge
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.best = math.inf

    def lr_at(self, k: int) -> float:
        return self.start * (self.end / self.start) ** (k / max(self.steps - 1, 1))

    def set_lr(self, optimizer, k: int) -> None:
        for group in optimizer.param_groups:
            group["lr"] = self.lr_at(k)

    def on_batch_end(self, state, batch, loss):
        self.lrs.append(self.lr_at(len(self.losses)))
        self.losses.append(loss)
        now = smooth(self.losses)[-1]  # divergence is judged on the smoothed loss (fastai, Lightning): one noisy
        self.best = min(self.best, now) if math.isfinite(now) else self.best  # batch does not end the test
        if len(self.losses) >= self.steps or not math.isfinite(loss) or now > self.diverge * self.best:
            state.interrupted = True  # train_one_epoch returns after this step; nothing is written
        else:
            self.set_lr(state.optimizer, len(self.losses))


def smooth(losses: list[float], beta: float = 0.98) -> list[float]:
    out, avg = [], 0.0
    for i, x in enumerate(losses, 1):
        avg = beta * avg + (1 - beta) * (x if math.isfinite(x) else avg / max(1 - beta ** (i - 1), 1e-12))
        out.append(avg / (1 - beta**i))
    return out


def suggest(lrs: list[float], smoothed: list[float], skip_start: int = 10, skip_end: int = 5) -> float:
    """The rate where the smoothed loss falls fastest per decade of rate (the most negative d loss / d log lr),
    ignoring the noisy first steps and the divergence at the end: Lightning's rule (beta 0.98, skip 10 at the start).
    The smoothing lags the raw loss by about 1/(1 - beta) steps, so this sits above the raw curve's steepest
    point, nearer the rate that trains best for an epoch (BENCHMARKS.md, Tuning)."""
    lo, hi = min(skip_start, len(lrs) // 4), max(len(lrs) - skip_end, min(skip_start, len(lrs) // 4) + 2)
    x, y = np.log10(np.asarray(lrs[lo:hi])), np.asarray(smoothed[lo:hi])
    if len(x) < 3:
        raise ConfigError(f"the range test ran only {len(lrs)} steps before the loss diverged; lower --start-lr "
                          "or raise --steps")
    return float(10 ** x[int(np.argmin(np.gradient(y, x)))])


def range_test(model: torch.nn.Module, bundle, cfg, device, start_lr: float = 1e-7, end_lr: float = 10.0,
               steps: int = 100, seed: int = 0) -> LRFind:
    """Run the range test on a deep copy of `model` (left untouched), with `cfg`'s (TrainConfig) optimiser,
    loss and batch size, over as many passes of bundle.train as `steps` needs."""
    from ..train.distributed import World
    from ..train.loop import _start, train_one_epoch
    from ..train.precision import resolve_precision

    if not 0 < start_lr < end_lr:
        raise ConfigError(f"--start-lr {start_lr:g} and --end-lr {end_lr:g}: need 0 < start-lr < end-lr")
    probe = copy.deepcopy(model)
    tcfg = dataclasses.replace(cfg, lr=start_lr, schedule="none", epochs=1, ema=0.0, early_stopping=0,
                               precision=resolve_precision(cfg.precision, torch.device(device)))  # as fit resolves it
    test = RangeTest(start_lr, end_lr, steps)
    state, loss_fn, _ = _start(probe, bundle, tcfg, [test], torch.device(device), seed, None, World())
    test.set_lr(state.optimizer, 0)
    state.callbacks = [test]  # only the range test watches: no NaN guard (divergence ends the test), no history
    while not state.interrupted:
        train_one_epoch(state, bundle.train, loss_fn, tcfg, bundle.task, torch.device(device))
    sm = smooth(test.losses)
    return LRFind(test.lrs, test.losses, sm, suggest(test.lrs, sm))


def plot(result: LRFind, path: Path) -> Path:
    from ..evaluate.plots import _figure, _save  # headless matplotlib and an atomic write, as the reports draw

    plt, fig, ax = _figure(figsize=(6, 4))
    ax.plot(result.lrs, result.losses, alpha=0.3, label="loss per step")
    ax.plot(result.lrs, result.smoothed, label="smoothed")
    ax.axvline(result.suggestion, color="C3", ls="--", label=f"suggested lr {result.suggestion:.3g}")
    ax.set_xscale("log")
    finite = [v for v in result.smoothed + result.losses if math.isfinite(v)]
    if finite:  # the whole fall in view; the divergence at the end clipped to 1.5x the first loss
        ax.set_ylim(min(finite) * 0.95, min(max(finite), 1.5 * result.losses[0]) * 1.05)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.legend()
    return _save(plt, fig, path)


def lr_find(recipe: str | Any, *overrides: str, start_lr: float = 1e-7, end_lr: float = 10.0, steps: int = 100,
            out: str | Path | None = None, quiet: bool = True) -> LRFind:
    """The learning-rate range test on a recipe's model and data (prepared as `corenets run` prepares them).

    Args:
        recipe: a recipe name or a RunConfig.
        *overrides: ``"section.key=value"`` strings, as with ``--set``.
        start_lr, end_lr, steps: the exponential ramp.
        out: where lr_find.png goes (default <cfg.out>/lr-find-<recipe>.png); the run's model is not changed.
    Returns:
        LRFind: lrs, losses, smoothed losses, the suggestion and the plot's path.
    """
    from ..config import RunConfig, parse_override, resolve_paths, set_values
    from ..experiment import prepare
    from ..recipes import load_recipe

    if not 0 < start_lr < end_lr:  # checked before the data loads, as range_test checks it
        raise ConfigError(f"--start-lr {start_lr:g} and --end-lr {end_lr:g}: need 0 < start-lr < end-lr")
    cfg = recipe if isinstance(recipe, RunConfig) else load_recipe(recipe)
    cfg = resolve_paths(set_values(cfg, [parse_override(t) for t in overrides]))
    if cfg.engine != "torch":
        raise ConfigError("lr-find trains with torch; leave out engine: scratch (--set engine=torch)")
    run = prepare(dataclasses.replace(cfg, fold=1 if cfg.cv >= 2 else cfg.fold), quiet=quiet)
    result = range_test(run.engine.model, run.bundle, cfg.train, run.engine.device, start_lr, end_lr, steps, cfg.seed)
    result.plot = plot(result, Path(out) if out else Path(cfg.out) / f"lr-find-{cfg.name}.png")
    return result
