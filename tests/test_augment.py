"""Device-side augmentation: exact pixel semantics, seeding, spec parsing, flip TTA."""

from __future__ import annotations

import pytest
import torch

from corenets.errors import ConfigError
from corenets.train.augment import cutout, flip, parse_augment, translate, tta_logits


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_translate_is_a_shift_with_zero_fill():
    x = torch.arange(1, 2 * 3 * 5 * 5 + 1, dtype=torch.float32).view(2, 3, 5, 5)
    out = translate(x, 2, g())
    assert out.shape == x.shape
    for i in range(2):
        # find the shift: some (dy, dx) in [-2, 2]^2 reproduces the output exactly
        hits = []
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                ref = torch.zeros_like(x[i])
                src = x[i][:, max(dy, 0):5 + min(dy, 0), max(dx, 0):5 + min(dx, 0)]
                ref[:, max(-dy, 0):5 + min(-dy, 0), max(-dx, 0):5 + min(-dx, 0)] = src
                hits.append(torch.equal(ref, out[i]))
        assert sum(hits) == 1


def test_same_generator_state_same_batch():
    x = torch.randn(16, 1, 8, 8)
    aug = parse_augment("translate:2,flip,cutout:3")
    assert torch.equal(aug(x, g(1)), aug(x, g(1)))
    assert not torch.equal(aug(x, g(1)), aug(x, g(2)))


def test_flip_mirrors_about_half():
    x = torch.randn(400, 1, 4, 4)
    out = flip(x, g())
    mirrored = (out == x.flip(3)).flatten(1).all(1)
    same = (out == x).flatten(1).all(1)
    assert bool((mirrored | same).all()) and 150 < int(mirrored.sum()) < 250


def test_cutout_zeroes_one_clipped_square():
    x = torch.ones(50, 2, 10, 10)
    out = cutout(x, 4, g())
    zeros = (out == 0).sum(dim=(1, 2, 3)) / 2  # per image, per channel
    assert bool((zeros <= 16).all()) and bool((zeros >= 4).all())  # a 4x4 square, clipped at worst to 2x2
    assert bool(((out == 0).all(1) | (out == 1).all(1)).all())  # the same square in every channel


def test_parse_errors_name_the_problem():
    assert parse_augment("") is None and parse_augment("none") is None
    assert repr(parse_augment("translate:2, flip")) == "translate:2,flip"
    with pytest.raises(ConfigError, match="unknown op 'rotate'.*choose from"):
        parse_augment("rotate:10")
    with pytest.raises(ConfigError, match="whole number of pixels"):
        parse_augment("cutout:big")
    with pytest.raises(ConfigError, match="out of range; allowed: 1 to 4096 pixels"):
        parse_augment("translate:0")
    # flip on digits is refused from the data's mirror_ok fact: tests/test_validation.py (preflight)
    with pytest.raises(ConfigError, match="takes no argument"):
        parse_augment("flip:2")
    with pytest.raises(ConfigError, match=r"image batches \(B, C, H, W\)"):
        parse_augment("flip")(torch.zeros(4, 10), g())


def test_tta_averages_flipped_logits():
    lin = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    x = torch.randn(5, 1, 3, 4)
    assert torch.allclose(tta_logits(lin, x), (lin(x) + lin(x.flip(3))) / 2)
    assert torch.allclose(tta_logits(lin, x, "none"), lin(x))
    with pytest.raises(ConfigError, match="choose 'none' or 'flip'"):
        tta_logits(lin, x, "rot")
