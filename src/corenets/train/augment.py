"""Batched image augmentation on the training device, and flip test-time augmentation.

A recipe picks augmentation with one string, ``train.augment``, a comma list of ops
applied in order to each (B, C, H, W) training batch:

    translate:N   shift each image by up to N pixels in x and y (zero padding; the
                  same as pad-N-then-random-crop)
    flip          mirror half of the images left-right (only where a mirrored image keeps
                  its label: the data's ``meta["mirror_ok"]``, checked in corenets.preflight)
    cutout:S      zero one random S x S square per image (0 = the channel mean, as
                  inputs are normalised)

e.g. ``train.augment: "translate:2,flip,cutout:8"``. Random draws come from the
loop's seeded CPU generator (a few numbers per batch), so runs repeat exactly on
any device while the pixel work stays on the device.
"""

from __future__ import annotations

import torch

from ..errors import ConfigError

MAX_PIXELS = 4096  # the largest shift or square parse_augment accepts; preflight compares it with the image
OPS = {"translate": True, "crop": True, "flip": False, "cutout": True}  # op -> takes a pixel argument


class Augment:
    """A parsed augmentation spec; ``augment(x, generator) -> x`` for (B, C, H, W) batches."""

    def __init__(self, ops: list[tuple[str, int]]):
        self.ops = ops

    def __repr__(self) -> str:
        return ",".join(f"{op}:{n}" if OPS[op] else op for op, n in self.ops)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if x.ndim != 4:
            raise ConfigError(f"train.augment works on image batches (B, C, H, W), got shape {tuple(x.shape)}; "
                              "set train.augment to an empty string for this dataset")
        for op, n in self.ops:
            if op in ("translate", "crop"):
                x = translate(x, n, generator)
            elif op == "flip":
                x = flip(x, generator)
            else:
                x = cutout(x, n, generator)
        return x


def parse_augment(spec: str) -> Augment | None:
    """"translate:2,flip" -> Augment; "" or "none" -> None. Bad specs are ConfigErrors listing the ops.

    Whether the ops suit the data (images; flip only where mirroring keeps the label) is preflight's check.
    """
    spec = (spec or "").strip()
    if spec.lower() in ("", "none"):
        return None
    ops = []
    for part in spec.split(","):
        name, _, arg = part.strip().partition(":")
        name = name.strip().lower()
        if name not in OPS:
            raise ConfigError(f"train.augment: unknown op {name[:40]!r} in {spec[:200]!r}; choose from: cutout:S, flip, translate:N "
                              f"(comma-separated, e.g. 'translate:2,flip')")
        if OPS[name]:
            try:
                n = int(arg)
            except ValueError:
                raise ConfigError(f"train.augment: '{part.strip()[:60]}' needs a whole number of pixels, e.g. {name}:2") from None
            if not 1 <= n <= MAX_PIXELS:
                raise ConfigError(f"train.augment: '{part.strip()[:60]}' is out of range; allowed: 1 to {MAX_PIXELS} pixels")
        elif arg:
            raise ConfigError(f"train.augment: '{name}' takes no argument, got '{part.strip()[:60]}'")
        else:
            n = 0
        ops.append((name, n))
    return Augment(ops)


def _randint(high: int, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.randint(high, (n,), generator=generator).to(device, non_blocking=True)


def translate(x: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by its own (dy, dx) in [-pad, pad]^2, filling with zeros."""
    b, c, h, w = x.shape
    xp = torch.nn.functional.pad(x, (pad, pad, pad, pad))  # (B, C, H+2p, W+2p)
    dy, dx = _randint(2 * pad + 1, b, generator, x.device), _randint(2 * pad + 1, b, generator, x.device)
    rows = dy[:, None] + torch.arange(h, device=x.device)  # (B, H) rows of the padded image to keep
    cols = dx[:, None] + torch.arange(w, device=x.device)  # (B, W)
    bi = torch.arange(b, device=x.device)[:, None, None]
    out = xp.permute(0, 2, 3, 1)[bi, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2)  # (B, C, H, W), channels_last in memory


def flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror a random half of the batch left-right."""
    mask = _randint(2, len(x), generator, x.device).bool()[:, None, None, None]
    return torch.where(mask, x.flip(3), x)


def cutout(x: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Zero one size x size square per image; its centre may sit anywhere, so squares can be clipped."""
    b, _, h, w = x.shape
    cy, cx = _randint(h, b, generator, x.device), _randint(w, b, generator, x.device)
    ys = torch.arange(h, device=x.device)[None, :] - (cy[:, None] - size // 2)  # (B, H) offset inside the square
    xs = torch.arange(w, device=x.device)[None, :] - (cx[:, None] - size // 2)
    inside = ((ys >= 0) & (ys < size))[:, :, None] & ((xs >= 0) & (xs < size))[:, None, :]  # (B, H, W)
    return x.masked_fill(inside[:, None], 0.0)


@torch.no_grad()
def tta_logits(model: torch.nn.Module, x: torch.Tensor, mode: str = "flip") -> torch.Tensor:
    """Test-time augmentation: the mean of the logits for x and its mirror image ("flip"), or model(x) ("none")."""
    if mode == "none":
        return model(x)
    if mode != "flip":
        raise ConfigError(f"train.tta={mode!r} is not valid; choose 'none' or 'flip'")
    return (model(x) + model(x.flip(3))) / 2


class FlipTTA(torch.nn.Module):
    """Wraps a model for scoring: logits averaged over each image and its mirror. Weights stay the model's."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.model(x) + self.model(x.flip(3))) / 2
