"""Metrics against hand-computed answers."""

import numpy as np
import pytest

from sentilite.core.metrics import agreement, classification_metrics, confusion_matrix


def onehot(pred, n=3, hi=0.8):
    p = np.full((len(pred), n), (1 - hi) / (n - 1))
    p[np.arange(len(pred)), pred] = hi
    return p


def test_three_class_metrics_by_hand():
    y = [0, 0, 0, 1, 1, 2, 2, 2]
    pred = [0, 0, 2, 1, 0, 2, 2, 1]
    m = classification_metrics(y, onehot(pred), ("negative", "neutral", "positive"))
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["confusion_matrix"] == [[2, 0, 1], [1, 1, 0], [0, 1, 2]]
    neg = m["per_class"]["negative"]
    assert neg["precision"] == pytest.approx(2 / 3) and neg["recall"] == pytest.approx(2 / 3)
    neu = m["per_class"]["neutral"]
    assert neu["precision"] == pytest.approx(1 / 2) and neu["recall"] == pytest.approx(1 / 2) and neu["f1"] == pytest.approx(0.5)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.5 + 2 / 3) / 3)


def test_polar_reading_ignores_neutral_samples_and_probability():
    labels = ("negative", "neutral", "positive")
    y = [0, 2, 1, 2]
    probs = np.array([
        [0.30, 0.50, 0.20],  # argmax neutral, but negative > positive -> negative (correct)
        [0.10, 0.60, 0.30],  # positive > negative -> positive (correct)
        [0.05, 0.90, 0.05],  # true neutral: right in 3 classes, not counted in 2
        [0.45, 0.10, 0.45],  # tie -> negative (wrong)
    ])
    m = classification_metrics(y, probs, labels)
    assert m["accuracy"] == pytest.approx(1 / 4)
    assert m["polar"]["n"] == 3 and m["polar"]["accuracy"] == pytest.approx(2 / 3)
    assert m["polar"]["confusion_matrix"] == [[1, 0], [1, 1]]
    assert classification_metrics([0], [[1.0, 0.0]], ("cat", "dog"))["polar"] is None


def test_confusion_matrix_counts():
    assert confusion_matrix([0, 1, 1], [1, 1, 0], 2).tolist() == [[0, 1], [1, 1]]


def test_agreement():
    a = np.array([[0.9, 0.1], [0.2, 0.8]])
    b = np.array([[0.6, 0.4], [0.7, 0.3]])
    r = agreement(a, b)
    assert r["top1_agreement"] == 0.5 and r["max_abs_diff"] == pytest.approx(0.5) and r["mean_abs_diff"] == pytest.approx(0.4)
