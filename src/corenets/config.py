"""Typed run configuration, YAML recipes and type-checked ``--set`` overrides.

A recipe is YAML with four parts: top-level run fields, ``data``, ``model`` and
``train``. ``data`` and ``model`` name a registered builder; their other keys
are that builder's keyword options, checked against its signature, so the valid
keys and their types live in one place.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from .errors import ConfigError


@dataclass
class DataConfig:
    name: str = "digits"  # a registered dataset (`corenets list datasets`)
    val_fraction: float = 0.1  # of the training part, carved off for model selection
    test_fraction: float = 0.2  # held out when a dataset has no official test split
    options: dict[str, Any] = field(default_factory=dict)  # the dataset's own options (path, target, ...)


@dataclass
class ModelConfig:
    name: str = "mlp"  # a registered model (`corenets list models`)
    options: dict[str, Any] = field(default_factory=dict)  # the model's own options (hidden, dropout, ...)
    members: int = 1  # > 1: an ensemble of that many copies, trained side by side, probabilities averaged


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64  # per process; under DDP the global batch is batch_size x world size
    eval_batch_size: int = 1024  # evaluation only; larger is faster and changes no number
    optimizer: Literal["sgd", "adam", "adamw", "rmsprop"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd and rmsprop
    nesterov: bool = False  # sgd only
    schedule: Literal["none", "step", "cosine", "onecycle", "linear", "plateau"] = "none"
    step_size: int = 10  # step: epochs between decays
    gamma: float = 0.1  # step and plateau: the decay factor
    loss: Literal["auto", "cross_entropy", "bce", "mse", "mae", "huber"] = "auto"  # auto picks by task
    label_smoothing: float = 0.0  # cross_entropy only
    grad_clip: float = 0.0  # max gradient norm; 0 = off
    early_stopping: int = 0  # patience in epochs; 0 = off
    monitor: str = "val_loss"  # any history column: val_loss, val_accuracy, ...
    mode: Literal["auto", "min", "max"] = "auto"  # auto: min for losses and errors, max otherwise
    min_delta: float = 0.0  # the smallest change that counts as an improvement
    restore_best: bool = True  # end with the best weights on `monitor`, not the last
    # after choosing the epoch on validation, train a fresh model on training + validation rows for that many
    # epochs (same seed, the schedule's full length) and keep it; scalers and vocabularies stay fitted on training
    refit: bool = False
    tensorboard: bool = False  # also log to <run>/tensorboard (needs the [tensorboard] extra)
    # image batches only, applied on the device each step: e.g. "translate:2,flip,cutout:8" (train/augment.py); "" = none
    augment: str = ""
    channels_last: bool = False  # NHWC memory for conv nets: oneDNN's fast path on CPU (about 1.5x for seed_cnn)
    precision: Literal["fp32", "bf16", "fp16", "auto"] = "fp32"  # autocast of forward + loss; fp16: CUDA only; auto: bf16 where native
    tta: Literal["none", "flip"] = "none"  # validation/test logits averaged over the image and its mirror (not for digits)
    # learning-rate multiplier for normalisation-layer parameters (BN biases); weight decay is divided by it so
    # lr x decay stays the same (airbench uses 64 with bias-only BN); 1 = one group for everything
    bn_bias_lr_scale: float = 1.0
    warmup: float = 0.2  # linear schedule: fraction of steps spent rising to lr before the linear decay to 0
    # lookahead EMA of the weights (airbench): every ema_every steps the weights are pulled to their moving
    # average with this decay per step; the average is what training ends with. 0 = off
    ema: float = 0.0
    ema_every: int = 5


@dataclass
class RunConfig:
    name: str = "run"  # the recipe name; the run folder is <out>/<name>-<timestamp>
    description: str = ""
    seed: int = 0  # seeds Python, NumPy and torch, and the data split
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    threads: int = 0  # torch intra-op threads; 0 keeps torch's default
    deterministic: bool = False  # torch.use_deterministic_algorithms(True)
    out: str = "runs"  # parent folder of run folders
    cv: int = 0  # K-fold cross-validation when >= 2 (tabular datasets)
    fold: int = 0  # with cv: 0 runs every fold; k in 1..cv runs fold k alone (how each fold folder repeats itself)
    engine: Literal["torch", "scratch"] = "torch"  # scratch: train the mlp with the NumPy engine (corenets.scratch)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


# ---------------------------------------------------------------- type checks


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return f"a list of {_type_name(args[0])}" if args else "a list"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Return `value` as type `tp`, or raise ConfigError naming the key, the value and the type."""
    if tp is Any or tp is inspect.Parameter.empty:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    bad = ConfigError(f"{key}={value!r} is not valid; expected {_type_name(tp)}")
    if origin is Literal:
        if value in args:
            return value
        raise bad
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(value, a, key)
            except ConfigError:
                pass
        raise bad
    if origin in (list, tuple):
        if isinstance(value, (int, float, str)) and not isinstance(value, bool) and args and args[0] is not str:
            value = [value]  # `--set model.hidden=64` means [64]
        if not isinstance(value, (list, tuple)):
            raise bad
        item = args[0] if args else Any
        try:
            out = [coerce(v, item, key) for v in value]
        except ConfigError:
            raise bad from None
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise bad
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise bad
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string; a user means the number
            try:
                return float(value)
            except ValueError:
                pass
        raise bad
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise bad
    return value


