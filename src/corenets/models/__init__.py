"""Models by name. Every module in this package registers its variants with @MODELS.register().

A builder is ``fn(input_shape, num_outputs, *, <typed options>) -> nn.Module``; its
keyword options are what a recipe's ``model:`` section and ``--set model.KEY=VALUE``
accept. The module takes a batch shaped (B, *input_shape) and returns (B, num_outputs).
"""

from __future__ import annotations

import warnings
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


# Removed models and options. A saved run or an old config that names one gets a clear answer: a removed model is
# an error naming what replaces it; a removed option is dropped with a note (none of them changes what trained
# weights compute: word_dropout acted in training only, init at initialisation only).
REMOVED_MODELS = {"resnet_fast": "use airnet (the fast recipes' model) or cnn_bn"}
REMOVED_OPTIONS = {
    "word_dropout": "training words read as <unk>; it tied on SST-2 and no recipe kept it",
    "init": "each model has one initialisation: torch's for rnn/lstm/gru, Keras' for seed_cnn",
}


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
    from ..options import check_options

    if name in REMOVED_MODELS:
        raise ConfigError(f"model {name} was removed; {REMOVED_MODELS[name]}")
    reg = models()
    fn = reg.get(name)
    opts = check_options(options, fn, reg.options(name, skip=2), "model")
    model = fn(tuple(input_shape), int(num_outputs), **opts)
    model.corenets_model = {"name": name, "options": dict(options)}  # how cn.save_run's folder rebuilds it
    return model


def settle_options(name: str, options: dict[str, Any], facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """A recipe's model options as the builder takes them: data facts filled in, removed options dropped.

    An option named in `facts` that the builder accepts comes from the data; a config that still sets it gets
    a note (once per process), which says so when the two disagree. A removed option the builder no longer
    takes is dropped with a note.
    """
    if name in REMOVED_MODELS:
        raise ConfigError(f"model {name} was removed; {REMOVED_MODELS[name]}")
    takes = models().options(name, skip=2)
    out = dict(options)
    for key in [k for k in out if k in REMOVED_OPTIONS and k not in takes]:
        _note(f"model.{key} was removed ({REMOVED_OPTIONS[key]}); the setting is ignored")
        del out[key]
    for key, value in (facts or {}).items():
        if key not in takes:
            continue
        if key in out:
            differs = "" if out[key] == value else f" (it said {out[key]})"
            _note(f"model.{key} is now taken from the data ({value}); the setting is ignored{differs}")
        out[key] = value
    return out


def _note(message: str) -> None:
    warnings.warn(message, UserWarning, stacklevel=2)  # Python shows one warning text once per call site


def build_model(name: str, input_shape: tuple[int, ...], num_outputs: int, options: dict[str, Any],
                members: int = 1, task: str | None = None, facts: dict[str, Any] | None = None) -> nn.Module:
    """A recipe's model: `create_model`, or with `members` > 1 an Ensemble of that many (models/ensemble.py).

    `task` (multiclass, binary or regression) says how an ensemble averages its members' outputs. `facts`
    (`DataBundle.facts`, or those a run saved) fill the builder options the data decides, such as vocab_size
    and subwords; see `settle_options`.
    """
    if not 1 <= members <= 64:
        raise ConfigError(f"model.members={members} must be between 1 (one model) and 64")
    options = settle_options(name, options, facts)
    if members == 1:
        return create_model(name, input_shape, num_outputs, **options)
    from .ensemble import Ensemble

    return Ensemble([create_model(name, input_shape, num_outputs, **options) for _ in range(members)], str(task))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["MODELS", "build_model", "count_parameters", "create_model", "models", "settle_options"]
