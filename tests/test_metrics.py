import numpy as np
import pytest

from corenets.evaluate.metrics import (classification_metrics, headline, probabilities, regression_metrics,
                                       summarize_folds)


def test_binary_metrics_by_hand():
    y = np.array([0, 0, 0, 1, 1])
    p1 = np.array([0.1, 0.6, 0.2, 0.8, 0.4])
    proba = np.stack([1 - p1, p1], 1)
    m = classification_metrics(y, proba, ["neg", "pos"], y_train=np.array([0, 0, 1]))
    # predictions: 0 1 0 1 0 -> correct 3/5
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["confusion_matrix"] == [[2, 1], [1, 1]]
    assert m["f1"] == pytest.approx(0.5)  # positive class: precision 1/2, recall 1/2
    assert m["roc_auc"] == pytest.approx(5 / 6)  # 5 of 6 (pos, neg) pairs ranked right
    assert m["baseline"]["accuracy"] == pytest.approx(0.6)  # training majority 'neg' is 3/5 of the test rows
    assert "neg" in m["baseline"]["name"]


def test_multiclass_metrics_and_probabilities():
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    proba = probabilities(logits, "multiclass")
    assert np.allclose(proba.sum(1), 1)
    m = classification_metrics(np.array([0, 1, 2, 2]), proba, ["a", "b", "c"], np.array([2, 2, 1]))
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["balanced_accuracy"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert m["per_class"]["c"]["recall"] == pytest.approx(0.5)
    assert 0.5 < m["roc_auc"] <= 1
    assert m["baseline"]["accuracy"] == pytest.approx(0.5)


def test_binary_probabilities_from_one_logit():
    p = probabilities(np.array([[0.0], [100.0]]), "binary")
    assert np.allclose(p, [[0.5, 0.5], [0.0, 1.0]])


def test_regression_metrics_and_mean_baseline():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    m = regression_metrics(y, np.array([1.0, 2.0, 3.0, 5.0]), y_train=np.array([2.0, 2.0]))
    assert m["mae"] == pytest.approx(0.25) and m["mse"] == pytest.approx(0.25) and m["rmse"] == pytest.approx(0.5)
    assert m["r2"] == pytest.approx(1 - 1 / 5)
    assert m["baseline"]["mae"] == pytest.approx((1 + 0 + 1 + 2) / 4)


def test_fold_summary_mean_and_sample_std():
    folds = [{"accuracy": a, "balanced_accuracy": a, "f1": a, "roc_auc": a,
              "baseline": {"name": "majority class ('x', ...)", "accuracy": 0.6}} for a in (0.9, 1.0)]
    s = summarize_folds(folds, "binary")
    assert s["accuracy"]["mean"] == pytest.approx(0.95)
    assert s["accuracy"]["std"] == pytest.approx(np.std([0.9, 1.0], ddof=1))
    assert s["baseline"]["accuracy"] == pytest.approx(0.6)
    assert set(headline({"accuracy": 1, "rmse": 2}, "binary")) == {"accuracy"}
