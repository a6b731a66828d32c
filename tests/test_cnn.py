"""The CNN family: the seed's exact parameter counts and Keras initialisation."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from corenets.errors import ConfigError
from corenets.models import count_parameters, create_model


def test_seed_cnn_parameter_counts_match_keras():
    assert count_parameters(create_model("seed_cnn", (3, 32, 32), 10)) == 122_570
    assert count_parameters(create_model("seed_cnn", (1, 28, 28), 10)) == 93_322


def test_seed_cnn_keras_init():
    torch.manual_seed(0)
    m = create_model("seed_cnn", (1, 28, 28), 10)
    conv2 = m[3]
    limit = math.sqrt(6 / (9 * 32 + 9 * 64))  # Glorot: fans are k*k*C_in and k*k*C_out
    assert conv2.weight.abs().max() <= limit and conv2.weight.abs().max() > 0.95 * limit
    assert all(float(mod.bias.detach().abs().sum()) == 0 for mod in m if isinstance(mod, (nn.Conv2d, nn.Linear)))


@pytest.mark.parametrize("name,shape", [("seed_cnn", (3, 32, 32)), ("cnn_bn", (1, 28, 28)), ("small_cnn", (1, 8, 8))])
def test_cnn_shapes_and_channels_last(name, shape):
    m = create_model(name, shape, 7).eval()
    x = torch.randn(3, *shape)
    out = m(x)
    assert out.shape == (3, 7)
    cl = m.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(out, cl, atol=1e-4)


def test_cnn_rejects_non_images_and_tiny_inputs():
    with pytest.raises(ConfigError, match=r"images shaped \(C, H, W\)"):
        create_model("seed_cnn", (30,), 2)
    with pytest.raises(ConfigError, match="at least 10x10.*small_cnn"):
        create_model("seed_cnn", (1, 8, 8), 10)
