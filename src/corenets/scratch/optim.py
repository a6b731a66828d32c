"""Optimisers: SGD (with momentum / Nesterov), RMSprop and Adam, step for step as torch.optim.

Each `step()` reads p.grad and updates p.data in place; the update rules are
written out exactly as in torch's documentation, state included.
"""

from __future__ import annotations

import numpy as np

from .nn import Parameter


class Optimizer:
    def __init__(self, params, lr: float, weight_decay: float = 0.0):
        self.params: list[Parameter] = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if lr <= 0:
            raise ValueError(f"lr={lr} must be > 0")
        self.lr, self.weight_decay = lr, weight_decay
        self.state: list[dict] = [{} for _ in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue  # a parameter that took no part in this loss, as torch skips it
            g = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad  # L2 penalty's gradient
            p.data = p.data - self.lr * self._direction(g, state)

    def _direction(self, g: np.ndarray, state: dict) -> np.ndarray:
        raise NotImplementedError


class SGD(Optimizer):
    """v = momentum * v + g (v = g on the first step); p -= lr * v  (or lr * (g + momentum * v) with nesterov)."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False):
        super().__init__(params, lr, weight_decay)
        self.momentum, self.nesterov = momentum, nesterov

    def _direction(self, g, state):
        if not self.momentum:
            return g
        v = state["v"] = g.copy() if "v" not in state else self.momentum * state["v"] + g
        return g + self.momentum * v if self.nesterov else v


class RMSprop(Optimizer):
    """s = alpha * s + (1 - alpha) * g^2;  p -= lr * g / (sqrt(s) + eps)  (torch's defaults: lr 0.01, alpha 0.99).

    centered subtracts the squared running mean of g; momentum keeps a velocity of g / (sqrt(s) + eps).
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False):
        super().__init__(params, lr, weight_decay)
        self.alpha, self.eps, self.momentum, self.centered = alpha, eps, momentum, centered

    def _direction(self, g, state):
        s = state["s"] = self.alpha * state.get("s", 0.0) + (1 - self.alpha) * g * g
        if self.centered:
            m = state["m"] = self.alpha * state.get("m", 0.0) + (1 - self.alpha) * g
            s = s - m * m
        step = g / (np.sqrt(s) + self.eps)
        if self.momentum:
            step = state["v"] = self.momentum * state.get("v", 0.0) + step
        return step


class Adam(Optimizer):
    """m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= lr * m_hat / (sqrt(v_hat) + eps),

    with the bias corrections m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t) for step t = 1, 2, ...
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.betas, self.eps = betas, eps

    def _direction(self, g, state):
        b1, b2 = self.betas
        t = state["t"] = state.get("t", 0) + 1
        m = state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
        v = state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * g * g
        # torch's arrangement of the same formula: (m / bc1) / (sqrt(v) / sqrt(bc2) + eps)
        return (m / (1 - b1 ** t)) / (np.sqrt(v) / np.sqrt(1 - b2 ** t) + self.eps)
