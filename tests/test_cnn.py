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


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_seed_cnn_pools_before_relu_with_keras_numbers(shape):
    """Issue 22: seed_cnn runs Conv -> Pool -> ReLU (a quarter of the ReLU work); its outputs and every parameter's
    gradient are those of Keras' order, Conv(relu) -> Pool, on the same weights."""
    torch.manual_seed(0)
    m = create_model("seed_cnn", shape, 10)
    assert [type(x).__name__ for x in m[:6]] == ["Conv2d", "MaxPool2d", "ReLU", "Conv2d", "MaxPool2d", "ReLU"]
    keras_order = nn.Sequential(m[0], nn.ReLU(), m[1], m[3], nn.ReLU(), m[4], *m[6:])
    x = torch.randn(8, *shape)
    x[:2] = -x[:2].abs()  # windows where every value is negative: both orders must give zeros and no gradient
    out, ref = m(x), keras_order(x)
    torch.testing.assert_close(out, ref)
    grads = torch.autograd.grad(out.square().sum(), list(m.parameters()))
    ref_grads = torch.autograd.grad(ref.square().sum(), list(m.parameters()))
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r)


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


def test_inspect_reads_each_seed_cnn_block_after_its_activation():
    """The layer views show what each block made: after Conv -> Pool -> ReLU, the ReLU; the last conv (no pool)
    ends at its ReLU too, and a plain Conv -> BN -> ReLU block (cnn_bn) at its ReLU."""
    from corenets.inspect.images import conv_blocks

    m = create_model("seed_cnn", (1, 28, 28), 10)
    assert conv_blocks(m) == [m[2], m[5], m[7]] and all(isinstance(b, nn.ReLU) for b in conv_blocks(m))
    bn = create_model("cnn_bn", (1, 28, 28), 10, widths=[8], convs_per_block=1)
    assert conv_blocks(bn) == [bn[2]] and isinstance(bn[2], nn.ReLU)
