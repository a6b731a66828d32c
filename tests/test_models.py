"""Every registered model gets a shape test and a one-step backward test (STYLE.md rule 6).

A model registered tomorrow is tested the moment it exists: the test tries a few
input kinds until one fits, and fails if none does.
"""

import pytest
import torch

from corenets.errors import ConfigError
from corenets.models import count_parameters, create_model, models

# (input_shape, options, dtype): image, small image, sequence, table, token ids.
CANDIDATES = [
    ((1, 28, 28), {}, torch.float32),
    ((3, 32, 32), {}, torch.float32),
    ((1, 8, 8), {}, torch.float32),
    ((12, 5), {}, torch.float32),
    ((20,), {}, torch.float32),
]


def _example(name: str, num_outputs: int):
    for shape, opts, dtype in CANDIDATES:
        try:
            model = create_model(name, shape, num_outputs, **opts)
            x = torch.randn(4, *shape, generator=torch.Generator().manual_seed(0)).to(dtype)
            model.eval()
            model(x)
            return model, x
        except (RuntimeError, ValueError, ConfigError):
            continue
    pytest.fail(f"model '{name}' accepts none of the candidate inputs {[c[0] for c in CANDIDATES]}")


@pytest.mark.parametrize("name", models().names())
@pytest.mark.parametrize("num_outputs", [1, 10])
def test_shape(name, num_outputs):
    model, x = _example(name, num_outputs)
    assert model(x).shape == (4, num_outputs)
    assert count_parameters(model) > 0


@pytest.mark.parametrize("name", models().names())
def test_one_step_backward_changes_every_trainable_parameter_gradient(name):
    torch.manual_seed(0)
    model, x = _example(name, 3)
    model.train()
    y = torch.tensor([0, 1, 2, 1])
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"no gradient reached {missing}"
    assert torch.isfinite(loss)
    before = [p.detach().clone() for p in model.parameters()]
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_text_models_take_token_ids():
    for name in ("rnn", "lstm", "gru"):
        if name not in models():
            continue
        model = create_model(name, (7,), 2, vocab_size=50, embed_dim=8, hidden_size=6)
        ids = torch.tensor([[3, 4, 5, 0, 0, 0, 0], [9, 8, 7, 6, 5, 4, 3]])
        assert model(ids).shape == (2, 2)


@pytest.mark.parametrize("name,readout,subwords", [("lstm", "last", 0), ("gru", "mean", 0), ("lstm", "max", 5)])
def test_text_models_embed_only_real_tokens_with_the_padded_numbers(name, readout, subwords):
    """Issue 22: the embedding looks up (and back-propagates into) the real tokens only, never the pads, and the
    outputs and gradients are those of embedding the whole padded batch and packing it afterwards."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(0)
    shape = (9, 3) if subwords else (9,)
    model = create_model(name, shape, 2, vocab_size=40, embed_dim=8, hidden_size=6, readout=readout, subwords=subwords)
    words = torch.tensor([[3, 0, 5, 0, 7, 0, 0, 0, 0], [9, 8, 7, 6, 5, 4, 3, 2, 1], [0] * 9, [0, 0, 0, 0, 0, 0, 0, 0, 4]])
    ids = torch.stack([words, (words * 3) % 6, (words * 5) % 6], -1) * (words != 0).unsqueeze(-1) if subwords else words
    looked_up = []
    model.embed.register_forward_hook(lambda m, args, out: looked_up.append(args[0].numel()))
    new = model(ids)
    # the real tokens, and the empty row's one pad step (with n-grams, embed_tokens skips pads itself)
    assert looked_up == [int((words != 0).sum()) + (0 if subwords else 1)]

    def padded_then_packed(x):  # the previous computation: every slot embedded, packed afterwards
        real = x[..., 0] != 0 if subwords else x != 0
        order = torch.argsort((~real).to(torch.int8), dim=1, stable=True)
        x = x.gather(1, order.unsqueeze(-1).expand_as(x) if subwords else order)
        lengths = real.sum(1).clamp(min=1)
        out, state = model.rnn(pack_padded_sequence(model.embed_tokens(x), lengths, batch_first=True, enforce_sorted=False))
        out = None if readout == "last" else pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]
        return model.head(model._read(out, state, lengths))

    old = padded_then_packed(ids)
    torch.testing.assert_close(new, old)
    from corenets.models.recurrent import embedding_per_slot

    with embedding_per_slot(model):  # what inspect's layer hooks ask for: every slot embedded, the same outputs
        torch.testing.assert_close(model(ids), old)
    assert looked_up[-1] == (words.numel() if not subwords else int((words != 0).sum()))
    assert not model.embed_every_slot  # the default path is back after the block
    g_new = torch.autograd.grad(new.sum(), model.embed.weight)[0]
    g_old = torch.autograd.grad(old.sum(), model.embed.weight)[0]
    torch.testing.assert_close(g_new, g_old)
    assert g_new[0].abs().sum() == 0 and g_new[3].abs().sum() > 0


def test_mlp_options_shape_the_network():
    model = create_model("mlp", (1, 8, 8), 10, hidden=[32, 16], activation="tanh", dropout=0.5, batch_norm=True)
    # 64*32 (no bias: BN shifts) + BN 2*32 + 32*16 + BN 2*16 + 16*10 + 10
    assert count_parameters(model) == 64 * 32 + 64 + 32 * 16 + 32 + 16 * 10 + 10
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Flatten", "Linear", "BatchNorm1d", "Tanh", "Dropout", "Linear", "BatchNorm1d", "Tanh", "Dropout", "Linear"]
    with pytest.raises(ConfigError, match="dropout"):
        create_model("mlp", (4,), 2, dropout=1.5)
    with pytest.raises(ConfigError, match="unknown option model.depth; valid keys are: activation, batch_norm, dropout, hidden"):
        create_model("mlp", (4,), 2, depth=3)


def test_every_model_option_is_documented_in_the_guides():
    """A smaller option surface (issue 16): an option no recipe uses is either removed or documented."""
    import re
    from pathlib import Path

    readme = "\n".join(p.read_text() for p in sorted((Path(__file__).resolve().parents[1] / "docs").rglob("*.md")))
    reg = models()
    for name in reg.names():
        assert f"`{name}`" in readme, name
        for option in reg.options(name, skip=2):
            if option in ("vocab_size", "subwords"):  # data facts: filled from the data, never set by a user
                continue
            assert re.search(rf"`(model\.)?{option}\b", readme), f"{name}: model.{option} is not in the docs/ pages"
