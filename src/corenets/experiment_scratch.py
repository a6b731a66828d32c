"""`engine: scratch`: train a recipe's MLP with the NumPy engine (corenets.scratch) instead of torch.

ScratchEngine is experiment.py's engine interface (engines.Engine) for it. The data path and the run folder
are the torch path's: the same DataBundle,
the same metrics, plots and report. The scratch MLP mirrors models/mlp.py layer
for layer (Flatten, Linear, activation, Dropout, ..., Linear), so its state
dict has torch's names and model.pt is an ordinary `mlp` checkpoint:
`corenets predict` and `corenets evaluate` work on a scratch run unchanged.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .config import RunConfig, TrainConfig
from .engines import Fitted
from .errors import ConfigError
from .files import atomic_save
from .record import ModelSpec
from .scratch import losses, nn, optim
from .scratch.train import History, fit, predict

SCRATCH_ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def scratch_mlp(input_shape: tuple[int, ...], num_outputs: int, *, hidden=(128, 64), activation: str = "relu",
                dropout: float = 0.0, batch_norm: bool = False, seed: int = 0) -> nn.Sequential:
    """The scratch twin of models.mlp (same options, same layer indices, float32)."""
    if batch_norm:
        raise ConfigError("engine: scratch has no batch norm; set model.batch_norm=false or use engine: torch")
    if activation not in SCRATCH_ACTIVATIONS:
        raise ConfigError(f"engine: scratch supports model.activation in {sorted(SCRATCH_ACTIVATIONS)}, "
                          f"got {activation!r}")
    rng = np.random.default_rng(seed)
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(input_shape)
    for h in hidden:
        layers += [nn.Linear(width, h, rng=rng, dtype=np.float32), SCRATCH_ACTIVATIONS[activation]()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout, rng=rng))
        width = h
    layers.append(nn.Linear(width, num_outputs, rng=rng, dtype=np.float32))
    return nn.Sequential(*layers)


def scratch_optimizer(params, t: TrainConfig) -> optim.Optimizer:
    if t.optimizer == "adam":
        return optim.Adam(params, lr=t.lr, weight_decay=t.weight_decay)
    if t.optimizer == "sgd":
        return optim.SGD(params, lr=t.lr, momentum=t.momentum, nesterov=t.nesterov, weight_decay=t.weight_decay)
    if t.optimizer == "rmsprop":
        return optim.RMSprop(params, lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay)
    raise ConfigError(f"engine: scratch supports train.optimizer in adam, rmsprop, sgd; got {t.optimizer!r}")


def scratch_loss(task: str, t: TrainConfig):
    """(logits Tensor, targets array) -> scalar loss Tensor, chosen by task as the torch path's `auto` does."""
    loss = {"multiclass": "cross_entropy", "binary": "bce", "regression": "mse"}[task] if t.loss == "auto" else t.loss
    if loss == "cross_entropy" and task == "multiclass":
        return losses.cross_entropy
    if loss == "bce" and task == "binary":
        return lambda out, y: losses.binary_cross_entropy_with_logits(out, np.asarray(y, dtype=out.dtype).reshape(out.shape))
    if loss == "mse" and task == "regression":
        return lambda out, y: losses.mse_loss(out, np.asarray(y, dtype=out.dtype).reshape(out.shape))
    raise ConfigError(f"engine: scratch supports train.loss auto (or cross_entropy / bce / mse to match the task), "
                      f"got {t.loss!r} for a {task} task")


def check_supported(cfg: RunConfig) -> None:
    """Options the scratch engine does not implement are errors, not silently ignored (checked before any work)."""
    t = cfg.train
    if cfg.model.name != "mlp":
        raise ConfigError(f"engine: scratch trains model mlp only, got {cfg.model.name!r}; use engine: torch")
    unsupported = {"schedule": (t.schedule, "none"), "grad_clip": (t.grad_clip, 0.0),
                   "label_smoothing": (t.label_smoothing, 0.0), "cv": (cfg.cv, 0),
                   "refit": (t.refit, False), "tta": (t.tta, "none")}
    for key, (value, off) in unsupported.items():
        if value != off:
            raise ConfigError(f"engine: scratch does not implement {key}={value!r}; set it to {off!r} "
                              "or use engine: torch")
    if t.optimizer not in ("adam", "rmsprop", "sgd"):
        raise ConfigError(f"engine: scratch supports train.optimizer in adam, rmsprop, sgd; got {t.optimizer!r}")
    opts = cfg.model.options
    if opts.get("batch_norm"):
        raise ConfigError("engine: scratch has no batch norm; set model.batch_norm=false or use engine: torch")
    if opts.get("activation", "relu") not in SCRATCH_ACTIVATIONS:
        raise ConfigError(f"engine: scratch supports model.activation in {sorted(SCRATCH_ACTIVATIONS)}, "
                          f"got {opts['activation']!r}")
    if t.early_stopping and t.monitor != "val_loss":
        raise ConfigError(f"engine: scratch stops early on val_loss only, got train.monitor={t.monitor!r}")


