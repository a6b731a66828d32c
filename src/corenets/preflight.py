"""Checks a run must pass before anything is written: settings the device, the data or the model cannot honour.

Called by the experiment once the data is loaded and before the run folder (or a cross-validation parent) exists,
so a mistake leaves nothing on disk. Types and ranges are config.validate's; these are the questions that need
the device or the data: precision on this device, augmentation and flip TTA on this data, the monitored column,
optional extras, and whether the model fits in memory.
"""

from __future__ import annotations

import importlib
import os
import warnings

import torch

from .errors import ConfigError, DataError

# bytes per parameter while training in float32: weights, gradients, two Adam moments, the best-weights copy
TRAIN_BYTES_PER_PARAMETER = 20
# metrics.json keeps a K x K confusion matrix and a per-class table: 1,000 classes is 10^6 cells (a few MB);
# 10,000 would be 10^8 (about 800 MB while scoring, and a JSON file of hundreds of MB)
MAX_CLASSES = 1000


def check_before_run(cfg, bundle, device) -> None:
    """Raise ConfigError naming the first setting that cannot work with this device and data, and the fix.

    Args:
        cfg: the RunConfig (validated again here, for configs built in Python).
        bundle: the loaded DataBundle.
        device: the torch.device the run trains on.
    """
    from .config import validate

    validate(cfg)
    check_classes(bundle)
    check_finite(bundle)
    device = torch.device(device)
    check_precision(cfg.train.precision, device)
    check_augment(cfg.train.augment, cfg.train.tta, bundle)
    check_monitor(cfg.train.monitor, bundle.task)
    check_loss(cfg.train, bundle.task)
    if cfg.cv >= 2 and bundle.meta.get("cv_ok") is False:
        raise ConfigError(f"--cv {cfg.cv}: {cfg.data.name} has an official test split, so every fold would test on "
                          "the same rows; leave out --cv (the test split is already held out)")
    if cfg.train.tensorboard:
        try:
            importlib.import_module("torch.utils.tensorboard")
        except ImportError:
            raise ConfigError("train.tensorboard=true needs the tensorboard package: pip install 'corenets[tensorboard]', "
                              "or set train.tensorboard=false") from None
    check_model_memory(cfg, bundle, device)


def check_classes(bundle) -> None:
    """A classification run scores at most MAX_CLASSES classes (its confusion matrix grows as classes squared)."""
    k = len(getattr(bundle, "classes", None) or [])
    if bundle.task == "multiclass" and k > MAX_CLASSES:
        name = bundle.meta.get("dataset", "the data")
        raise DataError(f"{name} has {k:,} classes and corenets scores at most {MAX_CLASSES:,}: the test's confusion "
                        f"matrix holds classes squared cells ({k * k:,}, {_gib(8 * k * k)} while scoring); group rare "
                        "classes, or use data.task=regression for a numeric target")


def check_finite(bundle, rows: int = 4096) -> None:
    """Every split's inputs (and a regression's targets) are finite: one inf in the validation rows makes
    val_loss nan in every epoch, and no epoch could then be chosen on validation. Loaders name the column;
    this catches any kind they miss, by split and row count."""
    for split_name in ("train", "val", "test"):
        split = getattr(bundle, split_name, None)
        for what, t in (("inputs", getattr(split, "x", None)), ("targets", getattr(split, "y", None))):
            if not torch.is_tensor(t) or not t.is_floating_point():
                continue
            bad = sum(int((~torch.isfinite(t[i:i + rows].reshape(len(t[i:i + rows]), -1))).any(1).sum())
                      for i in range(0, len(t), rows))
            if bad:
                label = {"val": "validation"}.get(split_name, split_name)
                raise DataError(f"{bad:,} of the {len(t):,} {label} rows hold non-finite {what} (nan or inf); "
                                "remove or fill them (data.missing=impute fills table columns)")


def check_precision(precision: str, device: torch.device) -> None:
    """fp16 needs CUDA; bf16 needs a device that computes in it natively (emulated bf16 is slower than fp32)."""
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError(f"train.precision=fp16 needs a CUDA GPU and this run's device is {device.type}; "
                          "use train.precision=auto (bf16 where native, else fp32) or fp32")
    if precision == "bf16" and not bf16_native(device):
        raise ConfigError(f"train.precision=bf16: this {device.type} has no native bf16, so it would be emulated and "
                          "slower than fp32; use train.precision=auto (bf16 where native, else fp32) or fp32")


