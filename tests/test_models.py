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
