"""Sentiment label names and the two-class (polar) reading used by the Twitter benchmark."""

from __future__ import annotations

from typing import Sequence

import numpy as np

#: Class order used by the B-T4SA split files: 0 = negative, 1 = neutral, 2 = positive.
SENTIMENT_LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
#: The two polar classes compared in the 2-class reading.
POLAR_LABELS: tuple[str, str] = ("negative", "positive")


def polar_indices(labels: Sequence[str]) -> tuple[int, int] | None:
    """Indices of ``negative`` and ``positive`` in ``labels``; None when either is absent."""
    try:
        return labels.index(POLAR_LABELS[0]), labels.index(POLAR_LABELS[1])
    except ValueError:
        return None


def polar_reading(probs: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Predict positive vs negative by comparing only the two polar probabilities.

    Returns, per row, the index into ``labels`` of the larger of the two (ties go to
    negative, as ``argmax`` would).
    """
    idx = polar_indices(list(labels))
    if idx is None:
        raise ValueError(f"labels {list(labels)} have no negative/positive pair")
    neg, pos = idx
    probs = np.asarray(probs)
    return np.where(probs[:, pos] > probs[:, neg], pos, neg)
