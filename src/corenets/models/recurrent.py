"""The recurrent family: rnn, lstm and gru; stacked ("deep"), bidirectional, with an embedding front for text.

Inputs, by shape of one example (``input_shape``):
  (T, F)      float sequences: images read as rows, tables read as features, price windows;
  (C, H, W)   images, read as H rows of W*C features (the same as ``data.as_sequence: rows``);
  (T,)        int64 token ids with pad id 0, when ``vocab_size > 0`` (an embedding front; build_model fills
              vocab_size and subwords from the data's facts, so a recipe never states them);
  (T, 1+K)    the same with each token's K hashed character n-grams after its id, when ``subwords > 0``:
              a token's vector is the mean of its word vector and its n-gram vectors (fastText's way);
              float (T,) without an embedding is read as T steps of 1 feature.

Padding is handled by packing: the real tokens of each row are moved to the front
(so left, right or scattered padding give the same result), the lengths are the
counts of non-pad ids, and ``pack_padded_sequence`` makes the recurrent layer stop
at each row's last real token. "last" is therefore the state after the last real
token; "mean" and "max" pool over real tokens only.
"""

from __future__ import annotations

import contextlib
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ..errors import ConfigError, DataError
from . import MODELS

Readout = Literal["last", "mean", "max"]
HeadActivation = Literal["none", "relu", "tanh"]
CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
PAD_ID = 0


def mean_of_pieces(embed: nn.Embedding, grams: nn.Embedding, ids: torch.Tensor) -> torch.Tensor:
    """(B, T, 1+K) word ids and n-gram buckets -> (B, T, E): the mean of each word's vector and its n-grams'.

    The plain form, over every slot of every position (pads read zero); exporters take it as it is.
    """
    pieces = ids[..., 1:]
    count = 1 + (pieces != 0).sum(-1, keepdim=True)
    return (embed(ids[..., 0]) + grams(pieces).sum(-2)) / count.to(embed.weight.dtype)


