"""`model.members: N`: N copies of one model, trained side by side, whose predictions are averaged.

Each member starts from its own random draw and learns from its own loss: fit() adds the members'
losses (so each member's gradient is the one it would get alone) and clips each member's gradient by
itself. Training an ensemble of N is therefore training N models on the same batches, in one run.

In eval mode the ensemble returns ordinary logits, those of the members' averaged probabilities
(softmax for multiclass, sigmoid for binary), computed in log space so confident members neither
overflow nor tie. Regression averages the values. Loss, metrics, predict, serve and export thus see
one model of the usual shape.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .hooks import TrainingHooks, hooks_of

TASKS = ("multiclass", "binary", "regression")


def average_outputs(outs: torch.Tensor, task: str) -> torch.Tensor:
    """(N members, B, K) raw outputs -> (B, K): logits of the mean probability, or the mean value."""
    log_n = math.log(outs.shape[0])
    if task == "multiclass":
        return torch.logsumexp(F.log_softmax(outs, dim=-1), dim=0) - log_n
    if task == "binary":  # logit(mean p) = log(mean p) - log(mean (1 - p)); log p = -softplus(-x)
        # softplus, not logsigmoid: exported to ONNX, logsigmoid(x) becomes Log(Sigmoid(x)), and onnxruntime's
        # sigmoid is coarse in its tails (a confident SST-2 ensemble's logit of 10.4 came back 0.0014 off)
        return torch.logsumexp(-F.softplus(-outs), dim=0) - torch.logsumexp(-F.softplus(outs), dim=0)
    return outs.mean(0)


class Ensemble(nn.Module, TrainingHooks):
    """Members with the same input and output; see the module docstring."""

    def __init__(self, members: list[nn.Module], task: str):
        super().__init__()
        if len(members) < 2:
            raise ConfigError(f"an ensemble needs at least 2 members, got {len(members)}")
        if task not in TASKS:
            raise ConfigError(f"an ensemble averages a {'/'.join(TASKS)} model's outputs, not a {task!r} one")
        self.members = nn.ModuleList(members)
        self.task = task
        self.member_outputs: list[torch.Tensor] | None = None  # the last training forward's, for member_loss

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [m(x) for m in self.members]
        if not self.training:
            return average_outputs(torch.stack(outs), self.task)
        self.member_outputs = outs
        with torch.no_grad():  # training reads the members' own outputs; this is for the running metrics only
            return average_outputs(torch.stack(outs), self.task)

    @property
    def loss_terms(self) -> int:
        return len(self.members)

    def init_from_data(self, x: torch.Tensor) -> None:
        for m in self.members:
            hooks_of(m).init_from_data(x)

    def training_loss(self, loss_fn: Callable) -> Callable:
        """Each member learns from its own loss; validation scores the average."""
        return member_loss(self, loss_fn)

    def clip_groups(self) -> list[list[nn.Parameter]]:
        """Each member's parameters: gradient clipping is per member, as if each trained alone."""
        return [list(m.parameters()) for m in self.members]


def member_loss(ensemble: Ensemble, loss_fn: Callable) -> Callable:
    """The sum of the members' losses in training; the averaged model's loss in evaluation."""

    def loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if not ensemble.training or ensemble.member_outputs is None:
            return loss_fn(out, y)
        outs, ensemble.member_outputs = ensemble.member_outputs, None
        return torch.stack([loss_fn(o, y) for o in outs]).sum()

    return loss
