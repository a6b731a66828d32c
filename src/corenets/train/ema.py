"""Lookahead EMA of the weights (as in airbench): train.ema > 0 turns it on.

Every `every` steps the running average moves towards the weights,
    avg <- d * avg + (1 - d) * w,   d = ema**every * progress**3,
and the weights are then set to the average (lookahead: the fast weights
restart from the slow ones). The cubic ramp keeps early, fast-changing
weights out of the average; late in training d approaches ema**every. At the
end of training the model holds the average. Floating-point buffers (batch-norm
statistics) are averaged too, so the model stays consistent.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError


class Lookahead:
    def __init__(self, model: nn.Module, decay: float, every: int, total_steps: int):
        if not 0 < decay < 1 or every < 1:
            raise ConfigError(f"train.ema={decay} must be in (0, 1) (0 = off) and train.ema_every={every} >= 1")
        self.decay, self.every, self.total = decay, every, max(1, total_steps)
        self.steps = 0
        self.avg = {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def step(self, model: nn.Module) -> None:
        """Call after every optimiser step."""
        self.steps += 1
        if self.steps % self.every:
            return
        d = self.decay ** self.every * min(1.0, self.steps / self.total) ** 3
        self._pull(model, d)

    @torch.no_grad()
    def finish(self, model: nn.Module) -> None:
        """The model ends with the average (one last update first)."""
        d = self.decay ** self.every * min(1.0, self.steps / self.total) ** 3
        self._pull(model, d)

    def _pull(self, model: nn.Module, d: float) -> None:
        state = model.state_dict()
        for k, avg in self.avg.items():
            avg.lerp_(state[k].to(avg.dtype), 1 - d)
            state[k].copy_(avg)

    def state_dict(self) -> dict:
        return {"steps": self.steps, "avg": self.avg}

    def load_state_dict(self, d: dict) -> None:
        self.steps = d["steps"]
        for k, v in d["avg"].items():
            self.avg[k].copy_(v)
