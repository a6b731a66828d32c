"""The CNN family: seed_cnn (the seed's Keras network), cnn_bn, small_cnn (8x8 digits).

Every builder takes images shaped (B, C, H, W) and returns (B, num_outputs) logits.
"""

from __future__ import annotations

from torch import nn

from ..errors import ConfigError
from . import MODELS


def _chw(input_shape: tuple[int, ...], model: str, min_side: int) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise ConfigError(f"{model} takes images shaped (C, H, W), got input shape {input_shape}; use an image dataset")
    c, h, w = input_shape
    if min(h, w) < min_side:
        raise ConfigError(f"{model} needs images of at least {min_side}x{min_side}, got {h}x{w}; "
                          f"use a larger data.image_size or small_cnn")
    return c, h, w


def keras_init(model: nn.Module) -> nn.Module:
    """Keras defaults: Glorot-uniform weights and zero biases for conv and dense layers.

    torch's xavier_uniform_ uses the same fans as Keras for conv kernels
    (fan_in = k*k*C_in, fan_out = k*k*C_out), so the seed trains as it did in Keras.
    """
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


@MODELS.register(reads=("image",))
def seed_cnn(input_shape: tuple[int, ...], num_outputs: int) -> nn.Module:
    """The seed's CNN: Conv32-Pool-Conv64-Pool-Conv64-Dense64-Dense; 122,570 params on 3x32x32; Keras' init."""
    c, h, w = _chw(input_shape, "seed_cnn", 10)
    side = lambda s: ((s - 2) // 2 - 2) // 2 - 2  # noqa: E731 - three valid 3x3 convs and two 2x2 pools
    # Pool, then ReLU: the same numbers as Keras' Conv(relu) -> Pool (max and ReLU commute, and so do their
    # gradients), with a quarter of the ReLU passes: 2-7% less time an epoch at fp32 on AVX2, 7-10% with AMX
    model = nn.Sequential(
        nn.Conv2d(c, 32, 3), nn.MaxPool2d(2), nn.ReLU(inplace=True),  # (B, 32, (H-2)/2, ...)
        nn.Conv2d(32, 64, 3), nn.MaxPool2d(2), nn.ReLU(inplace=True),
        nn.Conv2d(64, 64, 3), nn.ReLU(inplace=True),  # (B, 64, h', w'): 4x4 on 32x32, 3x3 on 28x28
        nn.Flatten(), nn.Linear(64 * side(h) * side(w), 64), nn.ReLU(inplace=True), nn.Linear(64, num_outputs),
    )
    return keras_init(model)  # Glorot-uniform, zero biases: the seed trains as it did in Keras


def conv_bn(c_in: int, c_out: int) -> list[nn.Module]:
    # the conv bias is redundant before BN's shift
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


@MODELS.register(reads=("image",))
def cnn_bn(
    input_shape: tuple[int, ...],
    num_outputs: int,
    widths: list[int] = [32, 64, 128],  # noqa: B006 - read-only default
    convs_per_block: int = 2,
    dropout: float = 0.25,
    dense: int = 128,
) -> nn.Module:
    """The seeds' batch-norm CNN: [(Conv-BN-ReLU) x k, MaxPool, Dropout] per width, Dense-BN-ReLU, Dropout, Dense."""
    c, h, w = _chw(input_shape, "cnn_bn", 2 ** len(widths))
    if not 0 <= dropout < 1 or convs_per_block < 1 or any(v < 1 for v in widths) or dense < 1:
        raise ConfigError(f"cnn_bn: widths={widths}, convs_per_block={convs_per_block}, dense={dense} must be positive "
                          f"and dropout={dropout} in [0, 1)")
    layers: list[nn.Module] = []
    for width in widths:
        for _ in range(convs_per_block):
            layers += conv_bn(c, width)
            c = width
        layers += [nn.MaxPool2d(2), nn.Dropout(dropout)]
        h, w = h // 2, w // 2
    layers += [nn.Flatten(), nn.Linear(c * h * w, dense, bias=False), nn.BatchNorm1d(dense), nn.ReLU(inplace=True),
               nn.Dropout(dropout), nn.Linear(dense, num_outputs)]
    return nn.Sequential(*layers)


@MODELS.register(reads=("image",))
def small_cnn(
    input_shape: tuple[int, ...],
    num_outputs: int,
    widths: list[int] = [32, 64],  # noqa: B006 - read-only default
    dropout: float = 0.2,
) -> nn.Module:
    """A compact CNN for tiny images (8x8 digits): (Conv-BN-ReLU, MaxPool) per width, Dropout, Dense."""
    c, h, w = _chw(input_shape, "small_cnn", 2)
    layers: list[nn.Module] = []
    for width in widths:
        layers += conv_bn(c, width)
        c = width
        if min(h, w) >= 4:  # keep at least 2x2 positions for the dense layer
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
    layers += [nn.Flatten(), nn.Dropout(dropout), nn.Linear(c * h * w, num_outputs)]
    return nn.Sequential(*layers)


class Scale(nn.Module):
    def __init__(self, s: float):
        super().__init__()
        self.s = s

    def forward(self, x):
        return x * self.s
