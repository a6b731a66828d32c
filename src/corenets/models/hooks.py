"""What fit() asks of a model beyond forward(): one interface, with defaults that suit any nn.Module.

A model that needs more (an ensemble's per-member losses, airnet's data-dependent init) subclasses
TrainingHooks and overrides that method; the training loop calls `hooks_of(model)` and never asks which
model it has.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


class TrainingHooks:
    """Mixed into an nn.Module; every method has the plain model's behaviour."""

    loss_terms = 1  # the training loss is a sum of this many losses (an ensemble's members); logged as their mean

    def init_from_data(self, x: torch.Tensor) -> None:
        """Data-dependent initialisation from training inputs (B, *input_shape), once before the first step."""

    def training_loss(self, loss_fn: Callable) -> Callable:
        """The loss the optimiser minimises, given the task's loss of (outputs, targets)."""
        return loss_fn

    def clip_groups(self) -> list[list[nn.Parameter]]:
        """Parameter groups whose gradient norms are clipped each on its own."""
        return [list(self.parameters())]


class _Plain(TrainingHooks):
    def __init__(self, model: nn.Module):
        self.model = model

    def parameters(self):
        return self.model.parameters()


def hooks_of(model: nn.Module) -> TrainingHooks:
    """The model's training hooks: its own when it has them, else the plain defaults."""
    return model if isinstance(model, TrainingHooks) else _Plain(model)
