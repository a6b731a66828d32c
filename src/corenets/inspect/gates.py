"""Gate activations of a trained LSTM/GRU, step by step: the equations of `corenets explain gates` and
corenets.scratch (scratch/recurrent.py: lstm_step, gru_step), computed in float64 with torch's weights.

Gate order is torch's (LSTM: i, f, g, o; GRU: r, z, n), the same as the scratch cells', so weights copy 1:1.
"""

from __future__ import annotations

import torch
from torch import nn

GATE_NAMES = {"LSTM": {"i": "input", "f": "forget", "o": "output"}, "GRU": {"r": "reset", "z": "update"}}


def gate_trace(rnn: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The first layer's forward-direction gates over one sequence x (T, I): {"i": (T, H), ...} in float64.

    Also "h" (T, H): the hidden state after each step, which must equal torch's own output (a check that the
    trace is of this very network).
    """
    kind = type(rnn).__name__
    if kind not in GATE_NAMES:
        raise ValueError(f"gate traces are for LSTM and GRU layers, not {kind}")
    w_ih, w_hh = rnn.weight_ih_l0.double(), rnn.weight_hh_l0.double()
    b_ih = rnn.bias_ih_l0.double() if rnn.bias else torch.zeros(w_ih.shape[0], dtype=torch.float64)
    b_hh = rnn.bias_hh_l0.double() if rnn.bias else torch.zeros(w_hh.shape[0], dtype=torch.float64)
    x = x.double()
    n = rnn.hidden_size
    h = torch.zeros(n, dtype=torch.float64)
    c = torch.zeros(n, dtype=torch.float64)
    rows: dict[str, list[torch.Tensor]] = {}
    with torch.no_grad():
        for x_t in x:
            if kind == "LSTM":
                z = w_ih @ x_t + b_ih + w_hh @ h + b_hh  # (4H,): i, f, g, o
                g = {"i": z[:n].sigmoid(), "f": z[n:2 * n].sigmoid(), "g": z[2 * n:3 * n].tanh(), "o": z[3 * n:].sigmoid()}
                c = g["f"] * c + g["i"] * g["g"]
                h = g["o"] * c.tanh()
                g["c"] = c
            else:
                gi, gh = w_ih @ x_t + b_ih, w_hh @ h + b_hh  # kept apart: r multiplies only gh's n part
                r, zz = (gi[:n] + gh[:n]).sigmoid(), (gi[n:2 * n] + gh[n:2 * n]).sigmoid()
                cand = (gi[2 * n:] + r * gh[2 * n:]).tanh()
                h = (1 - zz) * cand + zz * h
                g = {"r": r, "z": zz, "n": cand}
            g["h"] = h
            for k, v in g.items():
                rows.setdefault(k, []).append(v)
    return {k: torch.stack(v) for k, v in rows.items()}
