"""Image views: Grad-CAM on the last conv layer and integrated gradients per pixel, for the predicted and the true
class; the first layer's filters; every conv block's feature maps for one input; the most-confused class pairs.

An image run whose model reads rows (RNN, LSTM, GRU) is handed to rows.py; one without conv layers (an MLP)
keeps the pixel attributions and the projection.
"""

from __future__ import annotations

import base64

import numpy as np
import torch
from torch import nn

from ..data.vision import ImagePreprocessing
from .core import Figure, Section, Subject, diverging, integrated_gradients, png, pyplot, sign_and_target
from .views import KindViews, views_for

_AFTER_CONV = (nn.BatchNorm2d, nn.ReLU, nn.GELU, nn.LeakyReLU, nn.Tanh, nn.SiLU)


def conv_blocks(model: nn.Module) -> list[nn.Module]:
    """Each conv layer's block output: the last BatchNorm/activation right after each Conv2d (or after its pool,
    when the pool comes first), else the conv itself."""
    leaves = [m for m in model.modules() if not list(m.children())]
    blocks = []
    for i, m in enumerate(leaves):
        if isinstance(m, nn.Conv2d):
            j = i
            while j + 1 < len(leaves) and isinstance(leaves[j + 1], _AFTER_CONV):
                j += 1
            pooled_first = i + 2 < len(leaves) and isinstance(leaves[i + 1], nn.MaxPool2d)
            if j == i and pooled_first and isinstance(leaves[i + 2], _AFTER_CONV):
                j = i + 2  # Conv -> Pool -> ReLU (seed_cnn's order): the block ends at its activation
            blocks.append(leaves[j])
    return blocks


def grad_cam(subject: Subject, x: torch.Tensor, cls: int) -> np.ndarray:
    """Captum's Grad-CAM on the last conv block for class `cls`, upsampled to the image: (H, W), >= 0."""
    from captum.attr import LayerAttribution, LayerGradCam

    layer = conv_blocks(subject.base)[-1]
    target, sign = sign_and_target(subject, cls)
    model = subject.base if sign > 0 else _Negated(subject.base)  # binary: evidence for class 0 is -logit
    with torch.enable_grad():
        cam = LayerGradCam(model, layer).attribute(x.float(), target=target, relu_attributions=True)
    return LayerAttribution.interpolate(cam.detach(), tuple(x.shape[-2:]), "bilinear")[0, 0].numpy()