def _hints(obj: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj)
    except Exception:  # pragma: no cover - an unresolvable annotation means "anything"
        return {}


def _builder_options(section: str, name: Any) -> set[str]:
    """The option names a registered model or dataset builder takes; none for a name not registered."""
    if section == "model":
        from .models import models as registry
        skip = 2
    else:
        from .data import datasets as registry
        skip = 1
    reg = registry()
    return set(reg.options(str(name), skip=skip)) if str(name) in reg.names() else set()


def check_options(options: dict[str, Any], builder: Any, params: dict[str, inspect.Parameter], where: str) -> dict[str, Any]:
    """Check a builder's options against its signature: known keys, right types."""
    hints = _hints(builder)
    out = {}
    for key, value in options.items():
        if key not in params:
            valid = ", ".join(sorted(params)) or "(none)"
            raise ConfigError(f"unknown option {where}.{key}; valid keys are: {valid}")
        out[key] = coerce(value, hints.get(key, params[key].annotation), f"{where}.{key}")
    return out


# --------------------------------------------------------------- YAML <-> config


def _section_from_dict(cls: type, raw: dict[str, Any], where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"'{where}' must be a mapping of keys to values, got {raw!r}")
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in raw.items():
        if key in names and key != "options":
            kwargs[key] = coerce(value, hints[key], f"{where}.{key}")
        elif "options" in names:
            extra[key] = value  # a builder option, checked against the builder in validate()
        else:
            raise ConfigError(f"unknown key {where}.{key}; valid keys are: {', '.join(sorted(names))}")
    if "options" in names:
        kwargs["options"] = {**raw.get("options", {}), **extra} if isinstance(raw.get("options"), dict) else extra
    return cls(**kwargs)


def from_dict(raw: dict[str, Any]) -> RunConfig:
    """Build a RunConfig from a parsed recipe; unknown keys are errors that list the valid ones."""
    if not isinstance(raw, dict):
        raise ConfigError(f"a recipe must be a YAML mapping, got {type(raw).__name__}")
    hints = _hints(RunConfig)
    top = {f.name for f in dataclasses.fields(RunConfig)}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key in SECTIONS:
            kwargs[key] = _section_from_dict(SECTIONS[key], value or {}, key)
        elif key in top:
            kwargs[key] = coerce(value, hints[key], key)
        else:
            raise ConfigError(f"unknown key '{key}'; valid keys are: {', '.join(sorted(top))}")
    return RunConfig(**kwargs)


def to_dict(cfg: RunConfig) -> dict[str, Any]:
    """The YAML form: builder options sit beside `name` in their section."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            section = {k: v for k, v in dataclasses.asdict(value).items() if k != "options"}
            section.update(getattr(value, "options", {}))
            out[f.name] = section
        else:
            out[f.name] = value
    return out


def load_yaml(path: str | Path) -> RunConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {str(e).splitlines()[0]}") from None
    return from_dict(raw or {})


def dump_yaml(cfg: RunConfig) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def parse_override(text: str) -> tuple[list[str], Any]:
    """'train.lr=0.01' -> (['train', 'lr'], 0.01). Values are read as YAML scalars or lists."""
    if "=" not in text:
        raise ConfigError(f"--set takes key=value pairs, got {text!r}; for example --set train.lr=0.01")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set key {key!r} is empty; write section.key=value, e.g. train.epochs=5")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(cfg: RunConfig, overrides: list[str]) -> RunConfig:
    """Apply `--set` overrides, type-checked. Returns a new config."""
    raw = to_dict(cfg)
    for text in overrides:
        path, value = parse_override(text)
        if len(path) == 1:
            if path[0] in SECTIONS:
                raise ConfigError(f"--set {path[0]}=... needs a key: {path[0]}.KEY=VALUE")
            raw[path[0]] = value
        elif len(path) == 2 and path[0] in SECTIONS:
            raw[path[0]][path[1]] = value
            if path[1] == "name" and path[0] in ("data", "model"):
                # a different builder: keep the options it also takes (gru -> lstm keeps the embedding and
                # sizes), drop the ones that belonged to the old builder alone
                keep = {f.name for f in dataclasses.fields(SECTIONS[path[0]])} | _builder_options(path[0], value)
                raw[path[0]] = {k: v for k, v in raw[path[0]].items() if k in keep}
        else:
            raise ConfigError(
                f"unknown key '{'.'.join(path)}'; write KEY or SECTION.KEY with SECTION one of: {', '.join(SECTIONS)}"
            )
    return from_dict(raw)
