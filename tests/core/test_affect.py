"""core.affect and core.affect_metrics: Emotion6's emotion shares and valence/arousal on one
scale, and the label-distribution and regression measures with their intervals."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import EMOTION6, SHARED, require_shared

from sentilite.core.affect import EMOTIONS, AffectLabel, read_emotion6_affect, read_oasis_affect, to_common_scale
from sentilite.core.affect_metrics import distribution_metrics, regression_metrics
from sentilite.core.datasets import read_split_file


def test_distribution_measures_on_hand_computed_cases():
    truth = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
    pred = np.array([[0.25, 0.75, 0.0], [1.0, 0.0, 0.0]])
    m = distribution_metrics(truth, pred)
    kl0 = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)  # the second image is exact: 0
    assert m["kl"] == pytest.approx(kl0 / 2, rel=1e-6)
    assert m["chebyshev"] == pytest.approx(0.25 / 2)
    cos0 = (0.5 * 0.25 + 0.5 * 0.75) / (math.sqrt(0.5) * math.sqrt(0.25**2 + 0.75**2))
    assert m["cosine"] == pytest.approx((cos0 + 1) / 2, rel=1e-6)
    assert m["intersection"] == pytest.approx((0.75 + 1) / 2)
    assert m["top1"] == 1.0  # a tie in the truth: the prediction's top (index 1) is one of the favourites
    assert m["kl_ci95"][0] <= m["kl"] <= m["kl_ci95"][1]
    exact = distribution_metrics(truth[1:], truth[1:])
    assert exact["kl"] == pytest.approx(0, abs=1e-6) and exact["cosine"] == pytest.approx(1)
    assert exact["intersection"] == pytest.approx(1)


def test_dominant_ties_count_any_favourite_and_zero_predictions_stay_finite():
    label = AffectLabel("x", (0.4, 0.4, 0.2, 0, 0, 0, 0))
    assert label.dominant == {0, 1}
    m = distribution_metrics(np.array([label.emotions]), np.array([[0, 1.0, 0, 0, 0, 0, 0]]), [label.dominant])
    assert m["top1"] == 1.0 and np.isfinite(m["kl"])


def test_regression_measures():
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 9, 300)
    assert regression_metrics(x, x)["ccc"] == pytest.approx(1) and regression_metrics(x, x)["mae"] == 0
    shifted = regression_metrics(x, x + 2)  # the same order, another scale position: r stays 1, CCC drops
    assert shifted["pearson_r"] == pytest.approx(1) and shifted["ccc"] < 0.8 and shifted["mae"] == pytest.approx(2)
    noisy = regression_metrics(x, x + rng.normal(0, 2, 300))
    lo, hi = noisy["pearson_r_ci95"]
    assert lo < noisy["pearson_r"] < hi and 0.6 < noisy["pearson_r"] < 0.9
    assert noisy["ccc_ci95"][0] <= noisy["ccc"] <= noisy["ccc_ci95"][1]
    assert regression_metrics(x, x + rng.normal(0, 2, 300), seed=1)["mae_ci95"] != noisy["mae_ci95"]


def test_the_common_scale_maps_ends_and_midpoints():
    assert to_common_scale(1, 1, 7) == 1 and to_common_scale(7, 1, 7) == 9 and to_common_scale(4, 1, 7) == 5


@pytest.mark.shared
def test_emotion6_and_oasis_labels_join_their_split_files():
    require_shared(EMOTION6 / "ground_truth.txt", SHARED / "data" / "oasis" / "valence.csv")
    e6 = read_emotion6_affect(EMOTION6)
    assert len(e6) == 1980
    assert all(len(a.emotions) == len(EMOTIONS) and abs(sum(a.emotions) - 1) < 0.01 for a in e6.values())
    test = read_split_file(EMOTION6 / "sentiment_test.txt").samples
    root = EMOTION6.resolve()
    keys = [str(Path(s.path).resolve().relative_to(root)) for s in test]
    assert len(keys) == 199 and all(k in e6 for k in keys)
    # the sentiment labels were cut from this same valence: < 4.5 negative, > 5.5 positive
    for s, k in zip(test, keys):
        v = e6[k].valence
        assert (v < 4.5) == (s.label == 0) and (v > 5.5) == (s.label == 2), (k, v, s.label)
    oasis = read_oasis_affect(SHARED / "data" / "oasis")
    assert len(oasis) == 838 and all(1 <= a.valence <= 9 and 1 <= a.arousal <= 9 for a in oasis.values())
    assert all(a.emotions is None for a in oasis.values())
