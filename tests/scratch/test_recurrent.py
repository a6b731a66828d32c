"""Recurrent cells and sequence layers with weights copied from torch: same outputs, same gradients (BPTT)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corenets.scratch import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, ShapeError, Tensor
from corenets.scratch.recurrent import gru_step, lstm_step

rng = np.random.default_rng(2)
I, H, B, T = 3, 4, 2, 5


def _copy(mine, theirs):
    theirs.double()
    mine.load_state_dict(theirs.state_dict())
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def _check_grads(mine, theirs, pairs):
    named = dict(theirs.named_parameters())
    for name, p in mine.named_parameters():
        np.testing.assert_allclose(p.grad, named[name].grad.numpy(), atol=1e-6, err_msg=name)
    for x, t in pairs:
        np.testing.assert_allclose(x.grad, t.grad.numpy(), atol=1e-6)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_cell_matches_torch_cell(kind):
    mine = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}[kind](I, H)
    theirs = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[kind](I, H)
    _copy(mine, theirs)
    x, h, c = rng.normal(size=(B, I)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    xs, hs, cs = (Tensor(a, requires_grad=True) for a in (x, h, c))
    xt, ht, ct = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    if kind == "lstm":
        (h1, c1), (h1t, c1t) = mine(xs, (hs, cs)), theirs(xt, (ht, ct))
        np.testing.assert_allclose(c1.data, c1t.detach().numpy(), atol=1e-6)
        loss, loss_t = (h1 * 2 + c1 * c1).sum(), (h1t * 2 + c1t * c1t).sum()
        pairs = [(xs, xt), (hs, ht), (cs, ct)]
    else:
        h1, h1t = mine(xs, hs), theirs(xt, ht)
        loss, loss_t = (h1 * h1).sum(), (h1t * h1t).sum()
        pairs = [(xs, xt), (hs, ht)]
    np.testing.assert_allclose(h1.data, h1t.detach().numpy(), atol=1e-6)
    loss.backward()
    loss_t.backward()
    _check_grads(mine, theirs, pairs)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers,batch_first", [(1, False), (2, True)])
def test_sequence_layer_matches_torch_over_time(kind, layers, batch_first):
    mine = {"rnn": RNN, "lstm": LSTM, "gru": GRU}[kind](I, H, num_layers=layers, batch_first=batch_first)
    theirs = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](
        I, H, num_layers=layers, batch_first=batch_first)
    _copy(mine, theirs)
    x = rng.normal(size=(B, T, I) if batch_first else (T, B, I))
    xs, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, state = mine(xs)
    out_t, state_t = theirs(xt)
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), atol=1e-6)
    h_n, h_n_t = (state[0], state_t[0]) if kind == "lstm" else (state, state_t)
    np.testing.assert_allclose(h_n.data, h_n_t.detach().numpy(), atol=1e-6)
    # a loss on every step and on the final state: gradients flow back through all T steps (BPTT)
    up = rng.normal(size=out.shape)
    (out * Tensor(up)).sum().__add__((h_n * h_n).sum()).backward()
    ((out_t * torch.tensor(up)).sum() + (h_n_t * h_n_t).sum()).backward()
    _check_grads(mine, theirs, [(xs, xt)])


def test_gates_are_in_range_and_the_lstm_update_holds():
    cell = LSTMCell(I, H, rng=np.random.default_rng(0))
    x, h, c = Tensor(rng.normal(size=(B, I))), Tensor(rng.normal(size=(B, H))), Tensor(rng.normal(size=(B, H)))
    h1, c1, g = lstm_step(x, h, c, *cell._weights())
    for name in "ifo":
        assert ((g[name].data > 0) & (g[name].data < 1)).all()
    np.testing.assert_allclose(c1.data, g["f"].data * c.data + g["i"].data * g["g"].data)
    np.testing.assert_allclose(h1.data, g["o"].data * np.tanh(c1.data))
    gcell = GRUCell(I, H, rng=np.random.default_rng(0))
    h2, gg = gru_step(x, h, *gcell._weights())
    np.testing.assert_allclose(h2.data, (1 - gg["z"].data) * gg["n"].data + gg["z"].data * h.data)


def test_wrong_input_size_is_named():
    with pytest.raises(ShapeError, match=r"LSTM: expected input .* input_size=3, got \(5, 2, 4\)"):
        LSTM(3, 4)(Tensor(np.ones((5, 2, 4))))
    with pytest.raises(ShapeError, match="GRUCell"):
        GRUCell(3, 4)(Tensor(np.ones((2, 5))))
