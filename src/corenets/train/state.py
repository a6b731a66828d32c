"""TrainState: what callbacks see and what last.pt holds. Its own module, so callbacks.py and loop.py
both import it and neither imports the other."""

from __future__ import annotations

from typing import Any

import torch

from ..errors import CheckpointError
from .ema import Lookahead


class TrainState:
    """What callbacks see and what last.pt holds: model, optimiser, schedule, epoch, RNG.

    `step`, `partial` and `perm_rng` place a run inside an epoch, so a checkpoint written on Ctrl-C
    resumes at the very next batch with the same permutation and running sums.
    """

    def __init__(self, model, optimizer, scheduler, interval, generator, epochs, steps_per_epoch, callbacks):
        self.model, self.optimizer, self.scheduler, self.interval = model, optimizer, scheduler, interval
        self.net = model  # what the training forward runs through: the model, or DDP around it
        self.generator, self.epochs, self.steps_per_epoch = generator, epochs, steps_per_epoch
        self.callbacks: list = callbacks  # train.callbacks.Callback instances, in hook order
        self.epoch = 0  # completed epochs
        self.stopped: str | None = None  # why training stopped early
        self.failed = False
        self.interrupted = False  # Ctrl-C: stop after the current step, checkpoint, exit
        self.step = 0  # batches done in the current epoch
        self.partial: dict[str, float] = {}  # the current epoch's running sums (loss, rows, metrics)
        self.perm_rng: torch.Tensor | None = None  # generator state the current epoch's permutation was drawn from
        self.ema: Lookahead | None = None  # train.ema > 0: the lookahead average of the weights
        self.members = 1  # an ensemble's size: the logged training loss is the members' mean

    def stop(self, reason: str, error: bool = False) -> None:
        self.stopped, self.failed = reason, error

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "epoch": self.epoch,
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "callbacks": {name: cb.state_dict() for name, cb in self._named_callbacks().items()},
            "step": self.step, "partial": dict(self.partial), "perm_rng": self.perm_rng,
            "ema": self.ema.state_dict() if self.ema is not None else None,
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.model.load_state_dict(d["model"])
        self.optimizer.load_state_dict(d["optimizer"])
        if self.scheduler is not None and d["scheduler"] is not None:
            self.scheduler.load_state_dict(d["scheduler"])
        self.epoch = d["epoch"]
        self.generator.set_state(d["generator"])
        torch.set_rng_state(d["torch_rng"])
        self._load_callbacks(d["callbacks"])
        self.step, self.partial, self.perm_rng = d.get("step", 0), dict(d.get("partial", {})), d.get("perm_rng")
        if self.ema is not None and d.get("ema") is not None:
            self.ema.load_state_dict(d["ema"])

    def _named_callbacks(self) -> dict[str, Any]:
        """Callbacks by class name (a second of one class gets #2): last.pt matches them by name, not position."""
        named: dict[str, Any] = {}
        for cb in self.callbacks:
            name, n = type(cb).__name__, 2
            while name in named:
                name, n = f"{type(cb).__name__}#{n}", n + 1
            named[name] = cb
        return named

    def _load_callbacks(self, saved: dict[str, Any] | list) -> None:
        named = self._named_callbacks()
        if isinstance(saved, list):  # last.pt of format 1: in hook order
            saved = dict(zip(named, saved)) if len(saved) == len(named) else {"?": None}
        saved = {k: v for k, v in saved.items() if v or k in named}  # a stateless callback needs nothing restored
        if set(saved) != set(named):
            raise CheckpointError(f"cannot resume: last.pt holds the state of callbacks {sorted(saved)}, this run has "
                                 f"{sorted(named)} (a different train.early_stopping or train.tensorboard)")
        for name, cb in named.items():
            cb.load_state_dict(saved[name])
