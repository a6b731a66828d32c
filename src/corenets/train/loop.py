"""fit -> train_one_epoch -> evaluate_epoch -> callbacks (STYLE.md rule 8).

Batches are drawn from in-memory tensors with a seeded permutation: no per-sample
DataLoader for data that is already a tensor.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Sequence

import torch
from torch import nn

from ..config import TrainConfig
from ..data.bundle import DataBundle, Split
from ..errors import Interrupted, TrainingError
from ..models.hooks import hooks_of
from ..record import scorer as scored
from .augment import parse_augment
from .callbacks import Callback, History, NaNGuard
from .distributed import World
from .ema import Lookahead
from .optim import make_optimizer, make_schedule
from .precision import autocast, grad_scaler, resolve_precision, to_memory_format
from .state import TrainState

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def make_loss(task: str, cfg: TrainConfig) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    name = cfg.loss
    if name == "auto":
        name = {"multiclass": "cross_entropy", "binary": "bce", "regression": "mse"}[task]
    if (name in ("cross_entropy", "bce")) != (task != "regression"):
        from ..errors import ConfigError

        raise ConfigError(f"train.loss={name} does not fit a {task} task; use auto")
    if name == "cross_entropy":
        return nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    base = {"bce": nn.BCEWithLogitsLoss(), "mse": nn.MSELoss(), "mae": nn.L1Loss(), "huber": nn.HuberLoss()}[name]
    return lambda out, y: base(out.squeeze(-1), y.float())  # (B, 1) logits/values vs (B,) targets


def batch_metrics(out: torch.Tensor, y: torch.Tensor, task: str) -> dict[str, torch.Tensor]:
    """Sums over the batch (divided by N later): correct predictions, or squared/absolute errors."""
    if task == "multiclass":
        return {"accuracy": (out.argmax(1) == y).sum()}
    if task == "binary":
        return {"accuracy": ((out.squeeze(-1) > 0).long() == y).sum()}
    err = out.squeeze(-1).float() - y.float()
    return {"se": (err**2).sum(), "ae": err.abs().sum()}


def train_one_epoch(state: TrainState, split: Split, loss_fn, cfg: TrainConfig, task: str, device: torch.device,
                    augment: Augment | None = None, world: World | None = None,
                    target_scale: float = 1.0) -> dict[str, float]:
    """One pass over this process's shard of the rows, from batch state.step on; {} if interrupted midway.

    Regression errors are multiplied by `target_scale` (the target's std), so they are in the units validation
    reports, not the standardised units the model trains in."""
    world = world or World()
    opt = state.optimizer
    state.net.train()
    if state.step == 0:  # a fresh epoch; remember the generator so a mid-epoch resume redraws this permutation
        state.perm_rng = state.generator.get_state()
        perm = torch.randperm(len(split), generator=state.generator)
    else:
        perm = torch.randperm(len(split), generator=torch.Generator().set_state(state.perm_rng))
    perm = world.shard(perm)  # every rank draws the same permutation and keeps its own rows
    if len(perm) % cfg.batch_size == 1 and len(perm) > 1:
        perm = perm[:-1]  # a batch of one breaks batch norm; drop that single row this epoch
    starts = range(0, len(perm), cfg.batch_size)
    sums = state.partial
    for b in range(state.step, len(starts)):
        idx = perm[starts[b]:starts[b] + cfg.batch_size].to(split.x.device)
        xb, yb = split.x[idx].to(device, non_blocking=True), split.y[idx].to(device, non_blocking=True)
        if augment is not None:
            xb = augment(xb, state.generator)
        xb = to_memory_format(xb, cfg.channels_last)
        with autocast(device, cfg.precision):
            out = state.net(xb)
            loss = loss_fn(out, yb)
        opt.zero_grad(set_to_none=True)
        state.scaler.scale(loss).backward()  # the scaler is a pass-through unless precision is fp16
        if cfg.grad_clip > 0:
            state.scaler.unscale_(opt)
            for group in hooks_of(state.model).clip_groups():
                nn.utils.clip_grad_norm_(group, cfg.grad_clip)
        state.scaler.step(opt)
        state.scaler.update()
        if state.interval == "step":
            state.scheduler.step()
        if state.ema is not None:
            state.ema.step(state.model)
        with torch.no_grad():
            local = {"loss": loss.item() / state.members * len(yb), "rows": float(len(yb)),
                     **{k: v.item() for k, v in batch_metrics(out.detach(), yb, task).items()}}
        step, state.interrupted = world.step_sums(local, state.interrupted)  # summed over ranks: all decide alike
        for cb in state.callbacks:
            cb.on_batch_end(state, b, step["loss"] / step["rows"])
        if state.failed:
            break
        for k, v in step.items():
            sums[k] = sums.get(k, 0.0) + v
        state.step = b + 1
        if state.interrupted:
            return {}
    n = max(sums.pop("rows", 0.0), 1.0)
    logs = {"train_loss": sums.pop("loss", 0.0) / n, **_finish(sums, n, "train_", target_scale)}
    state.step, state.partial = 0, {}
    return logs


def _finish(sums: dict[str, float], n: int, prefix: str, scale: float = 1.0) -> dict[str, float]:
    out = {}
    if "accuracy" in sums:
        out[prefix + "accuracy"] = sums["accuracy"] / n
    if "se" in sums:  # regression errors in the user's units (targets are standardised for training)
        out[prefix + "rmse"] = math.sqrt(sums["se"] / n) * scale
        out[prefix + "mae"] = sums["ae"] / n * scale
    return out


@torch.no_grad()
def predict_outputs(model: nn.Module, x: torch.Tensor, batch_size: int = TrainConfig.eval_batch_size, device: torch.device | str = "cpu",
                    transform: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Raw model outputs (logits or values) for a tensor of inputs, in batches, on the CPU."""
    model.eval()
    outs = [model(x[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(outs) if outs else torch.empty(0)


@torch.no_grad()
def evaluate_epoch(model: nn.Module, split: Split, loss_fn, task: str, device: torch.device,
                   batch_size: int = TrainConfig.eval_batch_size,
                   target_scale: float = 1.0, prefix: str = "val_", world: World | None = None) -> dict[str, float]:
    world = world or World()
    model.eval()
    total, sums = 0.0, {}
    rows = world.span(len(split))  # each rank scores its own block; the sums are added over ranks
    for i in range(rows.start, rows.stop, batch_size):
        j = min(i + batch_size, rows.stop)
        xb, yb = split.x[i:j].to(device), split.y[i:j].to(device)
        out = model(xb)
        total += loss_fn(out, yb).item() * len(yb)
        for k, v in batch_metrics(out, yb, task).items():
            sums[k] = sums.get(k, 0.0) + v.item()
    sums = world.sum({**sums, "loss": total})
    total = sums.pop("loss")
    n = max(len(split), 1)
    return {prefix + "loss": total / n, **_finish(sums, n, prefix, target_scale)}


def fit(model: nn.Module, bundle: DataBundle, cfg: TrainConfig, callbacks: Sequence[Callback] = (),
        device: torch.device | str = "cpu", augment: Augment | None = None, seed: int = 0,
        resume: dict[str, Any] | None = None, world: World | None = None, validate: bool = True) -> History:
    """Train `model` on bundle.train, validating on bundle.val after each epoch.

    Args:
        model: any nn.Module mapping (B, *bundle.input_shape) to (B, bundle.num_outputs).
        bundle: the data; its task picks the loss unless cfg.loss says otherwise.
        cfg: epochs, batch size, optimiser, schedule, early stopping, ...
        callbacks: extra callbacks (Checkpoint, ProgressBar, EarlyStopping, ...); History and NaNGuard are added.
        device: where to train; the data moves there batch by batch.
        augment: `augment(x, generator) -> x`, applied to each training batch on the device.
        seed: seeds the batch order.
        resume: a state dict from TrainState.state_dict() (last.pt) to continue from.
        world: the training processes (distributed.World); each trains on its shard under DDP. Default: one.
        validate: score bundle.val after each epoch; False (a refit, whose training rows include them) skips it.
    Returns:
        The History callback (one row per epoch).
    Raises:
        TrainingError: the loss became NaN or inf (the best weights stay where Checkpoint wrote them).
        Interrupted: Ctrl-C; the current step finished and callbacks (Checkpoint) saw state.interrupted.
    """
    world = world or World()
    device = torch.device(device)
    cfg = dataclasses.replace(cfg, precision=resolve_precision(cfg.precision, device))  # auto -> bf16 or fp32
    model.to(device, memory_format=torch.channels_last if cfg.channels_last else torch.preserve_format)
    augment = augment or parse_augment(cfg.augment)  # whether it suits the data: corenets.preflight
    if len(bundle.train) == 0 or (validate and len(bundle.val) == 0):
        raise TrainingError(f"training needs non-empty train and validation parts, got {bundle.sizes()}")
    state, loss_fn, history = _start(model, bundle, cfg, callbacks, device, seed, resume, world)
    scorer = scored(model, cfg.tta)  # validation sees what the test will
    scale = float(bundle.preprocessing.state.get("target_std", 1.0)) if bundle.task == "regression" else 1.0
    for cb in state.callbacks:
        cb.on_train_begin(state)
    while state.epoch < cfg.epochs and state.stopped is None:
        for cb in state.callbacks:
            cb.on_epoch_begin(state)
        t0 = time.perf_counter()
        logs: dict[str, float] = {"epoch": state.epoch + 1}
        logs.update(train_one_epoch(state, bundle.train, loss_fn, cfg, bundle.task, device, augment, world, scale))
        if state.failed or state.interrupted:
            break
        train_seconds = time.perf_counter() - t0
        world.sync_buffers(model)  # batch-norm statistics: every rank evaluates (and rank 0 saves) rank 0's
        if validate:
            logs.update(evaluate_epoch(scorer, bundle.val, loss_fn, bundle.task, device, cfg.eval_batch_size, scale,
                                       world=world))
        _end_epoch(state, logs, train_seconds)
    for cb in state.callbacks:
        cb.on_train_end(state)
    if state.failed:
        raise TrainingError(state.stopped)
    if state.ema is not None and not state.interrupted:
        state.ema.finish(model)  # training ends with the averaged weights
    if state.interrupted:
        raise Interrupted(f"interrupted at epoch {state.epoch + 1}, after batch {state.step}")
    history.stopped = state.stopped
    return history


def _start(model: nn.Module, bundle: DataBundle, cfg: TrainConfig, callbacks: Sequence[Callback],
           device: torch.device, seed: int, resume: dict[str, Any] | None, world: World):
    """(state, loss, history): the optimiser, schedule, callbacks and loss set up, last.pt loaded if resuming."""
    hooks = hooks_of(model)
    if resume is None:
        hooks.init_from_data(bundle.train.x[:10000].to(device))  # data-dependent init (airnet's whitening filters)
    loss_fn = hooks.training_loss(make_loss(bundle.task, cfg))
    optimizer = make_optimizer(model, cfg)
    steps = math.ceil(world.shard_len(len(bundle.train)) / cfg.batch_size)
    scheduler, interval = make_schedule(optimizer, cfg, steps)
    history = History()
    cbs = sorted([history, NaNGuard(), *callbacks], key=lambda cb: cb.order)  # stable: same order kept
    state = TrainState(model, optimizer, scheduler, interval, torch.Generator().manual_seed(seed), cfg.epochs, steps, cbs)
    if cfg.ema > 0:
        state.ema = Lookahead(model, cfg.ema, cfg.ema_every, cfg.epochs * steps)
    if resume is not None:
        state.load_state_dict(resume)
    state.net = world.wrap(model)  # after loading: DDP starts every rank from rank 0's weights
    state.scaler = grad_scaler(device, cfg.precision)
    state.members = hooks.loss_terms
    return state, loss_fn, history


def _end_epoch(state: TrainState, logs: dict[str, float], train_seconds: float) -> None:
    """Log the learning rate and time, step an epoch-wise schedule, and run the callbacks' on_epoch_end."""
    logs["lr"] = state.optimizer.param_groups[0]["lr"]
    logs["seconds"] = train_seconds
    if state.interval == "epoch" and state.scheduler is not None:
        state.scheduler.step()
    elif state.interval == "plateau":
        state.scheduler.step(logs["val_loss"])
    state.epoch += 1
    for cb in state.callbacks:
        cb.on_epoch_end(state, logs)
