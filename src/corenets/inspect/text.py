"""Text views: each word coloured by Captum's layer integrated gradients on the embedding, and for LSTM/GRU the
gate activations per word (input/forget/output, or reset/update) as a heat map (inspect/gates.py)."""

from __future__ import annotations

import html
import warnings

import numpy as np
import torch

from ..data.text import TextPreprocessing, tokenize
from ..models.recurrent import embedding_per_slot
from .core import IG_STEPS, Figure, Section, Subject, png, pyplot, sign_and_target
from .gates import GATE_NAMES, gate_trace
from .views import KindViews, views_for


def words_of(kind, sentence: str) -> list[str]:
    """The tokens the model reads, as the user wrote them (lower-cased), cut at max_len."""
    return tokenize(sentence)[: kind.state["max_len"]]


def word_attributions(subject: Subject, ids: torch.Tensor, cls: int, steps: int = IG_STEPS) -> tuple[np.ndarray, float]:
    """Integrated gradients on the word embedding for one sentence's ids (1, L[, 1+K]) without pads.

    Word ids: Captum's layer integrated gradients on the scored model's embedding layer, the baseline the pad
    vector (zero) at every position. With n-grams (a token's vector is the mean of its pieces, made outside any
    one layer): integrated gradients on the embedded sentence (1, L, E) of the network, baseline zero.
    Returns (L,) attributions (summed over the embedding) and the relative completeness gap.
    """
    target, sign = sign_and_target(subject, cls)
    if ids.ndim == 3:
        return _embedded_ig(subject, ids, target, sign, steps)
    from captum.attr import LayerIntegratedGradients

    model, layers = subject.scored, _embedding_layers(subject.scored)
    with warnings.catch_warnings():  # Captum warns for several layers; the members' embeddings are independent
        warnings.simplefilter("ignore", UserWarning)
        lig = LayerIntegratedGradients(model, layers if len(layers) > 1 else layers[0])
    # The hooks need one embedding vector per slot (1, L, E), not the packed real tokens the model embeds by default
    with embedding_per_slot(model), torch.enable_grad():
        got = lig.attribute(ids, torch.zeros_like(ids), target=target, n_steps=steps)
    attr = sum(got) if isinstance(got, list) else got  # an ensemble: every member's embedding, summed per word
    # Completeness against the layers' baseline: L zero vectors read as L steps. (Captum's own delta runs the
    # model on all-pad ids, which packing reads as one step: another function.)
    hooks = [m.register_forward_hook(lambda mod, i, out: torch.zeros_like(out)) for m in layers]
    try:
        with embedding_per_slot(model), torch.no_grad():
            f_base = model(ids)[0, target].item()
    finally:
        for h in hooks:
            h.remove()
    with torch.no_grad():
        change = model(ids)[0, target].item() - f_base
    return sign * attr.detach()[0].sum(-1).numpy(), abs(float(attr.sum()) - change) / max(abs(change), 1e-8)


def _embedded_ig(subject: Subject, ids: torch.Tensor, target: int, sign: float, steps: int) -> tuple[np.ndarray, float]:
    from captum.attr import IntegratedGradients

    net = subject.base

    def forward(emb: torch.Tensor) -> torch.Tensor:  # (B, L, E), no pads: what the packed forward computes
        out, state = net.rnn(emb)
        return net.head(net.drop(net._read(out, state, None)))

    with torch.no_grad():
        emb = net.embed_tokens(ids).float()
    zero = torch.zeros_like(emb)
    with torch.enable_grad():
        attr, delta = IntegratedGradients(forward).attribute(emb, zero, target=target, n_steps=steps,
                                                              return_convergence_delta=True)
    with torch.no_grad():
        gap = (forward(emb)[0, target] - forward(zero)[0, target]).abs().item()
    return sign * attr.detach()[0].sum(-1).numpy(), abs(delta.item()) / max(gap, 1e-8)


def _embedding_layers(scored) -> list:
    """The word-embedding modules of the scored model: one, or one per ensemble member."""
    return [m.embed for m in scored.modules() if isinstance(getattr(m, "embed", None), torch.nn.Embedding)]


