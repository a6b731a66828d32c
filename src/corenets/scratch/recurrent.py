"""Recurrent cells with the gate equations written out, and RNN/LSTM/GRU over time.

Gate order convention (the one PyTorch uses, so weights copy 1:1 from
torch.nn.LSTM/GRU/RNN and their *Cell versions): the rows of weight_ih
(G*H, I) and weight_hh (G*H, H) are stacked per gate as

    LSTM: i, f, g, o   (input gate, forget gate, candidate cell, output gate)
    GRU:  r, z, n      (reset gate, update gate, candidate hidden state)

and both biases b_ih and b_hh are kept, as in torch.

Backpropagation through time needs no special code: unrolling the loop over
time builds one graph through every step, and ``loss.backward()`` walks it
back from the last step to the first.
"""

from __future__ import annotations

import math

import numpy as np

from .engine import ShapeError, Tensor, stack
from .nn import Module, _uniform


def _affine(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    y = x @ w.T
    return y + b if b is not None else y


def rnn_step(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = tanh(W_ih x + b_ih + W_hh h + b_hh). x: (B, I), h: (B, H) -> (B, H)."""
    return (_affine(x, w_ih, b_ih) + _affine(h, w_hh, b_hh)).tanh()


def lstm_step(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step. x: (B, I); h, c: (B, H). Returns h', c' and the gates (each (B, H)).

        i  = sigmoid(W_ii x + b_ii + W_hi h + b_hi)     how much new information to write
        f  = sigmoid(W_if x + b_if + W_hf h + b_hf)     how much of the old cell to keep
        g  = tanh   (W_ig x + b_ig + W_hg h + b_hg)     the candidate values to write
        o  = sigmoid(W_io x + b_io + W_ho h + b_ho)     how much of the cell to show
        c' = f * c + i * g
        h' = o * tanh(c')
    """
    n = h.shape[-1]
    z = _affine(x, w_ih, b_ih) + _affine(h, w_hh, b_hh)  # (B, 4H): all four gates in one product
    i = z[:, 0 * n:1 * n].sigmoid()
    f = z[:, 1 * n:2 * n].sigmoid()
    g = z[:, 2 * n:3 * n].tanh()
    o = z[:, 3 * n:4 * n].sigmoid()
    c_new = f * c + i * g
    h_new = o * c_new.tanh()
    return h_new, c_new, {"i": i, "f": f, "g": g, "o": o}


def gru_step(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step. x: (B, I); h: (B, H). Returns h' and the gates (each (B, H)).

        r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)          how much of the past to use in n
        z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)          how much of the old h to keep
        n  = tanh   (W_in x + b_in + r * (W_hn h + b_hn))    the candidate hidden state
        h' = (1 - z) * n + z * h
    """
    k = h.shape[-1]
    gi = _affine(x, w_ih, b_ih)  # (B, 3H)
    gh = _affine(h, w_hh, b_hh)  # (B, 3H); kept apart because r multiplies only its n part
    r = (gi[:, 0:k] + gh[:, 0:k]).sigmoid()
    z = (gi[:, k:2 * k] + gh[:, k:2 * k]).sigmoid()
    n = (gi[:, 2 * k:] + r * gh[:, 2 * k:]).tanh()
    h_new = (1 - z) * n + z * h
    return h_new, {"r": r, "z": z, "n": n}


_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _check_input(name: str, x: Tensor, ndim: int, size: int) -> None:
    if x.ndim != ndim or x.shape[-1] != size:
        want = "(B, input_size)" if ndim == 2 else "(T, B, input_size) or with batch_first (B, T, input_size)"
        raise ShapeError(f"{name}: expected input {want} with input_size={size}, got {x.shape}")


class _Cell(Module):
    kind = "rnn"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, rng=None, dtype=np.float64):
        rng = rng if rng is not None else np.random.default_rng()
        self.input_size, self.hidden_size = input_size, hidden_size
        gh, bound = _GATES[self.kind] * hidden_size, 1 / math.sqrt(hidden_size)  # torch's init
        self.weight_ih = _uniform(rng, bound, (gh, input_size), dtype)
        self.weight_hh = _uniform(rng, bound, (gh, hidden_size), dtype)
        self.bias_ih = _uniform(rng, bound, (gh,), dtype) if bias else None
        self.bias_hh = _uniform(rng, bound, (gh,), dtype) if bias else None

    def _zeros(self, x: Tensor) -> Tensor:
        return Tensor(np.zeros((x.shape[0], self.hidden_size), dtype=self.weight_ih.dtype))

    def _weights(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh


class RNNCell(_Cell):
    """x: (B, I), h: (B, H) or None -> h' (B, H)."""

    kind = "rnn"

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        _check_input("RNNCell", x, 2, self.input_size)
        return rnn_step(x, h if h is not None else self._zeros(x), *self._weights())


class LSTMCell(_Cell):
    """x: (B, I), (h, c) or None -> (h', c'), each (B, H)."""

    kind = "lstm"

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        _check_input("LSTMCell", x, 2, self.input_size)
        h, c = state if state is not None else (self._zeros(x), self._zeros(x))
        h, c, _ = lstm_step(x, h, c, *self._weights())
        return h, c


class GRUCell(_Cell):
    """x: (B, I), h: (B, H) or None -> h' (B, H)."""

    kind = "gru"

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        _check_input("GRUCell", x, 2, self.input_size)
        return gru_step(x, h if h is not None else self._zeros(x), *self._weights())[0]


class _Recurrent(Module):
    """A stack of `num_layers` cells unrolled over time, with torch's parameter names (weight_ih_l0, ...)."""

    kind = "rnn"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, *, rng=None, dtype=np.float64):
        rng = rng if rng is not None else np.random.default_rng()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.batch_first = batch_first
        gh, bound = _GATES[self.kind] * hidden_size, 1 / math.sqrt(hidden_size)
        for k in range(num_layers):  # layer k > 0 reads the hidden states of layer k - 1
            setattr(self, f"weight_ih_l{k}", _uniform(rng, bound, (gh, input_size if k == 0 else hidden_size), dtype))
            setattr(self, f"weight_hh_l{k}", _uniform(rng, bound, (gh, hidden_size), dtype))
            if bias:
                setattr(self, f"bias_ih_l{k}", _uniform(rng, bound, (gh,), dtype))
                setattr(self, f"bias_hh_l{k}", _uniform(rng, bound, (gh,), dtype))

    def _weights(self, k: int):
        return tuple(getattr(self, f"{n}_l{k}", None) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def forward(self, x: Tensor, state=None):
        """x: (T, B, I), or (B, T, I) with batch_first.

        Returns (output, h_n) for RNN/GRU and (output, (h_n, c_n)) for LSTM, as torch:
        output holds the last layer's h at every step, (T, B, H) or (B, T, H); h_n, c_n are (layers, B, H).
        """
        _check_input(type(self).__name__, x, 3, self.input_size)
        if self.batch_first:
            x = x.transpose(1, 0, 2)  # -> (T, B, I)
        steps, batch = x.shape[0], x.shape[1]
        zeros = Tensor(np.zeros((self.num_layers, batch, self.hidden_size), dtype=self.weight_ih_l0.dtype))
        if self.kind == "lstm":
            h0, c0 = state if state is not None else (zeros, zeros)
        else:
            h0, c0 = (state if state is not None else zeros), None
        seq = [x[t] for t in range(steps)]
        last_h, last_c = [], []
        for k in range(self.num_layers):
            h, c, w = h0[k], (c0[k] if c0 is not None else None), self._weights(k)
            outputs = []
            for x_t in seq:  # the unrolled loop: BPTT follows these steps back in reverse
                if self.kind == "lstm":
                    h, c, _ = lstm_step(x_t, h, c, *w)
                elif self.kind == "gru":
                    h, _ = gru_step(x_t, h, *w)
                else:
                    h = rnn_step(x_t, h, *w)
                outputs.append(h)
            seq = outputs
            last_h.append(h)
            last_c.append(c)
        output = stack(seq, axis=1 if self.batch_first else 0)
        h_n = stack(last_h, axis=0)
        return (output, (h_n, stack(last_c, axis=0))) if self.kind == "lstm" else (output, h_n)


class RNN(_Recurrent):
    kind = "rnn"


class LSTM(_Recurrent):
    kind = "lstm"


class GRU(_Recurrent):
    kind = "gru"
