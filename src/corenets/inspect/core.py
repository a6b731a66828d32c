"""What every view needs: the subject (which model is explained), Captum's attributions, figures as PNG bytes.

The scored model (`Run.scorer`: flip TTA and an ensemble's average included) is the one whose answers
are attributed, so an attribution explains the probability the user sees. Views of layers (Grad-CAM,
filters, feature maps, gates, the penultimate projection) need one network: an ensemble's first member,
and for flip TTA the network on the unflipped input. `Subject.notes` says so on every page.
"""

from __future__ import annotations

import copy
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

IG_STEPS = 50  # integrated-gradients steps: Gauss-Legendre, so 50 keep the completeness gap well under 1%


@dataclass
class Figure:
    name: str  # file name, e.g. "gradcam.png"
    caption: str
    png: bytes


@dataclass
class Section:
    """One block of the page (and of the report's "What it learned"): text, figures and trusted HTML."""

    title: str
    text: str = ""
    figures: list[Figure] = field(default_factory=list)
    html: str = ""  # made by a view from escaped strings (coloured words)


@dataclass
class Subject:
    """What is explained: the scored model, one network for its layers, the input kind and the classes."""

    scored: nn.Module
    base: nn.Module
    kind: Any  # the run's Preprocessing (an input kind object)
    task: str
    classes: list[str] | None
    notes: list[str] = field(default_factory=list)

    def outputs(self, x: torch.Tensor, batch: int = 512) -> torch.Tensor:
        """(N, ...) model inputs -> (N, K) raw outputs of the scored model."""
        with torch.no_grad():
            return torch.cat([self.scored(x[i:i + batch]) for i in range(0, len(x), batch)]) if len(x) else x

    def proba(self, x: torch.Tensor) -> np.ndarray:
        from ..evaluate.metrics import probabilities

        return probabilities(self.outputs(x).numpy(), self.task)

    def class_name(self, c: int) -> str:
        return self.classes[c] if self.classes else str(c)


def subject_of(model: nn.Module, kind: Any, task: str, classes: list[str] | None, tta: str = "none") -> Subject:
    """The Subject of a saved run's network `model` (not yet wrapped for scoring) and its settings."""
    from ..record import scorer

    model = model.eval()
    scored = scorer(model, tta).eval()
    notes = []
    base = model
    members = getattr(model, "members", None)
    if isinstance(members, nn.ModuleList):
        base = members[0]
        notes.append(f"The model is an ensemble of {len(members)}: attributions explain the averaged model that is "
                     f"scored; the layer views (filters, feature maps, Grad-CAM, gates, projection) show member 1 of "
                     f"{len(members)}.")
    if tta == "flip":
        notes.append("The run is scored with flip TTA (the mean of an image and its mirror): attributions explain "
                     "that mean; the layer views show the network on the unflipped image.")
    return Subject(scored, no_inplace(base), kind, task, classes, notes)


def no_inplace(model: nn.Module) -> nn.Module:
    """A copy of `model` whose activations do not overwrite their inputs (hooks then see what a layer made)."""
    model = copy.deepcopy(model).eval()
    for m in model.modules():
        if hasattr(m, "inplace"):
            m.inplace = False
    return model


def sign_and_target(subject: Subject, cls: int) -> tuple[int, float]:
    """The output index and sign whose gradient is the evidence for class `cls` (binary: one logit)."""
    if subject.task == "binary":
        return 0, 1.0 if cls == 1 else -1.0
    if subject.task == "regression":
        return 0, 1.0
    return int(cls), 1.0


def integrated_gradients(subject: Subject, x: torch.Tensor, cls: int, steps: int = IG_STEPS,
                         baseline: torch.Tensor | None = None) -> tuple[np.ndarray, float]:
    """Captum's integrated gradients of the scored model for class `cls` on one input x (1, ...).

    Returns:
        attributions shaped like x[0], and the completeness gap |sum - (f(x) - f(baseline))| relative to
        |f(x) - f(baseline)| (Captum's convergence delta, scaled).
    """
    from captum.attr import IntegratedGradients

    target, sign = sign_and_target(subject, cls)
    x = x.detach().float()
    base = torch.zeros_like(x) if baseline is None else baseline
    ig = IntegratedGradients(subject.scored)
    with torch.enable_grad():
        attr, delta = ig.attribute(x, base, target=target, n_steps=steps, return_convergence_delta=True)
        with torch.no_grad():
            gap = (subject.scored(x)[0, target] - subject.scored(base)[0, target]).abs().item()
    return sign * attr[0].detach().numpy(), abs(delta.item()) / max(gap, 1e-8)


def last_linear(model: nn.Module) -> nn.Linear:
    """The output layer: its input is the penultimate representation."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("the model has no Linear layer")
    return linears[-1]


def penultimate(model: nn.Module, x: torch.Tensor, batch: int = 512) -> np.ndarray:
    """(N, ...) inputs -> (N, D): what the network's output layer reads."""
    got: list[torch.Tensor] = []
    hook = last_linear(model).register_forward_hook(lambda m, inp, out: got.append(inp[0].detach()))
    try:
        with torch.no_grad():
            for i in range(0, len(x), batch):
                model(x[i:i + batch])
    finally:
        hook.remove()
    return torch.cat(got).flatten(1).numpy()


# ------------------------------------------------------------------ figures


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    pyplot().close(fig)
    return buf.getvalue()


def diverging(values: np.ndarray) -> tuple[float, float]:
    """Symmetric colour limits for signed attributions."""
    m = float(np.abs(values).max()) if values.size else 1.0
    m = m if m > 0 else 1.0
    return -m, m
