"""The autograd engine: a Tensor wraps a NumPy array and remembers how it was made.

Every operation below builds its output and, in the same few lines, the
closure that sends the output's gradient back to its inputs (the chain rule
for that one operation). ``Tensor.backward()`` sorts the graph topologically
and calls those closures in reverse, exactly as micrograd does for scalars.

Shapes: the engine works on whole arrays. When NumPy broadcasts an input
(a bias of shape (H,) added to (B, H)), the gradient is summed back over the
broadcast axes by ``_unbroadcast`` so each input receives a gradient of its
own shape.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterable, Iterator

import numpy as np

from ..errors import DataError


class ShapeError(DataError):
    """Two shapes that an operation cannot combine; the message names both and the operation."""


_GRAD_ENABLED = True


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block operations record no graph (evaluation is faster and uses less memory)."""
    global _GRAD_ENABLED
    before, _GRAD_ENABLED = _GRAD_ENABLED, False
    try:
        yield
    finally:
        _GRAD_ENABLED = before


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` over the axes that broadcasting added or stretched, giving back `shape`."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def _broadcast_shape(op: str, a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        raise ShapeError(f"{op}: shapes {a} and {b} cannot be broadcast together; "
                         "make trailing dimensions equal or 1 (reshape one of them)") from None


class Tensor:
    """An n-d array plus its gradient and the closure that back-propagates into its parents."""

    __array_priority__ = 100  # so `ndarray * Tensor` calls Tensor.__rmul__

    def __init__(self, data, requires_grad: bool = False, _parents: tuple[Tensor, ...] = (), _op: str = ""):
        data = np.asarray(data)
        self.data = data if np.issubdtype(data.dtype, np.floating) else data.astype(np.float64)
        self.grad: np.ndarray | None = None
        self.requires_grad = requires_grad
        self._parents = _parents
        self._op = _op
        self._backward: Callable[[], None] = lambda: None

    # ------------------------------------------------------------ plumbing
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"Tensor({self.data!r}{', requires_grad=True' if self.requires_grad else ''})"

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        return float(self.data)

    def detach(self) -> Tensor:
        return Tensor(self.data)

    def _make(self, data: np.ndarray, parents: tuple[Tensor, ...], op: str) -> Tensor:
        """The output of an op; it joins the graph only if some parent needs a gradient."""
        needs = _GRAD_ENABLED and any(p.requires_grad for p in parents)
        return Tensor(data, requires_grad=needs, _parents=parents if needs else (), _op=op)

    def _accumulate(self, grad: np.ndarray) -> None:
        if self.requires_grad:
            self.grad = grad.astype(self.data.dtype, copy=False) if self.grad is None else self.grad + grad

    def backward(self, grad=None) -> None:
        """Fill `.grad` of every tensor this one depends on: d(self)/d(tensor), by the chain rule.

        `grad` defaults to ones, i.e. self is treated as a sum (for a scalar loss, dL/dL = 1).
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad: "
                               "no parameter (requires_grad=True) led to it")
        order: list[Tensor] = []
        seen: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        while stack:  # iterative DFS (a long BPTT graph would overflow recursion)
            node, parents_done = stack.pop()
            if parents_done:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node._parents if p.requires_grad and id(p) not in seen)
        self.grad = np.ones_like(self.data) if grad is None else np.asarray(grad, dtype=self.data.dtype)
        for node in reversed(order):  # every node runs after all the nodes that use it
            if node.grad is not None:
                node._backward()

    # ------------------------------------------------------------ arithmetic
    def __add__(self, other) -> Tensor:
        other = as_tensor(other, like=self)
        _broadcast_shape("add", self.shape, other.shape)
        out = self._make(self.data + other.data, (self, other), "add")

        def _backward():  # d(a+b)/da = 1, d(a+b)/db = 1
            self._accumulate(_unbroadcast(out.grad, self.shape))
            other._accumulate(_unbroadcast(out.grad, other.shape))
        out._backward = _backward
        return out

    def __mul__(self, other) -> Tensor:
        other = as_tensor(other, like=self)
        _broadcast_shape("mul", self.shape, other.shape)
        out = self._make(self.data * other.data, (self, other), "mul")

        def _backward():  # d(ab)/da = b, d(ab)/db = a
            self._accumulate(_unbroadcast(out.grad * other.data, self.shape))
            other._accumulate(_unbroadcast(out.grad * self.data, other.shape))
        out._backward = _backward
        return out

    def __pow__(self, exponent: float) -> Tensor:
        if not isinstance(exponent, (int, float)):
            raise TypeError(f"pow: the exponent must be a Python number, got {type(exponent).__name__}")
        out = self._make(self.data ** exponent, (self,), f"pow{exponent}")

        def _backward():  # d(x^n)/dx = n x^(n-1)
            self._accumulate(out.grad * exponent * self.data ** (exponent - 1))
        out._backward = _backward
        return out

    def __matmul__(self, other) -> Tensor:
        other = as_tensor(other, like=self)
        a, b = self.data, other.data
        if a.ndim == 0 or b.ndim == 0 or a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} do not line up; "
                             f"the last dimension of the first must equal the "
                             f"{'second-to-last' if b.ndim > 1 else 'only'} dimension of the second")
        out = self._make(a @ b, (self, other), "matmul")

        def _backward():  # C = AB: dA = dC B^T, dB = A^T dC (1-D operands act as a row / column)
            g = out.grad
            a2 = a[None, :] if a.ndim == 1 else a
            b2 = b[:, None] if b.ndim == 1 else b
            g2 = g
            if a.ndim == 1:
                g2 = np.expand_dims(g2, -2)
            if b.ndim == 1:
                g2 = np.expand_dims(g2, -1)
            ga = g2 @ np.swapaxes(b2, -1, -2)
            gb = np.swapaxes(a2, -1, -2) @ g2
            self._accumulate(_unbroadcast(ga, a2.shape).reshape(a.shape))
            other._accumulate(_unbroadcast(gb, b2.shape).reshape(b.shape))
        out._backward = _backward
        return out

    def __neg__(self) -> Tensor:
        return self * -1.0

    def __sub__(self, other) -> Tensor:
        return self + (-as_tensor(other, like=self))

    def __truediv__(self, other) -> Tensor:
        return self * as_tensor(other, like=self) ** -1.0

    def __radd__(self, other) -> Tensor:
        return self + other

    def __rmul__(self, other) -> Tensor:
        return self * other

    def __rsub__(self, other) -> Tensor:
        return as_tensor(other, like=self) - self

    def __rtruediv__(self, other) -> Tensor:
        return as_tensor(other, like=self) / self

    def __rmatmul__(self, other) -> Tensor:
        return as_tensor(other, like=self) @ self

    # ------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        out = self._make(self.data.sum(axis=axis, keepdims=keepdims), (self,), "sum")

        def _backward():  # every summed element gets the output's gradient, copied back over `axis`
            g = out.grad
            if not keepdims and axis is not None:
                g = np.expand_dims(g, axis)
            self._accumulate(np.broadcast_to(g, self.shape).copy())
        out._backward = _backward
        return out

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        n = self.data.size if axis is None else np.prod([self.shape[a] for a in np.atleast_1d(axis)])
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / n)

    # ------------------------------------------------------------ elementwise functions
    def exp(self) -> Tensor:
        e = np.exp(self.data)
        out = self._make(e, (self,), "exp")
        out._backward = lambda: self._accumulate(out.grad * e)  # d(e^x)/dx = e^x
        return out

    def log(self) -> Tensor:
        out = self._make(np.log(self.data), (self,), "log")
        out._backward = lambda: self._accumulate(out.grad / self.data)  # d(ln x)/dx = 1/x
        return out

    def relu(self) -> Tensor:
        out = self._make(np.maximum(self.data, 0), (self,), "relu")
        out._backward = lambda: self._accumulate(out.grad * (self.data > 0))  # slope 1 if x > 0 else 0
        return out

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        slope = np.where(self.data > 0, 1.0, negative_slope).astype(self.dtype)
        out = self._make(self.data * slope, (self,), "leaky_relu")
        out._backward = lambda: self._accumulate(out.grad * slope)
        return out

    def sigmoid(self) -> Tensor:
        s = np.exp(-np.logaddexp(0, -self.data))  # 1 / (1 + e^-x) without overflow for large |x|
        out = self._make(s, (self,), "sigmoid")
        out._backward = lambda: self._accumulate(out.grad * s * (1 - s))  # s' = s (1 - s)
        return out

    def tanh(self) -> Tensor:
        t = np.tanh(self.data)
        out = self._make(t, (self,), "tanh")
        out._backward = lambda: self._accumulate(out.grad * (1 - t * t))  # tanh' = 1 - tanh^2
        return out

    # ------------------------------------------------------------ shape
    def reshape(self, *shape) -> Tensor:
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        try:
            data = self.data.reshape(shape)
        except ValueError:
            raise ShapeError(f"reshape: cannot reshape {self.shape} ({self.data.size} elements) "
                             f"into {tuple(shape)}; the element counts must match") from None
        out = self._make(data, (self,), "reshape")
        out._backward = lambda: self._accumulate(out.grad.reshape(self.shape))
        return out

    def transpose(self, *axes) -> Tensor:
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        axes = tuple(axes) or tuple(reversed(range(self.ndim)))
        if sorted(a % self.ndim for a in axes) != list(range(self.ndim)):
            raise ShapeError(f"transpose: axes {axes} are not a permutation of the {self.ndim} axes of {self.shape}")
        out = self._make(self.data.transpose(axes), (self,), "transpose")
        out._backward = lambda: self._accumulate(out.grad.transpose(np.argsort(axes)))  # undo the permutation
        return out

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def __getitem__(self, index) -> Tensor:
        index = tuple(i.data.astype(np.int64) if isinstance(i, Tensor) else i for i in index) \
            if isinstance(index, tuple) else (index.data.astype(np.int64) if isinstance(index, Tensor) else index)
        out = self._make(self.data[index], (self,), "getitem")
        fancy = any(isinstance(i, (list, np.ndarray)) for i in (index if isinstance(index, tuple) else (index,)))

        def _backward():  # the gradient goes back to the picked elements; repeats add up
            g = np.zeros_like(self.data)
            if fancy:
                np.add.at(g, index, out.grad)
            else:
                g[index] += out.grad
            self._accumulate(g)
        out._backward = _backward
        return out


def as_tensor(x, like: Tensor | None = None) -> Tensor:
    """Wrap a number or array as a constant Tensor (in `like`'s float dtype)."""
    if isinstance(x, Tensor):
        return x
    return Tensor(np.asarray(x, dtype=like.dtype if like is not None else None))


def concat(tensors: Iterable[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis; the gradient is cut back into the same pieces."""
    tensors = [as_tensor(t) for t in tensors]
    try:
        data = np.concatenate([t.data for t in tensors], axis=axis)
    except ValueError:
        raise ShapeError(f"concat: shapes {[t.shape for t in tensors]} differ outside axis {axis}; "
                         "all other dimensions must match") from None
    out = tensors[0]._make(data, tuple(tensors), "concat")
    edges = np.cumsum([t.shape[axis] for t in tensors])[:-1]

    def _backward():
        for t, g in zip(tensors, np.split(out.grad, edges, axis=axis)):
            t._accumulate(g)
    out._backward = _backward
    return out


def stack(tensors: Iterable[Tensor], axis: int = 0) -> Tensor:
    """Join equal-shaped tensors along a new axis (e.g. hidden states over time -> (B, T, H))."""
    tensors = [as_tensor(t) for t in tensors]
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ShapeError(f"stack: shapes {[t.shape for t in tensors]} must all be equal")
    return concat([t.reshape(np.expand_dims(t.data, axis).shape) for t in tensors], axis=axis)
