"""Metrics against hand-computed answers."""

import numpy as np
import pytest

from sentilite.core.metrics import agreement, classification_metrics, confusion_matrix, wilson_interval


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
    assert (
        neu["precision"] == pytest.approx(1 / 2)
        and neu["recall"] == pytest.approx(1 / 2)
        and neu["f1"] == pytest.approx(0.5)
    )
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.5 + 2 / 3) / 3)
    assert m["accuracy_ci95"] == list(wilson_interval(5, 8))


def test_polar_reading_ignores_neutral_samples_and_probability():
    labels = ("negative", "neutral", "positive")
    y = [0, 2, 1, 2]
    probs = np.array(
        [
            [0.30, 0.50, 0.20],  # argmax neutral, but negative > positive -> negative (correct)
            [0.10, 0.60, 0.30],  # positive > negative -> positive (correct)
            [0.05, 0.90, 0.05],  # true neutral: right in 3 classes, not counted in 2
            [0.45, 0.10, 0.45],  # tie -> negative (wrong)
        ]
    )
    m = classification_metrics(y, probs, labels)
    assert m["accuracy"] == pytest.approx(1 / 4)
    assert m["polar"]["n"] == 3 and m["polar"]["accuracy"] == pytest.approx(2 / 3)
    assert m["polar"]["accuracy_ci95"] == list(wilson_interval(2, 3))
    assert m["polar"]["confusion_matrix"] == [[1, 0], [1, 1]]
    assert classification_metrics([0], [[1.0, 0.0]], ("cat", "dog"))["polar"] is None


def test_confusion_matrix_counts():
    assert confusion_matrix([0, 1, 1], [1, 1, 0], 2).tolist() == [[0, 1], [1, 1]]


def test_agreement():
    a = np.array([[0.9, 0.1], [0.2, 0.8]])
    b = np.array([[0.6, 0.4], [0.7, 0.3]])
    r = agreement(a, b)
    assert (
        r["top1_agreement"] == 0.5
        and r["max_abs_diff"] == pytest.approx(0.5)
        and r["mean_abs_diff"] == pytest.approx(0.4)
    )
    assert r["top1_agreement_ci95"] == list(wilson_interval(1, 2))
    assert (r["flips"], r["near_ties"], r["flips_at_near_ties"]) == (1, 0, 0)


def test_agreement_says_which_flips_were_near_ties_of_the_reference():
    ref = np.array(
        [
            [0.50, 0.47, 0.03],  # near tie (0.03 apart), flipped
            [0.51, 0.48, 0.01],  # near tie, kept
            [0.80, 0.15, 0.05],  # clear, flipped
            [0.10, 0.20, 0.70],
        ]
    )  # clear, kept
    other = np.array([[0.47, 0.50, 0.03], [0.52, 0.47, 0.01], [0.30, 0.65, 0.05], [0.10, 0.20, 0.70]])
    r = agreement(ref, other)
    assert (r["flips"], r["near_ties"], r["flips_at_near_ties"]) == (2, 2, 1)
    assert r["top1_agreement"] == 0.5


def test_wilson_interval_matches_published_values_and_stays_in_range():
    # 0 of 10: upper bound z^2/n / (1 + z^2/n); 378 of 397: the int8 bench's figure
    assert wilson_interval(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    assert wilson_interval(10, 10) == (pytest.approx(0.7225, abs=1e-4), 1.0)
    lo, hi = wilson_interval(378, 397)
    assert (round(lo, 4), round(hi, 4)) == (0.9265, 0.9692)
    assert lo < 378 / 397 < hi
    # four times the images, about half the width
    lo4, hi4 = wilson_interval(4 * 378, 4 * 397)
    assert 0.45 < (hi4 - lo4) / (hi - lo) < 0.55


def test_summary_line_gives_the_interval_and_reads_older_metrics():
    from sentilite.train.rundir import summary_line

    labels = ("negative", "neutral", "positive")
    m = classification_metrics([0, 0, 1, 2], onehot([0, 2, 1, 2]), labels)
    lo, hi = wilson_interval(3, 4)
    line = summary_line(m, "test")
    assert (
        line.startswith(f"test: 3-class accuracy 0.750 (95 % CI {lo:.3f}-{hi:.3f}, n=4)")
        and "2-class 0.667 (95 % CI" in line
    )
    older = {k: v for k, v in m.items() if k != "accuracy_ci95"} | {
        "polar": None
    }  # a metrics.json from before the interval
    assert summary_line(older, "test") == "test: 3-class accuracy 0.750 (n=4), macro F1 0.778"
