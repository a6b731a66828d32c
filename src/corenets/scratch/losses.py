"""Loss functions: MSE, binary cross-entropy (plain and the stable with-logits form), categorical cross-entropy.

All return the mean over the batch, as torch's default reduction does.
"""

from __future__ import annotations

import numpy as np

from . import functional as F
from .engine import ShapeError, Tensor, as_tensor


def _same_shape(name: str, pred: Tensor, target: Tensor) -> None:
    if pred.shape != target.shape:
        raise ShapeError(f"{name}: prediction shape {pred.shape} differs from target shape {target.shape}; "
                         "reshape one of them (e.g. targets (N,) -> (N, 1))")


def mse_loss(pred: Tensor, target) -> Tensor:
    """mean((pred - target)^2)."""
    target = as_tensor(target, like=pred)
    _same_shape("mse_loss", pred, target)
    return ((pred - target) ** 2).mean()


def binary_cross_entropy(prob: Tensor, target) -> Tensor:
    """mean(-[y log p + (1 - y) log(1 - p)]) on probabilities p in (0, 1).

    Built from the engine's log, so a p of exactly 0 or 1 gives inf; use the with-logits form to train.
    """
    target = as_tensor(target, like=prob)
    _same_shape("binary_cross_entropy", prob, target)
    return -(target * prob.log() + (1 - target) * (1 - prob).log()).mean()


def binary_cross_entropy_with_logits(logits: Tensor, target) -> Tensor:
    """BCE on raw scores z, stable for any z: max(z, 0) - z*y + log(1 + exp(-|z|)).

    The backward is the textbook result dL/dz = (sigmoid(z) - y) / N.
    """
    y = as_tensor(target, like=logits)
    _same_shape("binary_cross_entropy_with_logits", logits, y)
    z = logits.data
    per = np.maximum(z, 0) - z * y.data + np.log1p(np.exp(-np.abs(z)))
    out = logits._make(np.asarray(per.mean()), (logits,), "bce_with_logits")

    def _backward():
        s = np.exp(-np.logaddexp(0, -z))
        logits._accumulate(out.grad * (s - y.data) / z.size)
    out._backward = _backward
    return out


def cross_entropy(logits: Tensor, target) -> Tensor:
    """Categorical cross-entropy: mean(-log softmax(logits)[n, y_n]). logits (N, K), target (N,) class indices.

    Its gradient is (softmax(logits) - onehot(y)) / N, which log_softmax's backward produces.
    """
    y = np.asarray(target.data if isinstance(target, Tensor) else target).astype(np.int64)
    if logits.ndim != 2 or y.shape != (logits.shape[0],):
        raise ShapeError(f"cross_entropy: logits {logits.shape} and targets {y.shape} do not fit; "
                         "expected logits (N, K) and integer targets (N,)")
    if y.size and (y.min() < 0 or y.max() >= logits.shape[1]):
        raise ShapeError(f"cross_entropy: targets must be class indices in [0, {logits.shape[1]}), "
                         f"got values from {y.min()} to {y.max()}")
    return -F.log_softmax(logits, axis=1)[np.arange(len(y)), y].mean()
