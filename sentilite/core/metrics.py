"""Classification metrics for the 3-class task and the 2-class (polar) reading, and model agreement."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from .labels import polar_indices, polar_reading


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95 % with the default ``z``): where the share
    ``successes / n`` measured on ``n`` samples may truly lie. Unlike the normal approximation it
    stays inside [0, 1] and is honest near 0 and 1, where agreement figures live."""
    if n <= 0:
        return float("nan"), float("nan")
    p, z2 = successes / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> np.ndarray:
    """``cm[i, j]`` = number of samples of true class i predicted as j."""
    t = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(y_pred, dtype=np.int64)
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _scores(cm: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1).astype(float)
    predicted = cm.sum(axis=0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    n = int(cm.sum())
    present = support > 0
    return {
        "n": n,
        "accuracy": float(tp.sum() / n) if n else 0.0,
        "accuracy_ci95": list(wilson_interval(int(tp.sum()), n)),  # what n samples can resolve
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(names)
        },
        "labels": list(names),
        "confusion_matrix": cm.astype(int).tolist(),
    }


def macro_f1(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> float:
    """Mean F1 over the classes present in ``y_true`` (the figure every report quotes)."""
    return _scores(confusion_matrix(y_true, y_pred, n_classes), [str(i) for i in range(n_classes)])["macro_f1"]


def classification_metrics(y_true: Sequence[int], probs: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1, macro F1 and confusion matrix; plus ``polar``.

    ``polar`` is the 2-class reading of the Twitter benchmark: only samples whose true label is
    negative or positive, predicted by comparing the two polar probabilities alone. It is None
    when the labels have no negative/positive pair.
    """
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y_true, dtype=np.int64)
    out = _scores(confusion_matrix(y, probs.argmax(axis=1), len(labels)), labels)
    out["polar"] = polar_metrics(y, probs, labels)
    return out


def polar_metrics(y_true: Sequence[int], probs: np.ndarray, labels: Sequence[str]) -> Optional[dict[str, Any]]:
    idx = polar_indices(list(labels))
    if idx is None:
        return None
    neg, pos = idx
    y = np.asarray(y_true, dtype=np.int64)
    keep = (y == neg) | (y == pos)
    pred = polar_reading(np.asarray(probs)[keep], labels)
    # Map to 0 = negative, 1 = positive for a 2x2 confusion matrix.
    t2 = (y[keep] == pos).astype(np.int64)
    p2 = (pred == pos).astype(np.int64)
    return _scores(confusion_matrix(t2, p2, 2), [labels[neg], labels[pos]])


#: a sample whose reference top-two probabilities are closer than this is a near tie: the
#: reference itself barely decided it, so any small difference can flip its top-1 answer
NEAR_TIE = 0.05


def agreement(reference: np.ndarray, other: np.ndarray) -> dict[str, Any]:
    """How closely ``other``'s probabilities follow ``reference``'s (same samples, same order);
    ``top1_agreement_ci95`` is the Wilson 95 % interval of the top-1 agreement; ``flips`` the
    samples whose top-1 answers differ, ``flips_at_near_ties`` those of them that were near ties
    (:data:`NEAR_TIE`) in the reference, of ``near_ties`` such samples."""
    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(other, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"probability arrays differ in shape: {a.shape} vs {b.shape}")
    if a.size == 0:
        return {
            "top1_agreement": float("nan"),
            "top1_agreement_ci95": [float("nan")] * 2,
            "mean_abs_diff": float("nan"),
            "max_abs_diff": float("nan"),
            "flips": 0,
            "near_ties": 0,
            "flips_at_near_ties": 0,
        }
    diff = np.abs(a - b)
    flipped = a.argmax(1) != b.argmax(1)
    tie = np.zeros(len(a), bool)
    if a.shape[1] > 1:
        top2 = np.sort(a, axis=1)[:, -2:]
        tie = (top2[:, 1] - top2[:, 0]) < NEAR_TIE
    same = int(len(a) - flipped.sum())
    return {
        "top1_agreement": same / len(a),
        "top1_agreement_ci95": list(wilson_interval(same, len(a))),
        "flips": int(flipped.sum()),
        "near_ties": int(tie.sum()),
        "flips_at_near_ties": int((flipped & tie).sum()),
        "mean_abs_diff": float(diff.mean()),
        "max_abs_diff": float(diff.max()),
    }