class RecurrentNet(nn.Module):
    """[Embedding] -> RNN/LSTM/GRU x layers (optionally bidirectional) -> read-out -> [Linear -> act] x N -> Linear."""

    #: Token ids: embed every slot of the padded batch, pads included, before packing (the same numbers, more
    #: work). Only layer attributions set it (see `embedding_per_slot`): they hook the embedding's (B, T, E) output.
    embed_every_slot = False

    def __init__(
        self, cell: str, input_shape: tuple[int, ...], num_outputs: int, hidden_size: int, layers: int,
        bidirectional: bool, dropout: float, readout: str, head: list[int], head_activation: str,
        vocab_size: int, embed_dim: int, embed_init: float = 0.0, input_dropout: float = 0.0, subwords: int = 0,
    ):
        super().__init__()
        if hidden_size < 1 or layers < 1:
            raise ConfigError(f"model.hidden_size={hidden_size} and model.layers={layers} must both be >= 1")
        if not 0 <= dropout < 1:
            raise ConfigError(f"model.dropout={dropout} must be in [0, 1)")
        if not 0 <= input_dropout < 1:
            raise ConfigError(f"model.input_dropout={input_dropout} must be in [0, 1)")
        if subwords < 0 or (subwords and vocab_size <= 0):
            raise ConfigError(f"subwords={subwords} (n-gram hash buckets) must be >= 0, and > 0 only with token "
                              "inputs (vocab_size > 0)")
        if not embed_init >= 0:
            raise ConfigError(f"model.embed_init={embed_init} must be >= 0 (0 = torch's N(0, 1); 0.05 = Keras' uniform)")
        if any(h < 1 for h in head):
            raise ConfigError(f"model.head={head} must hold positive layer widths")
        self.input_shape = tuple(input_shape)
        self.readout = readout
        self.vocab_size = vocab_size
        self.subwords = subwords
        self.grams = None
        if vocab_size > 0:
            want = 2 if subwords else 1
            if len(self.input_shape) != want:
                raise ConfigError(
                    f"vocab_size={vocab_size} and subwords={subwords} mean token-id inputs of shape "
                    f"{'(T, 1 + slots)' if subwords else '(T,)'}, but the data has shape {self.input_shape}; "
                    "build the model with the data's facts: build_model(..., facts=bundle.facts)"
                )
            self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)  # the pad row stays zero
            if subwords:
                self.grams = nn.Embedding(subwords + 1, embed_dim, padding_idx=0)  # bucket 0: "no n-gram"
            for table in (self.embed, self.grams):
                if table is not None and embed_init > 0:  # Keras' uniform(-0.05, 0.05), not torch's N(0, 1)
                    with torch.no_grad():
                        table.weight.uniform_(-embed_init, embed_init)
                        table.weight[0].zero_()
            features = embed_dim
        else:
            self.embed = None
            features = self._features(self.input_shape)
        self.rnn = CELLS[cell](
            features, hidden_size, num_layers=layers, batch_first=True, bidirectional=bidirectional,
            dropout=dropout if layers > 1 else 0.0,  # torch applies it between layers only
        )
        self.dirs = 2 if bidirectional else 1
        self.in_drop = nn.Dropout(input_dropout)  # on the recurrent layer's inputs (embedded tokens or features)
        self.drop = nn.Dropout(dropout)
        act = {"none": nn.Identity, "relu": nn.ReLU, "tanh": nn.Tanh}[head_activation]
        blocks: list[nn.Module] = []
        width = hidden_size * self.dirs
        for h in head:
            blocks += [nn.Linear(width, h), act()]
            width = h
        blocks.append(nn.Linear(width, num_outputs))
        self.head = nn.Sequential(*blocks)

    @staticmethod
    def _features(shape: tuple[int, ...]) -> int:
        if len(shape) == 1:
            return 1  # (T,) floats: one feature per step
        if len(shape) == 2:
            return shape[1]  # (T, F)
        if len(shape) == 3:
            return shape[0] * shape[2]  # (C, H, W) read as H rows of W*C
        raise ConfigError(f"recurrent models read (T,), (T, F) or (C, H, W) inputs, got shape {shape}")

    def _as_sequence(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 2:
            return x.unsqueeze(-1)  # (B, T) -> (B, T, 1)
        if x.ndim == 4:
            b, c, h, w = x.shape
            return x.permute(0, 2, 3, 1).reshape(b, h, w * c)  # (B, C, H, W) -> (B, H, W*C)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.embed is None:
            if not x.is_floating_point():
                raise DataError(
                    f"the model got integer inputs {tuple(x.shape)} (token ids?) but has no embedding; "
                    "build it with the data's facts: build_model(..., facts=bundle.facts), or vocab_size=N"
                )
            out, state = self.rnn(self.in_drop(self._as_sequence(x)))  # out: (B, T, D*H)
            lengths = None
        else:
            out, state, lengths = self._run_tokens(x)
        return self.head(self.drop(self._read(out, state, lengths)))

    def embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) ids -> (B, T, E); (B, T, 1+K) ids and n-grams -> the mean of the word's and its n-grams' vectors."""
        if self.grams is None:
            return self.embed(ids)
        # mean_of_pieces' numbers, computed for real tokens only (a padded batch is mostly pads), without (R, K, E)
        real = ids[..., 0] != PAD_ID
        rows = ids[real]  # (R, 1+K)
        grams = rows[:, 1:]
        count = 1 + (grams != 0).sum(-1, keepdim=True)  # the word and its n-grams
        summed = F.embedding_bag(grams, self.grams.weight, mode="sum", padding_idx=0)  # (R, E), no (R, K, E)
        vecs = (self.embed(rows[:, 0]) + summed) / count.to(summed.dtype)
        return vecs.new_zeros((*ids.shape[:-1], vecs.shape[-1])).index_put((real,), vecs)  # pads read zero

    def _run_tokens(self, ids: torch.Tensor):
        want = 3 if self.grams is not None else 2
        if ids.is_floating_point() or ids.ndim != want:
            shape = "(B, T, 1 + slots) int64 token ids and n-grams" if want == 3 else "(B, T) int64 token ids"
            raise DataError(f"the embedding front expects {shape}, got {tuple(ids.shape)} {ids.dtype}")
        words = ids[..., 0] if want == 3 else ids
        top = int(words.max()) if words.numel() else 0
        if top >= self.vocab_size or (ids.numel() and int(ids.min()) < 0):
            raise DataError(
                f"token id {top} is outside the embedding's 0..{self.vocab_size - 1}; "
                "build the model with the data's facts: build_model(..., facts=bundle.facts)"
            )
        if want == 3 and ids.numel() and int(ids[..., 1:].max()) > self.subwords:
            raise DataError(f"n-gram bucket {int(ids[..., 1:].max())} is outside subwords={self.subwords}; "
                            "build the model with the data's facts: build_model(..., facts=bundle.facts)")
        real = words != PAD_ID
        # Move real tokens to the front, keeping their order: any padding layout packs the same way.
        order = torch.argsort((~real).to(torch.int8), dim=1, stable=True)
        ids = ids.gather(1, order if want == 2 else order.unsqueeze(-1).expand_as(ids))
        lengths = real.sum(1).clamp(min=1)  # an empty row reads one pad step (a zero vector)
        steps = ids.shape[1]
        if self.embed_every_slot:  # (B, T, E), then packed: the shape a layer hook on the embedding expects
            emb = self.in_drop(self.embed_tokens(ids))
            packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
        else:
            # Pack the ids, then embed only the real tokens: the same vectors in the same order for the recurrent
            # layer, without looking up (and back-propagating into) the pads, most of a padded batch (issue 22)
            ids = pack_padded_sequence(ids, lengths.cpu(), batch_first=True, enforce_sorted=False)
            emb = self.in_drop(self.embed_tokens(ids.data))  # (R, E) for the R real tokens
            packed = PackedSequence(emb, ids.batch_sizes, ids.sorted_indices, ids.unsorted_indices)
        out, state = self.rnn(packed)
        if self.readout == "last":
            return None, state, lengths  # the final states suffice; unpacking the outputs would only cost time
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=steps)  # (B, T, D*H), zeros past length
        return out, state, lengths

    def _read(self, out: torch.Tensor, state, lengths: torch.Tensor | None) -> torch.Tensor:
        if self.readout == "last":
            h = state[0] if isinstance(state, tuple) else state  # (layers*D, B, H); LSTM also returns c
            last = h[-self.dirs:]  # the top layer: forward final state (and backward's, which ends at t=0)
            return last.permute(1, 0, 2).reshape(h.shape[1], -1)  # (B, D*H)
        if lengths is None:
            return out.mean(1) if self.readout == "mean" else out.amax(1)
        mask = (torch.arange(out.shape[1], device=out.device)[None, :] < lengths[:, None]).unsqueeze(-1)  # (B, T, 1)
        if self.readout == "mean":
            return (out * mask).sum(1) / lengths[:, None].to(out.dtype)
        return out.masked_fill(~mask, float("-inf")).amax(1)


def _build(cell: str, input_shape, num_outputs, **kw) -> RecurrentNet:
    return RecurrentNet(cell, input_shape, num_outputs, **kw)


@MODELS.register(reads=("sequence", "tokens"))
def rnn(
    input_shape: tuple[int, ...],
    num_outputs: int,
    hidden_size: int = 128,
    layers: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
    readout: Readout = "last",
    head: list[int] = [],  # noqa: B006 - read-only default
    head_activation: HeadActivation = "relu",
    vocab_size: int = 0,
    embed_dim: int = 128,
    embed_init: float = 0.0,
    input_dropout: float = 0.0,
    subwords: int = 0,
) -> nn.Module:
    """Vanilla (Elman, tanh) RNN; stacked, bidirectional; an embedding front for token ids (vocab_size from the data)."""
    return _build("rnn", input_shape, num_outputs, hidden_size=hidden_size, layers=layers, bidirectional=bidirectional,
                  dropout=dropout, readout=readout, head=list(head), head_activation=head_activation,
                  vocab_size=vocab_size, embed_dim=embed_dim, embed_init=embed_init,
                  input_dropout=input_dropout, subwords=subwords)


@MODELS.register(reads=("sequence", "tokens"))
def lstm(
    input_shape: tuple[int, ...],
    num_outputs: int,
    hidden_size: int = 128,
    layers: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
    readout: Readout = "last",
    head: list[int] = [],  # noqa: B006
    head_activation: HeadActivation = "relu",
    vocab_size: int = 0,
    embed_dim: int = 128,
    embed_init: float = 0.0,
    input_dropout: float = 0.0,
    subwords: int = 0,
) -> nn.Module:
    """LSTM; stacked, bidirectional, last/mean/max read-out; an embedding front for token ids (vocab_size from the data)."""
    return _build("lstm", input_shape, num_outputs, hidden_size=hidden_size, layers=layers, bidirectional=bidirectional,
                  dropout=dropout, readout=readout, head=list(head), head_activation=head_activation,
                  vocab_size=vocab_size, embed_dim=embed_dim, embed_init=embed_init,
                  input_dropout=input_dropout, subwords=subwords)


@MODELS.register(reads=("sequence", "tokens"))
def gru(
    input_shape: tuple[int, ...],
    num_outputs: int,
    hidden_size: int = 128,
    layers: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
    readout: Readout = "last",
    head: list[int] = [],  # noqa: B006
    head_activation: HeadActivation = "relu",
    vocab_size: int = 0,
    embed_dim: int = 128,
    embed_init: float = 0.0,
    input_dropout: float = 0.0,
    subwords: int = 0,
) -> nn.Module:
    """GRU; stacked, bidirectional, last/mean/max read-out; an embedding front for token ids (vocab_size from the data)."""
    return _build("gru", input_shape, num_outputs, hidden_size=hidden_size, layers=layers, bidirectional=bidirectional,
                  dropout=dropout, readout=readout, head=list(head), head_activation=head_activation,
                  vocab_size=vocab_size, embed_dim=embed_dim, embed_init=embed_init,
                  input_dropout=input_dropout, subwords=subwords)


@contextlib.contextmanager
def embedding_per_slot(model: nn.Module):
    """Within the block, every text RNN in `model` embeds the whole padded (B, T) batch into (B, T, E) before
    packing, so that a hook on its embedding sees one vector per slot; outside, only real tokens are looked up."""
    nets = [m for m in model.modules() if isinstance(m, RecurrentNet)]
    for net in nets:
        net.embed_every_slot = True
    try:
        yield model
    finally:
        for net in nets:
            net.embed_every_slot = False
