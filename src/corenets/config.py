"""Typed run configuration, YAML recipes and type-checked ``--set`` overrides.

A recipe is YAML with four parts: top-level run fields, ``data``, ``model`` and
``train``. ``data`` and ``model`` name a registered builder; their other keys
are that builder's keyword options, checked against its signature, so the valid
keys and their types live in one place. Every field carries its type and range
(corenets/options.py); `from_dict` checks them all, for recipes, config.yaml,
``--set`` and the CLI's shortcuts alike, before anything is written.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml

from .errors import ConfigError
from .options import Range, check_options, coerce, hints, shown, suggest

Fraction = Annotated[float, Range(gt=0, lt=1)]
Count = Annotated[int, Range(ge=1, le=2**31 - 1)]
NonNegative = Annotated[float, Range(ge=0)]


@dataclass
class DataConfig:
    name: str = "digits"  # a registered dataset (`corenets list datasets`)
    val_fraction: Fraction = 0.1  # of the training part, carved off for model selection
    test_fraction: Fraction = 0.2  # held out when a dataset has no official test split
    options: dict[str, Any] = field(default_factory=dict)  # the dataset's own options (path, target, ...)


@dataclass
class ModelConfig:
    name: str = "mlp"  # a registered model (`corenets list models`)
    options: dict[str, Any] = field(default_factory=dict)  # the model's own options (hidden, dropout, ...)
    # > 1: an ensemble of that many copies, trained side by side, probabilities averaged
    members: Annotated[int, Range(ge=1, le=64)] = 1


@dataclass
class TrainConfig:
    epochs: Annotated[int, Range(ge=1, le=1_000_000)] = 10  # passes over the training rows
    batch_size: Count = 64  # per process; under DDP the global batch is batch_size x world size
    eval_batch_size: Count = 1024  # evaluation only; larger is faster and changes no number
    optimizer: Literal["sgd", "adam", "adamw", "rmsprop"] = "adam"  # `corenets list optimizers`
    lr: Annotated[float, Range(gt=0, le=100)] = 1e-3  # learning rate (the peak rate for a schedule)
    weight_decay: Annotated[float, Range(ge=0, le=100)] = 0.0  # L2 penalty (adamw: decoupled decay)
    momentum: Annotated[float, Range(ge=0, lt=1)] = 0.9  # sgd and rmsprop
    nesterov: bool = False  # sgd only
    schedule: Literal["none", "step", "cosine", "onecycle", "linear", "plateau"] = "none"  # `corenets list schedules`
    step_size: Count = 10  # step: epochs between decays
    gamma: Annotated[float, Range(gt=0)] = 0.1  # step and plateau: the decay factor (plateau: < 1)
    loss: Literal["auto", "cross_entropy", "bce", "mse", "mae", "huber"] = "auto"  # auto picks by task
    label_smoothing: Annotated[float, Range(ge=0, lt=1)] = 0.0  # cross_entropy only
    grad_clip: NonNegative = 0.0  # max gradient norm; 0 = off
    early_stopping: Annotated[int, Range(ge=0, le=1_000_000)] = 0  # patience in epochs; 0 = off
    monitor: str = "val_loss"  # any history column: val_loss, val_accuracy, ...
    mode: Literal["auto", "min", "max"] = "auto"  # auto: min for losses and errors, max otherwise
    min_delta: NonNegative = 0.0  # the smallest change that counts as an improvement
    restore_best: bool = True  # end with the best weights on `monitor`, not the last
    # after choosing the epoch on validation, train a fresh model on training + validation rows for that many
    # epochs (same seed, the schedule's full length) and keep it; scalers and vocabularies stay fitted on training
    refit: bool = False
    tensorboard: bool = False  # also log to <run>/tensorboard (needs the [tensorboard] extra)
    # image batches only, applied on the device each step: e.g. "translate:2,flip,cutout:8" (train/augment.py); "" = none
    augment: str = ""
    channels_last: bool = False  # NHWC memory for conv nets: oneDNN's fast path on CPU (about 1.5x for seed_cnn)
    precision: Literal["fp32", "bf16", "fp16", "auto"] = "fp32"  # autocast of forward + loss; fp16: CUDA only; auto: bf16 where native
    tta: Literal["none", "flip"] = "none"  # validation/test logits averaged over the image and its mirror (mirror-safe data only)
    # learning-rate multiplier for normalisation-layer parameters (BN biases); weight decay is divided by it so
    # lr x decay stays the same (airbench uses 64 with bias-only BN); 1 = one group for everything
    bn_bias_lr_scale: Annotated[float, Range(gt=0, le=10_000)] = 1.0
    # linear schedule: fraction of steps spent rising to lr before the linear decay to 0
    warmup: Annotated[float, Range(ge=0, lt=1)] = 0.2
    # lookahead EMA of the weights (airbench): every ema_every steps the weights are pulled to their moving
    # average with this decay per step; the average is what training ends with. 0 = off
    ema: Annotated[float, Range(ge=0, lt=1)] = 0.0
    ema_every: Count = 5  # ema: steps between pulls of the weights to their average


@dataclass
class ReportConfig:
    # also fit one strong scikit-learn model (TF-IDF + logistic regression, gradient boosting, pixel logistic
    # regression, linear autoregression) on the same training rows and score it on the same test rows
    classical_baseline: bool = True
    # a "What it learned" section (corenets inspect's overview figures: filters, confused pairs, projection, ...),
    # drawn once after training from the saved model; needs Captum (the inspect extra)
    inspect: bool = True


@dataclass
class RunConfig:
    name: str = "run"  # the recipe name; the run folder is <out>/<name>-<timestamp>, so one folder name
    description: str = ""  # one line shown by `corenets list recipes` and in the report
    seed: Annotated[int, Range(ge=0, le=2**32 - 1, why="NumPy's seed range")] = 0  # seeds Python, NumPy, torch, the split
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"  # auto: cuda, then mps, then cpu
    threads: Annotated[int, Range(ge=0, le=4096)] = 0  # torch intra-op threads; 0 = auto (train/threads.py)
    deterministic: bool = False  # torch.use_deterministic_algorithms(True)
    out: str = "runs"  # parent folder of run folders
    cv: Annotated[int, Range(ge=0, le=1000)] = 0  # K-fold cross-validation when >= 2 (tabular datasets)
    # with cv: 0 runs every fold; k in 1..cv runs fold k alone (how each fold folder repeats itself)
    fold: Annotated[int, Range(ge=0, le=1000)] = 0
    engine: Literal["torch", "scratch"] = "torch"  # scratch: train the mlp with the NumPy engine (corenets.scratch)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    report: ReportConfig = field(default_factory=ReportConfig)  # what the evaluation adds beside the network's scores


SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "report": ReportConfig}
MAX_NAME = 100  # characters in a run name: the folder is <name>-<timestamp>, and file systems allow 255 bytes
MAX_DESCRIPTION = 10_000


def _builder_options(section: str, name: Any) -> set[str]:
    """The option names a registered model or dataset builder takes; none for a name not registered."""
    reg = _registry(section)
    skip = 2 if section == "model" else 1
    return set(reg.options(str(name), skip=skip)) if str(name) in reg.names() else set()


def _registry(section: str):
    if section == "model":
        from .models import models

        return models()
    from .data import datasets

    return datasets()


def check_name(name: str, key: str = "name") -> str:
    """A run name is one folder name: the run folder must stay inside --out."""
    if (not name or name in (".", "..") or any(c in name for c in "/\\") or any(ord(c) < 32 for c in name)
            or len(name) > MAX_NAME or name != name.strip()):
        raise ConfigError(f"{key}={shown(name)} must be one folder name: no '/', '\\', '..' or control characters, "
                          f"1 to {MAX_NAME} characters; for example name: my-run")
    return name


def _check_builder(section: str, name: str, options: dict[str, Any]) -> dict[str, Any]:
    reg = _registry(section)
    removed_models, removed_options = {}, {}
    if section == "model":  # old configs: a removed model is an error saying what replaces it; a removed option is
        from . import models  # dropped with a note when the model is built (models.settle_options)

        removed_models, removed_options = getattr(models, "REMOVED_MODELS", {}), getattr(models, "REMOVED_OPTIONS", {})
    if name in removed_models:
        raise ConfigError(f"model {name} was removed; {removed_models[name]}")
    if name not in reg.names():
        raise ConfigError(f"unknown {'dataset' if section == 'data' else 'model'} {shown(name, 60)}; "
                          f"{suggest(name, reg.names())}choose one of: {', '.join(reg.names())}")
    opts = dict(options)
    extra = {}
    if section == "data" and "as_sequence" in opts:  # load_dataset's own option, which every dataset takes
        from .data.sequence import SequenceView

        extra["as_sequence"] = coerce(opts.pop("as_sequence"), SequenceView, "data.as_sequence")
    skip = 2 if section == "model" else 1
    params = reg.options(name, skip=skip)
    extra.update({k: opts.pop(k) for k in list(opts) if k in removed_options and k not in params})
    return {**check_options(opts, reg.get(name), params, section), **extra}


def validate(cfg: RunConfig) -> RunConfig:
    """The rules that span fields, and the data and model options against their builders; returns `cfg`
    with its data paths made absolute (resolve_paths).

    `from_dict` calls it, so every way a config is made (recipe, config.yaml, --set, shortcuts) is checked before
    anything is written; the experiment calls it again for a RunConfig built in Python.
    """
    check_name(cfg.name)
    if len(cfg.description) > MAX_DESCRIPTION:
        raise ConfigError(f"description is {len(cfg.description):,} characters long; keep it under {MAX_DESCRIPTION:,}")
    if not cfg.out.strip() or "\0" in cfg.out:
        raise ConfigError(f"out={shown(cfg.out)} is not a folder name; give --out a folder, e.g. --out runs")
    if cfg.cv == 1:
        raise ConfigError("cv=1 is not cross-validation; use 0 (off) or 2 or more folds")
    if cfg.train.schedule == "plateau" and cfg.train.gamma >= 1:
        raise ConfigError(f"train.gamma={cfg.train.gamma:g} is out of range for schedule plateau; allowed: > 0 and < 1 "
                          "(the factor that lowers the rate when validation loss stalls)")
    if cfg.fold > cfg.cv:
        raise ConfigError(f"fold={cfg.fold} is out of range; allowed: 0 (every fold) to cv={cfg.cv}")
    cfg.data.options = _check_builder("data", cfg.data.name, cfg.data.options)
    cfg.model.options = _check_builder("model", cfg.model.name, cfg.model.options)
    from .train.augment import parse_augment

    parse_augment(cfg.train.augment)  # the spelling; whether it suits the data is preflight's question
    return resolve_paths(cfg)


def resolve_paths(cfg: RunConfig) -> RunConfig:
    """Data options that are paths (`path`, `*_path`) made absolute, so config.yaml repeats the run from anywhere."""
    for key, value in cfg.data.options.items():
        if (key == "path" or key.endswith("_path")) and isinstance(value, str) and value:
            cfg.data.options[key] = os.path.abspath(os.path.expanduser(value))
    return cfg


# --------------------------------------------------------------- YAML <-> config

MAX_DEPTH = 32  # nesting levels a config may use; recipes use three
MAX_FILE_BYTES = 1 << 20


class _StrictLoader(yaml.SafeLoader):
    """safe_load without anchors, aliases or deep nesting: a few hundred bytes of aliases can expand to gigabytes."""

    depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            mark = event.start_mark
            raise ConfigError(f"{self.where}: YAML anchors and aliases (&name, *name) are not allowed (line "
                              f"{mark.line + 1}, column {mark.column + 1}); write the value out, or quote a text "
                              f"that starts with & or *")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConfigError(f"{self.where}: nested more than {MAX_DEPTH} levels deep; a config needs three")
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def parse_yaml(text: str, where: str) -> Any:
    """YAML text -> Python values, refusing anchors, aliases and deep nesting (ConfigError naming `where`)."""
    loader = _StrictLoader(text)
    loader.where = where
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _section_from_dict(cls: type, raw: dict[str, Any], where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"'{where}' must be a mapping of keys to values, got {shown(raw)}")
    types_ = hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise ConfigError(f"key {shown(key, 60)} in '{where}' is not a name; keys are words like lr or epochs")
        if key in names and key != "options":
            kwargs[key] = coerce(value, types_[key], f"{where}.{key}")
        elif "options" in names:
            extra[key] = value  # a builder option, checked against the builder in validate()
        else:
            raise ConfigError(f"unknown key {where}.{key[:60]}; {suggest(key, names, where + '.')}"
                              f"valid keys are: {', '.join(sorted(names))}")
    if "options" in names:
        kwargs["options"] = {**raw.get("options", {}), **extra} if isinstance(raw.get("options"), dict) else extra
    return cls(**kwargs)


def from_dict(raw: dict[str, Any]) -> RunConfig:
    """Build a RunConfig from a parsed recipe, every field checked for type and range, and the builder options
    against their builders; unknown keys are errors that list the valid ones."""
    if not isinstance(raw, dict):
        raise ConfigError(f"a recipe must be a YAML mapping, got {type(raw).__name__}")
    types_ = hints(RunConfig)
    top = {f.name for f in dataclasses.fields(RunConfig)}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(key, str) and key in SECTIONS:
            kwargs[key] = _section_from_dict(SECTIONS[key], value or {}, key)
        elif isinstance(key, str) and key in top:
            kwargs[key] = coerce(value, types_[key], key)
        elif key == "tune":  # `corenets tune`'s default search space; tune/space.py reads and checks it
            if not isinstance(value, dict):
                raise ConfigError(f"'tune' must be a mapping of KEY: DISTRIBUTION, got {shown(value)}")
        else:
            raise ConfigError(f"unknown key {shown(key, 60)}; {suggest(key, top | set(SECTIONS))}"
                              f"valid keys are: {', '.join(sorted(top))}")
    return validate(RunConfig(**kwargs))


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
    """A config file: UTF-8 YAML of at most 1 MiB, without anchors or aliases, checked like any config."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ConfigError(f"{path} is {path.stat().st_size:,} bytes; a config file is at most {MAX_FILE_BYTES:,}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path} is not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start}); "
                          "save it as UTF-8") from None
    try:
        raw = parse_yaml(text, str(path))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {shown(str(e).splitlines()[0])}") from None
    return from_dict(raw or {})


def dump_yaml(cfg: RunConfig) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True)


def parse_override(text: str) -> tuple[list[str], Any]:
    """'train.lr=0.01' -> (['train', 'lr'], 0.01). Values are read as YAML scalars or lists."""
    if "=" not in text:
        raise ConfigError(f"--set takes key=value pairs, got {shown(text)}; for example --set train.lr=0.01")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set key {shown(key)} is empty; write section.key=value, e.g. train.epochs=5")
    try:
        value = parse_yaml(raw, f"--set {shown(key, 60)}") if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(cfg: RunConfig, overrides: list[str]) -> RunConfig:
    """Apply `--set` overrides, type-checked. Returns a new config."""
    return set_values(cfg, [parse_override(text) for text in overrides])


def set_values(cfg: RunConfig, pairs: list[tuple[list[str], Any]]) -> RunConfig:
    """Set (key path, value) pairs, e.g. (['train', 'lr'], 0.01), then check the whole config. Returns a new one."""
    raw = to_dict(cfg)
    for path, value in pairs:
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
            raise ConfigError(f"unknown key {shown('.'.join(path), 80)}; write KEY or SECTION.KEY with SECTION one of: "
                              f"{', '.join(SECTIONS)}")
    return from_dict(raw)
