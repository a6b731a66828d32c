"""Models by name. Every module in this package registers its variants with @MODELS.register().

A builder is ``fn(input_shape, num_outputs, *, <typed options>) -> nn.Module``; its
keyword options are what a recipe's ``model:`` section and ``--set model.KEY=VALUE``
accept. The module takes a batch shaped (B, *input_shape) and returns (B, num_outputs).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ..errors import ConfigError
from ..registry import Registry, import_submodules

MODELS: Registry = Registry("model")
_loaded = False


def _discover() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        import_submodules(__name__, __path__)


def models() -> Registry:
    _discover()
    return MODELS


def create_model(name: str, input_shape: tuple[int, ...], num_outputs: int, **options: Any) -> nn.Module:
    """Build a registered model.

    Args:
        name: a registered model (see ``corenets list models``).
        input_shape: one example's shape, e.g. (1, 28, 28) or (30,).
        num_outputs: logits to produce (1 for binary and regression).
        **options: the model's own options, type-checked against its signature.
    Returns:
        An nn.Module mapping (B, *input_shape) to (B, num_outputs).
    """
    from ..config import check_options

    reg = models()
    fn = reg.get(name)
    opts = check_options(options, fn, reg.options(name, skip=2), "model")
    return fn(tuple(input_shape), int(num_outputs), **opts)


def build_model(name: str, input_shape: tuple[int, ...], num_outputs: int, options: dict[str, Any],
                members: int = 1, task: str | None = None) -> nn.Module:
    """A recipe's model: `create_model`, or with `members` > 1 an Ensemble of that many (models/ensemble.py).

    `task` (multiclass, binary or regression) says how an ensemble averages its members' outputs.
    """
    if not 1 <= members <= 64:
        raise ConfigError(f"model.members={members} must be between 1 (one model) and 64")
    if members == 1:
        return create_model(name, input_shape, num_outputs, **options)
    from .ensemble import Ensemble

    return Ensemble([create_model(name, input_shape, num_outputs, **options) for _ in range(members)], str(task))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["MODELS", "build_model", "count_parameters", "create_model", "models"]