def colour_words(words: list[str], attr: np.ndarray) -> str:
    """Words as HTML spans, red for the class, blue against, opacity by |attribution|."""
    m = float(np.abs(attr).max()) or 1.0
    spans = []
    for w, a in zip(words, attr):
        rgb = "220,40,40" if a >= 0 else "40,90,220"
        spans.append(f'<span class="attr-word" title="{a:+.4f}" style="background:rgba({rgb},{abs(a) / m:.2f});'
                     f'padding:0 2px;margin:1px;border-radius:3px">{html.escape(w)}</span>')
    return " ".join(spans)


@views_for(TextPreprocessing)
class TextViews(KindViews):
    def pick(self, y, proba, mistakes: int = 4, per_class: int = 2):
        return super().pick(y, proba, mistakes, per_class)

    def sentence_ids(self, x1: torch.Tensor) -> torch.Tensor:
        """(1, T[, 1+K]) ids -> the real tokens only, in order (1, L[, 1+K]); an empty sentence keeps one pad."""
        real = (x1[..., 0] if x1.ndim == 3 else x1)[0] != 0
        return x1[:, real] if bool(real.any()) else x1[:, :1]

    def words(self, x, labels, names) -> tuple[list[str], list[dict]]:
        """Per sentence: an HTML paragraph of coloured words, and its JSON (tokens and attributions)."""
        pred, proba = self.predicted(x)
        vocab = self.s.kind.state["vocab"]
        blocks, results = [], []
        for r in range(len(x)):
            ids = self.sentence_ids(x[r:r + 1])
            cls = int(pred[r]) if proba is not None else 0
            attr, _ = word_attributions(self.s, ids, cls)
            shown = [vocab[i] for i in (ids[0, :, 0] if ids.ndim == 3 else ids[0]).tolist()]
            head = html.escape(self.title(names[r], pred[r], proba[r] if proba is not None else None, labels[r]))
            blocks.append(f"<p><b>{head}</b><br>{colour_words(shown, attr)}</p>")
            results.append({"class": self.s.class_name(cls), "tokens": shown, "attribution": np.round(attr, 6).tolist()})
        return blocks, results

    def answers(self, x, base=None):
        return self.words(x, [None] * len(x), [f"input {i + 1}" for i in range(len(x))])[1]

    def explain(self, x, labels, names, base=None):
        blocks, results = self.words(x, labels, names)
        text = ("Each word coloured by layer integrated gradients on the embedding (baseline: the pad vector): red "
                "words pushed towards the predicted class, blue against; hover for the value. <unk> is a word the "
                "vocabulary does not hold.")
        sections = [Section("Why the model answered as it did", text, html="".join(blocks))]
        if type(self.s.base.rnn).__name__ in GATE_NAMES:
            sections.append(self.gates(x[:min(len(x), 3)], names))
        return sections, results

    def gates(self, x, names) -> Section:
        net = self.s.base
        vocab = self.s.kind.state["vocab"]
        kind = type(net.rnn).__name__
        gates = GATE_NAMES[kind]
        plt = pyplot()
        fig, axes = plt.subplots(len(x), len(gates), figsize=(4.2 * len(gates), 2.6 * len(x)), squeeze=False)
        for r in range(len(x)):
            ids = self.sentence_ids(x[r:r + 1])
            with torch.no_grad():
                emb = net.embed_tokens(ids)[0]  # (L, E)
            trace = gate_trace(net.rnn, emb)
            words = [vocab[i] for i in (ids[0, :, 0] if ids.ndim == 3 else ids[0]).tolist()]
            for a, (g, label) in zip(axes[r], gates.items()):
                units = trace[g].numpy().T[:32]  # (H, L): the first 32 units
                a.imshow(units, aspect="auto", cmap="viridis", vmin=0, vmax=1)
                a.set_xticks(range(len(words)), words, rotation=70, fontsize=6)
                a.set_yticks([])
                a.set_title(f"{names[r][:30]}: {label} gate ({g})", fontsize=7)
        fig.subplots_adjust(wspace=0.1, hspace=0.9)  # room for the words; not tight_layout, which costs as much as drawing
        text = (f"The {kind}'s gates per word (first layer, first {min(32, net.rnn.hidden_size)} units; 0 dark, 1 "
                "yellow): the same equations as `corenets explain gates`, on the trained weights. A forget/update "
                "gate near 1 keeps the memory; an input gate near 1 writes the word in.")
        return Section("Gate activations per word", text, [Figure("gates.png", text, png(fig))])

    def overview(self, x, y, proba):
        return super().overview(x, y, proba)
