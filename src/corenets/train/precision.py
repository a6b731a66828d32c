"""Mixed precision and memory format: one context manager and two helpers (STYLE.md rule 10).

Measured on the 2-core CPU (BENCHMARKS.md, ## Vision): channels_last makes
seed_cnn about 1.5x faster; bf16 autocast on top is faster again on CPUs with
native bf16 but rounds activations, so it is a recipe's choice, never a default.
"""

from __future__ import annotations

import contextlib

import torch

from ..errors import ConfigError

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_precision(precision: str, device: torch.device) -> str:
    """Check the choice; "auto" is bf16 where the hardware computes in bf16 natively, else fp32.

    On a CPU without AVX512-bf16/AMX, bf16 is emulated and slower than fp32, so auto never picks it there.
    """
    if precision == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        if device.type == "cpu":
            return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
        return "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError(f"train.precision=fp16 needs a CUDA device, got {device.type}; use bf16 or fp32")
    if precision not in ("fp32", *DTYPES):
        raise ConfigError(f"train.precision={precision!r} is not valid; choose auto, fp32, bf16 or fp16")
    return precision


def autocast(device: torch.device, precision: str):
    """The forward pass and loss under autocast (fp32 = no change)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[precision])


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """fp16 gradients underflow without loss scaling; for fp32/bf16 the scaler is a pass-through."""
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")


def to_memory_format(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """(B, C, H, W) batches in NHWC memory when asked; anything else unchanged."""
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.ndim == 4 else x
