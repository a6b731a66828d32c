"""The fit loop: epochs of shuffled mini-batches, validation, early stopping, and a guard against inf/NaN.

One epoch = one pass over the training set; one iteration = one mini-batch,
so an epoch has ceil(N / batch_size) iterations.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import TrainingError
from .engine import Tensor, no_grad
from .nn import Module
from .optim import Optimizer


@dataclass
class History:
    rows: list[dict] = field(default_factory=list)  # per epoch: epoch, train_loss, val_loss, (accuracies), lr, seconds
    best_epoch: int = 0  # the epoch whose weights the model ends with when early stopping restores the best
    stopped_early: bool = False

    def column(self, key: str) -> list[float]:
        return [row[key] for row in self.rows]


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    """Multiclass: argmax of the logits; binary (one output): logit > 0, i.e. sigmoid > 0.5."""
    pred = logits.argmax(axis=1) if logits.ndim == 2 and logits.shape[1] > 1 else (logits.reshape(-1) > 0)
    return float((pred == y.reshape(-1)).mean())


def predict(model: Module, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Model outputs (logits) for all of x, in eval mode and without building a graph."""
    model.eval()
    with no_grad():
        return np.concatenate([model(Tensor(x[i:i + batch_size])).data for i in range(0, len(x), batch_size)])


def _is_classification(y: np.ndarray) -> bool:
    return y.dtype.kind in "iub"  # integer class labels; float targets mean regression


def evaluate(model: Module, loss_fn: Callable, x: np.ndarray, y: np.ndarray, batch_size: int = 1024) -> dict:
    """{"loss", and "accuracy" for integer labels} over all of x, in eval mode."""
    logits = predict(model, x, batch_size)
    with no_grad():
        loss = loss_fn(Tensor(logits), y).item()
    return {"loss": loss, **({"accuracy": accuracy(logits, y)} if _is_classification(y) else {})}


def fit(model: Module, loss_fn: Callable, optimizer: Optimizer, x: np.ndarray, y: np.ndarray, *,
        epochs: int = 10, batch_size: int = 32, validation: tuple[np.ndarray, np.ndarray] | None = None,
        patience: int = 0, restore_best: bool | None = None, seed: int = 0, on_epoch: Callable[[dict], None] | None = None) -> History:
    """Train `model` on (x, y) with mini-batch gradient descent.

    Args:
        loss_fn: (model output Tensor, target array) -> scalar Tensor, e.g. losses.cross_entropy.
        validation: (x_val, y_val); needed for early stopping.
        patience: stop after this many epochs without a lower val_loss; 0 = off.
        restore_best: end with the weights of the lowest-val_loss epoch (default: when patience is on).
        on_epoch: called with each epoch's row (for printing progress).
    Returns:
        History with one row per epoch.
    Raises:
        TrainingError: the loss became inf or NaN.
    """
    rng = np.random.default_rng(seed)
    restore_best = bool(patience) if restore_best is None else restore_best
    history, best, best_state, waited = History(), math.inf, None, 0
    for epoch in range(1, epochs + 1):
        start, model = time.perf_counter(), model.train()
        order, total, correct = rng.permutation(len(x)), 0.0, 0.0
        for it, i in enumerate(range(0, len(x), batch_size)):
            idx = order[i:i + batch_size]
            out = model(Tensor(x[idx]))
            loss = loss_fn(out, y[idx])
            if not np.isfinite(loss.data):
                raise TrainingError(
                    f"the loss became {loss.item()} at epoch {epoch}, iteration {it + 1}: training diverged; "
                    f"lower the learning rate (now {optimizer.lr:g}), scale the inputs, or pick a stable loss")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            if _is_classification(y):
                correct += accuracy(out.data, y[idx]) * len(idx)
        row = {"epoch": epoch, "train_loss": total / len(x)}
        if _is_classification(y):
            row["train_accuracy"] = correct / len(x)
        if validation is not None:
            row.update({f"val_{k}": v for k, v in evaluate(model, loss_fn, *validation).items()})
        row.update(lr=optimizer.lr, seconds=time.perf_counter() - start)
        history.rows.append(row)
        if on_epoch is not None:
            on_epoch(row)
        if validation is not None and row["val_loss"] < best:
            best, history.best_epoch, waited = row["val_loss"], epoch, 0
            best_state = model.state_dict() if restore_best else None
        elif patience and validation is not None:
            waited += 1
            if waited >= patience:
                history.stopped_early = True
                break
    if best_state is not None and history.best_epoch != len(history.rows):
        model.load_state_dict(best_state)  # end with the weights of the best validation epoch
    return history