def train_scratch(cfg: RunConfig, bundle, quiet: bool = False,
                  model: nn.Sequential | None = None) -> tuple[nn.Sequential, History, np.ndarray, dict[str, Any]]:
    """Fit the scratch MLP on `bundle`; returns (model, history, test logits (N, outputs), torch-style state dict)."""
    import torch

    check_supported(cfg)
    as_np = lambda s: (s.x.numpy().astype(np.float32), s.y.numpy())  # noqa: E731
    (x, y), val, (xt, _) = as_np(bundle.train), as_np(bundle.val), as_np(bundle.test)
    model = model or scratch_mlp(bundle.input_shape, bundle.num_outputs, seed=cfg.seed, **cfg.model.options)
    t = cfg.train

    def show(row: dict) -> None:
        if not quiet:
            print("epoch {epoch:3d}  train_loss {train_loss:.4f}  val_loss {val_loss:.4f}".format(**row)
                  + (f"  val_accuracy {row['val_accuracy']:.4f}" if "val_accuracy" in row else "")
                  + f"  {row['seconds']:.2f}s", flush=True)

    from threadpoolctl import threadpool_limits  # ships with scikit-learn

    # `threads` caps NumPy's BLAS pool: for these small matrices one thread is many times faster than
    # two that spin-wait for each other (measured 30 us vs 700 us per (32, 64) @ (64, 256) on a busy 2-core box).
    with threadpool_limits(limits=cfg.threads if cfg.threads > 0 else None, user_api="blas"):
        history = fit(model, scratch_loss(bundle.task, t), scratch_optimizer(model.parameters(), t), x, y,
                      epochs=t.epochs, batch_size=t.batch_size, validation=val,
                      patience=t.early_stopping, restore_best=t.restore_best, seed=cfg.seed, on_epoch=show)
    state = {k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()}
    return model, history, predict(model, xt, t.eval_batch_size), state


def summary(model: nn.Sequential, input_shape) -> str:
    lines = ["corenets.scratch model (NumPy engine)", f"input shape: {tuple(input_shape)}", ""]
    for i, layer in enumerate(model.layers):
        n = layer.num_parameters()
        lines.append(f"({i}) {layer!r}" + (f"  params {n:,}" if n else ""))
    lines.append(f"\ntotal parameters: {model.num_parameters():,}")
    return "\n".join(lines)


class ScratchEngine:
    """experiment.py's engine interface (engines.Engine) for engine: scratch: CPU, one process, no resume."""

    name = "scratch"
    device = "cpu"  # what preflight checks the settings against
    is_main = True

    def __init__(self, cfg: RunConfig):
        check_supported(cfg)  # before any data is loaded or any folder made
        self.cfg = cfg
        self.model: nn.Sequential | None = None
        self.state: dict[str, Any] = {}

    def load_data(self, load):
        return load(self.cfg)

    def build(self, bundle) -> None:
        self.model = scratch_mlp(bundle.input_shape, bundle.num_outputs, seed=self.cfg.seed, **self.cfg.model.options)

    def resume_state(self, run_dir):
        raise ConfigError("engine: scratch runs cannot be resumed (they take seconds); start the run again without --resume")

    def summary(self, bundle) -> str:
        return summary(self.model, bundle.input_shape)

    def check_free_space(self, run_dir) -> None:
        pass  # an MLP's weights: kilobytes

    def fit(self, bundle, run_dir, resume, quiet: bool) -> Fitted:
        self.model, history, self.test_out, self.state = train_scratch(self.cfg, bundle, quiet=quiet, model=self.model)
        best = history.best_epoch if self.cfg.train.restore_best and history.best_epoch else len(history.rows)
        t = self.cfg.train
        kept = f"the weights of epoch {best} are kept" if best != len(history.rows) else "the last weights are kept"
        stopped = (f"early stopping at epoch {len(history.rows)} of {t.epochs}: val_loss has not improved for "
                   f"{t.early_stopping} epoch(s) (best at epoch {history.best_epoch}); {kept}"
                   if history.stopped_early else None)
        if stopped and not quiet:
            print(stopped, flush=True)
        return Fitted(history.rows, best, stopped, float(sum(r["seconds"] for r in history.rows)))

    def refit(self, bundle, run_dir, fitted: Fitted, quiet: bool) -> Fitted:
        raise ConfigError("engine: scratch does not implement refit=True; set it to False or use engine: torch")

    def finalize(self, bundle, run_dir, fitted: Fitted) -> None:
        # torch's names and shapes: model.pt is an ordinary `mlp` checkpoint, so predict/evaluate load it with torch
        spec = ModelSpec.of_run(self.cfg, bundle, fitted.best_epoch).to_dict()
        atomic_save({**spec, "state_dict": self.state}, run_dir / "model.pt")

    def predict_outputs(self, x) -> np.ndarray:
        return predict(self.model, x.numpy().astype(np.float32), self.cfg.train.eval_batch_size)

    def record(self) -> dict[str, Any]:
        return {"engine": "scratch", "device": "cpu (NumPy engine)", "threads": self.cfg.threads,
                "parameters": self.model.num_parameters(), "monitor": "val_loss",
                "batch_size": {"per_process": self.cfg.train.batch_size, "semantics": "per process"}}

    def close(self) -> None:
        pass
