"""airnet: an airbench-style CNN for the best accuracy per second (after Keller Jordan's airbench94).

The ideas, in this file's own code:
- a first layer of frozen patch-whitening filters, computed from training images
  (`init_from_data`, which fit() calls once before training);
- batch norm with a learned bias only (the scale is frozen at 1), so the next
  layer's weights alone set the scale; the recipe gives BN biases a much larger
  learning rate (train.bn_bias_lr_scale);
- conv groups (conv, max-pool, BN, GELU, conv, BN, GELU) with no residuals, the
  convs started as partial identities (dirac), so a fresh net passes its input on;
- a max-pooled head with scaled-down logits.

Shapes on 1x28x28 with whiten_kernel=2, stride 1: (B, 8, 27, 27) -> groups at
27, 13, 6 -> (B, 4w, 3, 3) -> max-pool -> (B, 4w) -> (B, num_outputs).
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from . import MODELS
from .cnn import Scale, _chw
from .hooks import TrainingHooks


def bias_only_bn(c: int, momentum: float) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(c, momentum=momentum)
    bn.weight.requires_grad_(False)  # scale frozen at 1; only the shift learns
    return bn


class ConvGroup(nn.Sequential):
    """(B, c_in, H, W) -> (B, c_out, H/2, W/2): conv, pool, BN, GELU, conv, BN, GELU."""

    def __init__(self, c_in: int, c_out: int, momentum: float):
        conv1, conv2 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        for conv in (conv1, conv2):  # identity on the first c_in channels: the group starts close to pass-through
            nn.init.dirac_(conv.weight[:conv.in_channels])
        super().__init__(conv1, nn.MaxPool2d(2), bias_only_bn(c_out, momentum), nn.GELU(),
                         conv2, bias_only_bn(c_out, momentum), nn.GELU())


class AirNet(nn.Sequential, TrainingHooks):
    """A Sequential whose first conv can be set to whitening filters from data (see module docstring)."""

    def __init__(self, layers: list[nn.Module], whiten: nn.Conv2d | None, eps: float):
        super().__init__(*layers)
        self.whiten_eps = eps
        self._whiten = [whiten]  # a list: not a second registration of the same submodule

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Set the whitening filters from (N, C, H, W) training images: eigenvectors of the patch covariance."""
        conv = self._whiten[0]
        if conv is None:
            return
        k, s = conv.kernel_size[0], conv.stride[0]
        patches = nn.functional.unfold(x.float(), k, stride=s).transpose(1, 2).reshape(-1, conv.in_channels * k * k)
        patches = patches - patches.mean(0)
        cov = patches.T @ patches / len(patches)  # (C k k, C k k)
        vals, vecs = torch.linalg.eigh(cov.double())
        filters = (vecs / torch.sqrt(vals.clamp_min(0) + self.whiten_eps)).T.float()  # rows: whitening directions
        filters = filters.reshape(-1, conv.in_channels, k, k)
        conv.weight.copy_(torch.cat([filters, -filters]))  # +/- pairs: GELU keeps both signs' information


@MODELS.register(reads=("image",))
def airnet(
    input_shape: tuple[int, ...],
    num_outputs: int,
    width: int = 64,
    multipliers: list[int] = [1, 4, 4],  # noqa: B006 - read-only default; group widths = width x these
    whiten_kernel: int = 2,
    whiten_stride: int = 1,
    bn_momentum: float = 0.4,
    head_scale: float = 1 / 9,
) -> nn.Module:
    """airbench-style: whitening conv (frozen, from data), conv groups with bias-only BN, max-pool head.

    Args:
        width: base width; the conv groups are width x multipliers (airbench94: 64 x [1, 4, 4]).
        whiten_kernel: patch size of the whitening layer (2*C*k*k filters); 0 = a learned 3x3 conv stem instead.
        whiten_stride: 2 halves the resolution at once (cheaper on CPUs; a lossless re-encoding for k=2).
        bn_momentum: torch's convention (weight of the new batch); high values suit short runs.
        head_scale: multiplies the logits, which keeps the start stable at high learning rates.
    """
    c, h, w = _chw(input_shape, "airnet", 2 ** len(multipliers) + max(whiten_kernel - 1, 0))
    if width < 1 or not multipliers or any(m < 1 for m in multipliers) or whiten_kernel < 0 or whiten_stride < 1:
        raise ConfigError(f"airnet: width={width}, multipliers={multipliers}, whiten_kernel={whiten_kernel}, "
                          f"whiten_stride={whiten_stride} must be positive (whiten_kernel may be 0)")
    if not 0 < bn_momentum <= 1:
        raise ConfigError(f"airnet: bn_momentum={bn_momentum} must be in (0, 1]")
    if whiten_kernel:
        whiten = nn.Conv2d(c, 2 * c * whiten_kernel ** 2, whiten_kernel, stride=whiten_stride, bias=True)
        whiten.weight.requires_grad_(False)  # set from data, then frozen; its bias still learns
        nn.init.zeros_(whiten.bias)
        layers: list[nn.Module] = [whiten, nn.GELU()]
        c = whiten.out_channels
    else:
        whiten = None
        layers = [nn.Conv2d(c, width, 3, padding=1, bias=False), bias_only_bn(width, bn_momentum), nn.GELU()]
        c = width
    for m in multipliers:
        layers.append(ConvGroup(c, width * m, bn_momentum))
        c = width * m
    layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c, num_outputs, bias=False), Scale(head_scale)]
    return AirNet(layers, whiten, eps=5e-4)
