"""Checks that the explanations are about the model (tests and benchmarks call these).

- completeness: integrated gradients sum to f(x) - f(baseline) (core.integrated_gradients returns the gap);
- model randomisation (Adebayo et al., 2018): attributions of the trained weights and of re-initialised ones
  should not agree (Spearman rank correlation);
- input ablation: deleting the top 10% attributed inputs should lower the predicted class's probability more
  than deleting a random 10%.
"""

from __future__ import annotations

import numpy as np
import torch

from .core import Subject, integrated_gradients


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(np.ravel(a), np.ravel(b)).statistic)


def randomisation(trained: Subject, fresh: Subject, x: torch.Tensor) -> float:
    """Mean Spearman correlation per input of the signed integrated gradients (summed over channels, as the page
    shows them) of two subjects, both for the trained subject's predicted class.

    Signed, as Adebayo et al.'s rank correlation "without absolute values": |IG| = |x - baseline| * |mean gradient|
    keeps the input's own outline whatever the weights (0.73 for random weights on the bar images)."""
    rhos = []
    for i in range(len(x)):
        x1 = x[i:i + 1]
        cls = int(trained.proba(x1).argmax())
        a = integrated_gradients(trained, x1, cls)[0]
        b = integrated_gradients(fresh, x1, cls)[0]
        rhos.append(spearman(a.sum(0) if a.ndim == 3 else a, b.sum(0) if b.ndim == 3 else b))
    return float(np.mean(rhos))


def _drop(subject: Subject, x1: torch.Tensor, cls: int, order: np.ndarray, k: int, delete) -> float:
    """How much the probability of `cls` falls when the units order[:k] are deleted."""
    return float(subject.proba(x1)[0, cls] - subject.proba(delete(x1, order[:k]))[0, cls])


def ablation(subject: Subject, x: torch.Tensor, attribute, delete, units, fraction: float = 0.1,
             seed: int = 0) -> tuple[float, float]:
    """Mean drop of the predicted class's probability after deleting the top `fraction` of attributed units,
    and after deleting a random `fraction`, over the inputs x.

    Args:
        attribute: (subject, x1, cls) -> per-unit attributions (pixels, words), flat.
        delete: (x1, unit indices) -> x1 with those units deleted (set to the baseline, or the word removed).
        units: x1 -> the number of units of that input.
    """
    rng = np.random.default_rng(seed)
    top, rand = [], []
    for i in range(len(x)):
        x1 = x[i:i + 1]
        cls = int(subject.proba(x1).argmax())  # binary too: probabilities() gives two columns
        n = units(x1)
        k = max(1, int(round(fraction * n)))
        attr = np.ravel(attribute(subject, x1, cls))
        top.append(_drop(subject, x1, cls, np.argsort(-attr), k, delete))
        rand.append(_drop(subject, x1, cls, rng.permutation(n), k, delete))
    return float(np.mean(top)), float(np.mean(rand))


def image_ablation(subject: Subject, x: torch.Tensor, fraction: float = 0.1, seed: int = 0) -> tuple[float, float]:
    """ablation() for images: units are pixels (all channels), deleted to the baseline 0 (the training mean)."""
    def attribute(s, x1, cls):
        return integrated_gradients(s, x1, cls)[0].sum(0)

    def delete(x1, idx):
        out = x1.clone().flatten(2)  # (1, C, H*W)
        out[:, :, torch.as_tensor(idx)] = 0
        return out.reshape(x1.shape)

    return ablation(subject, x, attribute, delete, lambda x1: x1.shape[-1] * x1.shape[-2], fraction, seed)


def text_ablation(subject: Subject, x: torch.Tensor, fraction: float = 0.1, seed: int = 0) -> tuple[float, float]:
    """ablation() for sentences (token ids, pads 0): units are the real words, deleted by turning them to pads."""
    from .text import word_attributions

    def real(x1):
        return ((x1[..., 0] if x1.ndim == 3 else x1)[0] != 0).nonzero().flatten()

    def attribute(s, x1, cls):
        return word_attributions(s, x1[:, real(x1)], cls)[0]

    def delete(x1, idx):
        out = x1.clone()
        out[0, real(x1)[torch.as_tensor(idx)]] = 0
        return out

    return ablation(subject, x, attribute, delete, lambda x1: len(real(x1)), fraction, seed)
