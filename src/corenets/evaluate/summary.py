"""The model summary (summary.txt, and the report's "Data and model" section): layers, then the sizes that matter.

torchinfo traces one example, so its layer table shows shapes per example and the figures below it are per example:
parameters, multiply-adds, and the activations the backward pass keeps (times the batch size in training).
torchinfo's own footer is dropped: it sized the input from the tensor's storage (the whole training set when the
example is a slice of it) and printed its unit enum (`Units.MEGABYTES`).
"""

from __future__ import annotations

import torch
from torch import nn


def _mb(nbytes: float) -> str:
    return f"{nbytes / 1e6:,.2f} MB"


def _count(n: float) -> str:
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:,.2f} {unit}"
    return f"{n:,.0f}"


def model_summary(model: nn.Module, example: torch.Tensor, batch_size: int, optimizer: str = "adam") -> str:
    """The layer table for one example and the figures a reader needs to size a run.

    Args:
        model: the built model.
        example: one input row, (1, *input_shape) (a copy: a slice of a large tensor shares its storage).
        batch_size: training rows per step, to scale the per-example activation memory.
        optimizer: its name; adam, adamw and rmsprop keep one or two tensors per weight.
    Returns:
        The text of summary.txt.
    """
    from torchinfo import summary

    example = example[:1].clone()  # its own storage
    stats = summary(model, input_data=[example], verbose=0, depth=4, col_names=("output_size", "num_params"),
                    device="cpu", mode="eval")
    table = str(stats).splitlines()
    cut = next((i for i, line in enumerate(table) if line.startswith("Total params")), len(table))
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    states = {"adam": 2, "adamw": 2, "rmsprop": 1, "sgd": 1}.get(optimizer, 2)  # sgd: the momentum buffer
    activation = float(stats.total_output_bytes)  # forward outputs kept for backward, and their gradients
    lines = table[:cut] + [
        f"parameters: {params:,} ({trainable:,} trainable), {_mb(param_bytes)} as float32",
        f"multiply-adds per example: {_count(stats.total_mult_adds)}",
        f"activation memory in training: {_mb(activation)} per example, {_mb(activation * batch_size)} for a batch "
        f"of {batch_size} (outputs kept for the backward pass, and their gradients)",
        f"weights + gradients + {optimizer} state: {_mb(param_bytes * (2 + states))}",
    ]
    return "\n".join(lines) + "\n"
