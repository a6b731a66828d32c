"""Classification and regression metrics (scikit-learn), each with its naive baseline beside it."""

from __future__ import annotations

from typing import Any

import numpy as np


def probabilities(outputs: np.ndarray, task: str) -> np.ndarray:
    """Logits -> (N, K) class probabilities; binary gives two columns [P(class 0), P(class 1)]."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if task == "binary":
        p1 = 1.0 / (1.0 + np.exp(-outputs.reshape(-1)))
        return np.stack([1 - p1, p1], axis=1)
    z = outputs - outputs.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, classes: list[str], y_train: np.ndarray) -> dict[str, Any]:
    """Accuracy, balanced accuracy, macro and per-class P/R/F1, ROC-AUC, confusion matrix, majority baseline.

    Args:
        y_true: (N,) class ids of the evaluated rows.
        proba: (N, K) predicted probabilities.
        classes: K class names.
        y_train: training labels, for the majority-class baseline (never the test labels).
    """
    from sklearn import metrics as skm

    y_true = np.asarray(y_true)
    labels = list(range(len(classes)))
    pred = proba.argmax(1)
    p, r, f, support = skm.precision_recall_fscore_support(y_true, pred, labels=labels, zero_division=0)
    out: dict[str, Any] = {
        "n": int(len(y_true)),
        "accuracy": float(skm.accuracy_score(y_true, pred)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y_true, pred)),
        "precision_macro": float(p.mean()),
        "recall_macro": float(r.mean()),
        "f1_macro": float(f.mean()),
        "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(support[i])}
                      for i, c in enumerate(classes)},
        "confusion_matrix": skm.confusion_matrix(y_true, pred, labels=labels).tolist(),
    }
    if len(classes) == 2:
        out["f1"] = float(f[1])  # the positive class (index 1), as binary F1 is usually quoted
    present = np.unique(y_true)
    if len(present) == len(classes) and len(classes) >= 2:
        if len(classes) == 2:
            out["roc_auc"] = float(skm.roc_auc_score(y_true, proba[:, 1]))
        else:
            out["roc_auc"] = float(skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=labels))
    majority = int(np.bincount(np.asarray(y_train), minlength=len(classes)).argmax())
    out["baseline"] = {
        "name": f"majority class ('{classes[majority]}', from the training labels)",
        "accuracy": float(np.mean(y_true == majority)),
        "balanced_accuracy": 1.0 / len(classes),
        "roc_auc": 0.5,
    }
    return out


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray, y_train: np.ndarray) -> dict[str, Any]:
    """MAE, MSE, RMSE, R^2, and the same for the mean predictor (the training mean)."""
    from sklearn import metrics as skm

    y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)

    def scores(pred: np.ndarray) -> dict[str, float]:
        mse = float(skm.mean_squared_error(y_true, pred))
        return {"mae": float(skm.mean_absolute_error(y_true, pred)), "mse": mse, "rmse": float(np.sqrt(mse)),
                "r2": float(skm.r2_score(y_true, pred)) if len(y_true) > 1 else float("nan")}

    baseline = scores(np.full_like(y_true, float(np.mean(y_train))))
    return {"n": int(len(y_true)), **scores(y_pred), "baseline": {"name": "mean of the training targets", **baseline}}


HEADLINE = {"binary": ["accuracy", "balanced_accuracy", "f1", "roc_auc"],
            "multiclass": ["accuracy", "balanced_accuracy", "f1_macro", "roc_auc"],
            "regression": ["rmse", "mae", "r2"]}


def headline(metrics: dict[str, Any], task: str) -> dict[str, float]:
    """The few numbers a summary line and `compare` show."""
    return {k: metrics[k] for k in HEADLINE[task] if k in metrics}


def summarize_folds(fold_metrics: list[dict[str, Any]], task: str) -> dict[str, Any]:
    """Mean and sample standard deviation (n-1: few folds) of each headline metric across folds."""
    out: dict[str, Any] = {}
    keys = [k for k in HEADLINE[task] if all(k in m for m in fold_metrics)]
    for k in keys:
        vals = np.array([m[k] for m in fold_metrics], dtype=np.float64)
        out[k] = {"mean": float(vals.mean()), "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
                  "folds": vals.tolist()}
    base = [m["baseline"] for m in fold_metrics]
    out["baseline"] = {k: float(np.mean([b[k] for b in base])) for k in base[0] if k != "name"}
    out["baseline"]["name"] = base[0]["name"].split(" (")[0]
    return out
