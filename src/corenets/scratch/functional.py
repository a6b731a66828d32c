"""Operations built on the engine: softmax, convolution (im2col), max pooling, dropout.

Each one again keeps its forward and backward side by side. softmax and
log_softmax have a closed-form backward (cheaper and more stable than
chaining exp/sum/log); conv2d turns convolution into one matrix product.
"""

from __future__ import annotations

import numpy as np

from .engine import ShapeError, Tensor, concat, stack  # noqa: F401  (re-exported for `F.concat`)


def relu(x: Tensor) -> Tensor:
    return x.relu()


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return x.leaky_relu(negative_slope)


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """exp(x_i) / sum_j exp(x_j) along `axis`; shifted by the max so exp never overflows."""
    e = np.exp(x.data - x.data.max(axis=axis, keepdims=True))
    s = e / e.sum(axis=axis, keepdims=True)
    out = x._make(s, (x,), "softmax")

    def _backward():  # Jacobian-vector product: ds_i = s_i (g_i - sum_j g_j s_j)
        g = out.grad
        x._accumulate(s * (g - (g * s).sum(axis=axis, keepdims=True)))
    out._backward = _backward
    return out


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """x_i - log sum_j exp(x_j) along `axis` (the log-sum-exp trick keeps it finite)."""
    shifted = x.data - x.data.max(axis=axis, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    out = x._make(logp, (x,), "log_softmax")

    def _backward():  # d/dx_i = g_i - softmax_i * sum_j g_j
        g = out.grad
        x._accumulate(g - np.exp(logp) * g.sum(axis=axis, keepdims=True))
    out._backward = _backward
    return out


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """floor((size + 2*padding - kernel) / stride) + 1: the textbook formula, used by conv and pooling."""
    return (size + 2 * padding - kernel) // stride + 1


def _windows(xp: np.ndarray, kh: int, kw: int, sh: int, sw: int, oh: int, ow: int) -> np.ndarray:
    """(N, C, Hp, Wp) -> (N, C, kh, kw, oh, ow): cols[..., i, j, y, x] = xp[..., y*sh + i, x*sw + j]."""
    n, c = xp.shape[:2]
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=xp.dtype)
    for i in range(kh):  # a loop over the kernel's few positions, not over the image
        for j in range(kw):
            cols[:, :, i, j] = xp[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
    return cols


def _unwindows(gcols: np.ndarray, padded_shape, kh, kw, sh, sw, oh, ow) -> np.ndarray:
    """The adjoint of `_windows`: add each window's gradient back where it was read from."""
    g = np.zeros(padded_shape, dtype=gcols.dtype)
    for i in range(kh):
        for j in range(kw):
            g[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += gcols[:, :, i, j]
    return g


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0) -> Tensor:
    """2-D cross-correlation, as torch.nn.functional.conv2d.

    Args:
        x: (N, C, H, W) images. weight: (F, C, KH, KW) filters. bias: (F,) or None.
    Returns:
        (N, F, OH, OW) with OH = floor((H + 2*padding - KH) / stride) + 1.

    im2col: every KHxKW patch becomes a row of `cols` (N*OH*OW, C*KH*KW), so the
    whole convolution is one matrix product with the flattened filters.
    """
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != weight.shape[1]:
        raise ShapeError(f"conv2d: input {x.shape} and weight {weight.shape} do not fit; "
                         "expected input (N, C, H, W) and weight (F, C, KH, KW) with the same C")
    n, c, h, w = x.shape
    f, _, kh, kw = weight.shape
    oh, ow = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    if oh < 1 or ow < 1:
        raise ShapeError(f"conv2d: a {kh}x{kw} kernel does not fit input {x.shape} with padding {padding}")
    xp = np.pad(x.data, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = _windows(xp, kh, kw, sh, sw, oh, ow).transpose(0, 4, 5, 1, 2, 3).reshape(n * oh * ow, c * kh * kw)
    w2 = weight.data.reshape(f, -1)  # (F, C*KH*KW)
    y = cols @ w2.T  # (N*OH*OW, F)
    if bias is not None:
        y = y + bias.data
    parents = (x, weight) if bias is None else (x, weight, bias)
    out = x._make(y.reshape(n, oh, ow, f).transpose(0, 3, 1, 2), parents, "conv2d")

    def _backward():
        g = out.grad.transpose(0, 2, 3, 1).reshape(-1, f)  # (N*OH*OW, F)
        weight._accumulate((g.T @ cols).reshape(weight.shape))  # dW = g^T cols
        if bias is not None:
            bias._accumulate(g.sum(axis=0))
        if x.requires_grad:  # dcols = g W, then scatter the patches back onto the image
            gcols = (g @ w2).reshape(n, oh, ow, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)
            gxp = _unwindows(gcols, xp.shape, kh, kw, sh, sw, oh, ow)
            x._accumulate(gxp[:, :, ph:ph + h, pw:pw + w])
    out._backward = _backward
    return out


def max_pool2d(x: Tensor, kernel_size=2, stride=None) -> Tensor:
    """The largest value of each window, as torch.nn.functional.max_pool2d (no padding).

    The gradient flows only to the element that won each window (the first one on ties, like torch).
    """
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(stride if stride is not None else kernel_size)
    if x.ndim != 4:
        raise ShapeError(f"max_pool2d: expected input (N, C, H, W), got {x.shape}")
    n, c, h, w = x.shape
    oh, ow = conv_output_size(h, kh, sh), conv_output_size(w, kw, sw)
    if oh < 1 or ow < 1:
        raise ShapeError(f"max_pool2d: a {kh}x{kw} window does not fit input {x.shape}")
    cols = _windows(x.data, kh, kw, sh, sw, oh, ow).reshape(n, c, kh * kw, oh, ow)
    winner = cols.argmax(axis=2)  # (N, C, OH, OW): which of the kh*kw positions won
    out = x._make(np.take_along_axis(cols, winner[:, :, None], axis=2)[:, :, 0], (x,), "max_pool2d")

    def _backward():
        gcols = (np.arange(kh * kw)[None, None, :, None, None] == winner[:, :, None]) * out.grad[:, :, None]
        x._accumulate(_unwindows(gcols.reshape(n, c, kh, kw, oh, ow), x.shape, kh, kw, sh, sw, oh, ow))
    out._backward = _backward
    return out


def dropout(x: Tensor, p: float, training: bool, rng: np.random.Generator) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout); identity in eval."""
    if not training or p == 0:
        return x
    mask = (rng.random(x.shape) >= p).astype(x.dtype) / (1 - p)
    return x * mask
