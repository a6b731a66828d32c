"""The MLP family: Flatten -> [Linear -> (BatchNorm) -> activation -> (Dropout)] x N -> Linear."""

from __future__ import annotations

import math
from typing import Literal

from torch import nn

from ..errors import ConfigError
from . import MODELS

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}
Activation = Literal["relu", "leaky_relu", "tanh", "sigmoid", "gelu"]


class MLP(nn.Sequential):
    def __init__(self, in_features: int, hidden: list[int], num_outputs: int, activation: str, dropout: float, batch_norm: bool):
        if not 0 <= dropout < 1:
            raise ConfigError(f"model.dropout={dropout} must be in [0, 1)")
        if any(h < 1 for h in hidden):
            raise ConfigError(f"model.hidden={hidden} must hold positive layer widths")
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers.append(nn.Linear(width, h, bias=not batch_norm))  # BN's shift replaces the bias
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_outputs))
        super().__init__(*layers)


@MODELS.register(reads=("features", "sequence", "image"))
def mlp(
    input_shape: tuple[int, ...],
    num_outputs: int,
    hidden: list[int] = [128, 64],  # noqa: B006 - read-only default
    activation: Activation = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> nn.Module:
    """Multi-layer perceptron on flattened inputs; hidden sizes, activation, dropout, batch norm."""
    return MLP(math.prod(input_shape), list(hidden), num_outputs, activation, dropout, batch_norm)
