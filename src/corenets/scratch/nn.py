"""Layers with PyTorch's names: Module, Linear, Conv2d, MaxPool2d, Flatten, Dropout, Sequential.

Parameters have torch's shapes and initialisation (a Linear weight is
(out_features, in_features), uniform in +-1/sqrt(fan_in)), so a state dict
copies 1:1 between a scratch model and its torch twin.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from . import functional as F
from .engine import ShapeError, Tensor


class Parameter(Tensor):
    """A Tensor that a Module trains: it always requires a gradient."""

    def __init__(self, data):
        super().__init__(data, requires_grad=True)


def _uniform(rng: np.random.Generator, bound: float, shape, dtype) -> Parameter:
    return Parameter(rng.uniform(-bound, bound, size=shape).astype(dtype))


class Module:
    """Base class: finds its Parameters and sub-Modules by looking at its attributes."""

    training = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError

    def _children(self) -> Iterator[tuple[str, object]]:
        for name, value in vars(self).items():
            if isinstance(value, (list, tuple)):
                for i, v in enumerate(value):
                    yield f"{name}.{i}" if name != "layers" else str(i), v
            else:
                yield name, value

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name, value in self._children():
            if isinstance(value, Parameter):
                yield prefix + name, value
            elif isinstance(value, Module):
                yield from value.named_parameters(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def modules(self) -> Iterator[Module]:
        yield self
        for _, value in self._children():
            if isinstance(value, Module):
                yield from value.modules()

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None  # torch's default (set_to_none=True)

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict) -> None:
        """Copy arrays (NumPy, or anything with .detach().numpy() like torch tensors) into the parameters."""
        own = dict(self.named_parameters())
        if set(own) != set(state):
            raise ShapeError(f"load_state_dict: missing {sorted(set(own) - set(state))}, "
                             f"unexpected {sorted(set(state) - set(own))}")
        for name, value in state.items():
            value = np.asarray(value.detach().numpy() if hasattr(value, "detach") else value)
            if value.shape != own[name].shape:
                raise ShapeError(f"load_state_dict: {name} has shape {own[name].shape}, got {value.shape}")
            own[name].data = value.astype(own[name].dtype)

    def num_parameters(self) -> int:
        return sum(p.data.size for p in self.parameters())

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in vars(self).items()
                          if isinstance(v, (int, float, str, tuple)) and not k.startswith("_"))
        return f"{type(self).__name__}({inner})"


class Linear(Module):
    """y = x W^T + b. x: (..., in_features) -> (..., out_features)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, rng=None, dtype=np.float64):
        rng = rng if rng is not None else np.random.default_rng()
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features)
        self.weight = _uniform(rng, bound, (out_features, in_features), dtype)
        self.bias = _uniform(rng, bound, (out_features,), dtype) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.in_features:
            raise ShapeError(f"Linear: input {x.shape} has {x.shape[-1]} features, "
                             f"this layer takes {self.in_features}")
        y = x @ self.weight.T
        return y + self.bias if self.bias is not None else y


class Conv2d(Module):
    """(N, C_in, H, W) -> (N, C_out, OH, OW); see functional.conv2d for the im2col trick."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, bias: bool = True,
                 *, rng=None, dtype=np.float64):
        rng = rng if rng is not None else np.random.default_rng()
        kh, kw = F._pair(kernel_size)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = (kh, kw), stride, padding
        bound = 1 / math.sqrt(in_channels * kh * kw)
        self.weight = _uniform(rng, bound, (out_channels, in_channels, kh, kw), dtype)
        self.bias = _uniform(rng, bound, (out_channels,), dtype) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)


class MaxPool2d(Module):
    def __init__(self, kernel_size=2, stride=None):
        self.kernel_size, self.stride = kernel_size, stride

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride)


class Flatten(Module):
    """(N, ...) -> (N, prod(...))."""

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1)


class Dropout(Module):
    def __init__(self, p: float = 0.5, *, rng=None):
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p={p} must be in [0, 1)")
        self.p = p
        self._rng = rng if rng is not None else np.random.default_rng()

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, self._rng)


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return x.leaky_relu(self.negative_slope)


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class Sequential(Module):
    """Calls its layers in order; parameter names are "0.weight", "0.bias", ... as in torch."""

    def __init__(self, *layers: Module):
        self.layers = list(layers)

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def __repr__(self) -> str:
        return "Sequential(\n" + "".join(f"  ({i}): {layer!r}\n" for i, layer in enumerate(self.layers)) + ")"