def bf16_native(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return True  # mps: torch decides per operation


def check_augment(augment: str, tta: str, bundle) -> None:
    """Augmentation and flip TTA work on images (C, H, W); flipping only where a mirrored image keeps its label."""
    from .train.augment import parse_augment

    aug = parse_augment(augment)
    ops = [op for op, _ in aug.ops] if aug is not None else []
    is_image = len(bundle.input_shape) == 3
    name = bundle.meta.get("dataset", "this dataset")
    for setting, used, flips in (("train.augment", aug is not None, "flip" in ops), ("train.tta", tta == "flip", True)):
        if not used:
            continue
        value = augment if setting == "train.augment" else tta
        if not is_image:
            raise ConfigError(f"{setting}={value!r} works on images and {name}'s inputs are shaped "
                              f"{tuple(bundle.input_shape)}; leave {setting} out for this data")
        side = max(bundle.input_shape[1:])
        for op, n in (aug.ops if setting == "train.augment" else []):
            if n > side:
                raise ConfigError(f"train.augment: {op}:{n} is larger than {name}'s {side}-pixel images; "
                                  f"allowed: {op}:1 to {op}:{side}")
        if flips and bundle.meta.get("mirror_ok", True) is False:
            fix = "remove flip from train.augment" if setting == "train.augment" else "set train.tta=none"
            raise ConfigError(f"{setting}={value!r} mirrors images, and a mirrored {name} image can change its "
                              f"label (a mirrored 2, 3 or 7 is not a digit); {fix}")


def monitor_columns(task: str) -> list[str]:
    """The history columns a run records (train/loop.py), so train.monitor can be checked before epoch 1."""
    metrics = ["rmse", "mae"] if task == "regression" else ["accuracy"]
    return ["epoch", "lr", "seconds"] + [f"{p}{m}" for p in ("train_", "val_") for m in ["loss", *metrics]]


def check_monitor(monitor: str, task: str) -> None:
    columns = monitor_columns(task)
    if monitor not in columns:
        raise ConfigError(f"train.monitor={monitor[:60]!r} is not recorded for a {task} task; choose one of: "
                          f"{', '.join(sorted(columns))}")


def check_loss(train, task: str) -> None:
    """The loss suits the task, and the settings that only one loss or optimiser reads are not set in vain."""
    loss = {"multiclass": "cross_entropy", "binary": "bce", "regression": "mse"}.get(task) if train.loss == "auto" else train.loss
    fits = {"multiclass": ("cross_entropy",), "binary": ("bce",), "regression": ("mse", "mae", "huber")}.get(task)
    if fits is not None and loss not in fits:
        raise ConfigError(f"train.loss={train.loss} does not fit a {task} task; use auto or one of: {', '.join(fits)}")
    if train.label_smoothing > 0 and loss != "cross_entropy":
        raise ConfigError(f"train.label_smoothing={train.label_smoothing:g} acts on the cross_entropy loss and this "
                          f"{task} run uses {loss}; set train.label_smoothing=0")
    if train.nesterov and (train.optimizer != "sgd" or train.momentum == 0):
        raise ConfigError(f"train.nesterov=true needs optimizer sgd with momentum > 0 (got {train.optimizer}, momentum "
                          f"{train.momentum:g}); set train.nesterov=false")


def parameter_count(cfg, bundle) -> int | None:
    """The model's parameter count, built on the meta device (no memory used); None if it cannot be built there."""
    import inspect

    from .models import build_model

    kwargs = {"facts": bundle.facts} if "facts" in inspect.signature(build_model).parameters and hasattr(bundle, "facts") else {}
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the model's own notes show once, when it is built for real
            model = build_model(cfg.model.name, bundle.input_shape, bundle.num_outputs, cfg.model.options,
                                cfg.model.members, bundle.task, **kwargs)
    except ConfigError:
        raise
    except Exception:  # a builder that computes on its weights (an orthogonal init) cannot run on meta: skip
        return None
    return sum(p.numel() for p in model.parameters())


def available_bytes(device: torch.device) -> int | None:
    """Free memory for training on `device`: the GPU's free memory, or the machine's available RAM."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        return int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_model_memory(cfg, bundle, device: torch.device) -> None:
    """Refuse a model whose weights, gradients and optimiser state alone exceed the device's free memory."""
    n = parameter_count(cfg, bundle)
    free = available_bytes(device)
    if n is None or free is None:
        return
    need = n * TRAIN_BYTES_PER_PARAMETER
    if need > free:
        raise ConfigError(f"model {cfg.model.name} with these options has {n:,} parameters: training needs about "
                          f"{_gib(need)} (weights, gradients and optimiser state in float32, before activations), "
                          f"more than the {_gib(free)} free on {device.type}; choose smaller model options")


def _gib(n: int) -> str:
    return f"{n / 2**30:,.1f} GiB"
