"""Any classifier: a 2-D projection (PCA, or t-SNE on request) of the penultimate layer on the test split."""

from __future__ import annotations

import numpy as np
import torch

from .core import Figure, Section, Subject, penultimate, png, pyplot

MAX_POINTS = 2000  # enough to see the clusters; PCA and the scatter stay fast


def project(features: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """(N, D) -> (N, 2): PCA (SVD of the centred features) or scikit-learn's t-SNE."""
    if method == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(2, init="pca", random_state=seed, perplexity=min(30.0, max(2.0, len(features) / 4))).fit_transform(features)
    centred = features - features.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T if vt.shape[0] >= 2 else np.c_[centred @ vt[:1].T, np.zeros(len(centred))]


def projection(subject: Subject, x: torch.Tensor, y: np.ndarray, proba: np.ndarray, method: str = "pca") -> list[Section]:
    n = min(len(x), MAX_POINTS)
    feats = penultimate(subject.base, x[:n])
    xy = project(feats, method)
    y, pred = y[:n], proba[:n].argmax(1)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    k = proba.shape[1]
    cmap = plt.get_cmap("tab10" if k <= 10 else "tab20")
    for c in range(k):
        m = y == c
        ax.scatter(xy[m, 0], xy[m, 1], s=6, color=cmap(c % cmap.N), label=subject.class_name(c), alpha=0.7)
    wrong = pred != y
    ax.scatter(xy[wrong, 0], xy[wrong, 1], s=18, marker="x", color="black", linewidths=0.8, label="mistake")
    ax.legend(fontsize=7, markerscale=2, loc="best", ncol=2 if k > 6 else 1)
    name = "PCA" if method == "pca" else "t-SNE"
    ax.set(title=f"{name} of the penultimate layer ({feats.shape[1]} values), {n} test rows")
    text = (f"What the output layer reads ({feats.shape[1]} values per input) on {n} test inputs, projected to 2-D by "
            f"{name}, coloured by true class; black crosses are mistakes ({int(wrong.sum())}). Classes the model "
            "separates form their own clusters.")
    return [Section("What the last hidden layer sees", text, [Figure(f"projection_{method}.png", text, png(fig))])]