def overlay(img: np.ndarray, heat: np.ndarray, side: int = 160) -> bytes:
    """A PNG of the image in grey with the heat map (jet) over it, scaled up to about `side` pixels."""
    import io

    from matplotlib import colormaps
    from PIL import Image

    grey = img.mean(-1) if img.ndim == 3 else img
    h = heat / (heat.max() or 1.0) if heat.max() > 0 else heat
    rgb = 0.5 * np.repeat(grey[..., None], 3, -1) + 0.5 * colormaps["jet"](h)[..., :3]
    pic = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8))
    scale = max(1, side // max(pic.size))
    buf = io.BytesIO()
    pic.resize((pic.width * scale, pic.height * scale), Image.NEAREST).save(buf, format="PNG")
    return buf.getvalue()


class _Negated(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -self.model(x)


def feature_maps(model: nn.Module, x: torch.Tensor) -> list[np.ndarray]:
    """Every conv block's output for one input x (1, C, H, W): a list of (channels, h, w)."""
    got: list[np.ndarray] = []
    hooks = [b.register_forward_hook(lambda m, i, o: got.append(o[0].detach().numpy())) for b in conv_blocks(model)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return got


@views_for(ImagePreprocessing)
class ImageViews(KindViews):
    @classmethod
    def make(cls, subject: Subject) -> KindViews:
        if hasattr(subject.base, "rnn"):  # a recurrent model reads the image row by row
            from .rows import RowViews

            return RowViews(subject)
        return cls(subject)

    @property
    def has_conv(self) -> bool:
        return bool(conv_blocks(self.s.base))

    def shown(self, x: torch.Tensor) -> np.ndarray:
        from ..evaluate.vision_plots import displayable

        return displayable(x.numpy(), self.s.kind.state)

    def maps(self, x1: torch.Tensor, cls: int, ig: bool = True) -> dict[str, np.ndarray]:
        """For one input: the IG pixel map (summed over channels) and, with conv layers, the Grad-CAM map."""
        out: dict[str, np.ndarray] = {}
        if ig or not self.has_conv:
            out["ig"] = integrated_gradients(self.s, x1, cls)[0].sum(0)
        if self.has_conv:
            out["gradcam"] = grad_cam(self.s, x1, cls)
        return out

    def explain(self, x, labels, names, base=None):
        pred, proba = self.predicted(x)
        plt = pyplot()
        cols = ["input"] + [f"{m} ({w})" for w in ("predicted", "true") for m in (("Grad-CAM", "IG") if self.has_conv else ("IG",))]
        fig, axes = plt.subplots(len(x), len(cols), figsize=(1.9 * len(cols), 2.0 * len(x)), squeeze=False)
        shown, results = self.shown(x), []
        for r in range(len(x)):
            label = labels[r]
            want = [int(pred[r])] + ([label] if label is not None and label != int(pred[r]) else [])
            panels = [self.maps(x[r:r + 1], c) for c in want]
            self._row(axes[r], shown[r], panels, cols, self.title(names[r], pred[r], proba[r] if proba is not None else None, label))
            results.append(self._json(shown[r], panels[0], int(pred[r]), proba[r] if proba is not None else None))
        fig.subplots_adjust(wspace=0.2, hspace=0.55)  # not tight_layout: it costs as much as drawing
        how = ("Grad-CAM (last conv block; where the evidence for a class lies) and " if self.has_conv else "") + \
            ("integrated gradients per pixel (red: for the class, blue: against; baseline: a zero input, i.e. the "
             "training mean) for the predicted class and, where known, the true class.")
        fig_ = Figure("attributions.png", "Why: " + how, png(fig))
        return [Section("Why the model answered as it did", how, [fig_])], results

    def _row(self, axes, img, panels, cols, title) -> None:
        for ax in axes:
            ax.axis("off")
        cmap = "gray" if img.ndim == 2 else None
        axes[0].imshow(img, cmap=cmap, vmin=0, vmax=1)
        axes[0].set_title(title, fontsize=7)
        k = 1
        for p, which in zip(panels, ("predicted", "true")):
            if "gradcam" in p:
                axes[k].imshow(img.mean(-1) if img.ndim == 3 else img, cmap="gray", vmin=0, vmax=1)
                axes[k].imshow(p["gradcam"], cmap="jet", alpha=0.5)
                axes[k].set_title(f"Grad-CAM ({which})", fontsize=7)
                k += 1
            lo, hi = diverging(p["ig"])
            axes[k].imshow(p["ig"], cmap="bwr", vmin=lo, vmax=hi)
            axes[k].set_title(f"IG ({which})", fontsize=7)
            k += 1

    def _json(self, img, panel, pred: int, proba) -> dict:
        """What POST /explain answers per image: the map as a list and an overlay PNG in base64."""
        heat = panel["gradcam"] if "gradcam" in panel else np.abs(panel["ig"])
        out = {"class": self.s.class_name(pred), "method": "grad-cam" if "gradcam" in panel else "integrated-gradients",
               "attribution": np.round(heat, 5).tolist(), "png": base64.b64encode(overlay(img, heat)).decode("ascii")}
        if "ig" in panel:
            out["integrated_gradients"] = np.round(panel["ig"], 6).tolist()
        if proba is not None:
            out["probability"] = round(float(proba[pred]), 4)
        return out

    def answers(self, x, base=None):
        """Grad-CAM alone for a CNN (one backward pass: a server's answer stays fast); integrated gradients for a
        network without conv layers. `corenets inspect` draws both."""
        pred, proba = self.predicted(x)
        shown = self.shown(x)
        return [self._json(shown[r], self.maps(x[r:r + 1], int(pred[r]), ig=False), int(pred[r]),
                           proba[r] if proba is not None else None) for r in range(len(x))]

    def overview(self, x, y, proba):
        sections = []
        if self.has_conv:
            sections += [self.filters(), self.feature_maps(x[:1])]
        if proba is not None:
            sections.append(self.confused(x, y, proba))
        return [s for s in sections if s is not None] + super().overview(x, y, proba)

    def input_views(self, x):
        return [self.filters(), self.feature_maps(x[:1])] if self.has_conv else []

    def report_overview(self, x, y, proba):
        sections = [self.filters()] if self.has_conv else []
        if proba is not None:
            sections.append(self.confused(x, y, proba))
        return [s for s in sections if s is not None] + super().overview(x, y, proba)

    def filters(self) -> Section:
        conv = next(m for m in self.s.base.modules() if isinstance(m, nn.Conv2d))
        w = conv.weight.detach().numpy()  # (out, in, k, k)
        n = min(len(w), 32)
        plt = pyplot()
        cols = 8
        fig, axes = plt.subplots((n + cols - 1) // cols, cols, figsize=(cols * 0.9, 0.9 * ((n + cols - 1) // cols)), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for k in range(n):
            f = w[k]
            img = f[0] if f.shape[0] != 3 else (f.transpose(1, 2, 0) - f.min()) / (np.ptp(f) + 1e-8)
            lo, hi = diverging(f)
            axes.flat[k].imshow(img, cmap="bwr" if img.ndim == 2 else None, vmin=lo if img.ndim == 2 else None,
                                vmax=hi if img.ndim == 2 else None)
        text = (f"The first conv layer's {len(w)} filters ({w.shape[2]}x{w.shape[3]}; first {n} shown"
                + (", channel 1 of " + str(w.shape[1]) if w.shape[1] not in (1, 3) else "") + "): red weights add, blue subtract.")
        return Section("First-layer filters", text, [Figure("filters.png", text, png(fig))])

    def feature_maps(self, x1: torch.Tensor) -> Section:
        maps = feature_maps(self.s.base, x1)
        cols = 8
        plt = pyplot()
        fig, axes = plt.subplots(len(maps), cols + 1, figsize=(1.1 * (cols + 1), 1.2 * len(maps)), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        img = self.shown(x1)[0]
        for b, m in enumerate(maps):
            axes[b, 0].imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
            axes[b, 0].set_title(f"block {b + 1}: {m.shape[1]}x{m.shape[2]}", fontsize=6)
            for k in range(min(cols, len(m))):
                axes[b, k + 1].imshow(m[k], cmap="viridis")
        text = (f"Feature maps of each of the {len(maps)} conv blocks (after its activation) for one test image: "
                f"the first {cols} channels of each; later blocks are coarser and respond to larger patterns.")
        return Section("Feature maps", text, [Figure("feature_maps.png", text, png(fig))])

    def confused(self, x, y, proba, pairs: int = 3, per_pair: int = 6) -> Section | None:
        pred = proba.argmax(1)
        k = proba.shape[1]
        counts = np.zeros((k, k), dtype=int)
        np.add.at(counts, (y, pred), 1)
        np.fill_diagonal(counts, 0)
        order = [divmod(int(i), k) for i in np.argsort(-counts, axis=None)[:pairs] if counts.flat[i] > 0]
        if not order:
            return None
        plt = pyplot()
        fig, axes = plt.subplots(len(order), per_pair, figsize=(1.3 * per_pair, 1.5 * len(order)), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        rows = []
        for r, (t, p) in enumerate(order):
            idx = np.flatnonzero((y == t) & (pred == p))[:per_pair]
            shown = self.shown(x[torch.as_tensor(idx)])
            for c, img in enumerate(shown):
                axes[r, c].imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
            axes[r, 0].set_title(f"{self.s.class_name(t)} read as {self.s.class_name(p)} ({counts[t, p]}x)", fontsize=7, loc="left")
            rows.append(f"{self.s.class_name(t)} -> {self.s.class_name(p)}: {counts[t, p]}")
        text = "The class pairs most often confused on the test split (true -> predicted): " + "; ".join(rows) + "."
        return Section("Most-confused pairs", text, [Figure("confused_pairs.png", text, png(fig))])
