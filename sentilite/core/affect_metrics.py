"""How close predicted emotion distributions and valence/arousal are to the annotators', each figure
with its 95 % confidence interval.

Emotion distributions, per image then averaged (the label-distribution-learning measures of
Emotion6's literature): KL divergence KL(truth || prediction), Chebyshev distance, cosine
similarity and intersection; and top-1 accuracy of the dominant emotion (a prediction whose top
emotion is any of the annotators' tied favourites counts as right), with its Wilson interval.
Valence/arousal: Pearson r (Fisher z interval), Lin's concordance correlation coefficient and the
mean absolute error (seeded bootstrap intervals).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from .metrics import wilson_interval

#: a floor under predicted shares, so that KL stays finite where a model says exactly 0
EPS = 1e-8


def _mean_ci(values: np.ndarray) -> tuple[float, list[float]]:
    """Mean and its 95 % normal interval (the per-image values are many and bounded)."""
    m = float(values.mean())
    half = float(1.96 * values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
    return m, [round(m - half, 4), round(m + half, 4)]


def distribution_metrics(
    truth: np.ndarray, pred: np.ndarray, dominant: Optional[Sequence[set[int]]] = None
) -> dict[str, Any]:
    """KL, Chebyshev, cosine, intersection (means with 95 % intervals) and dominant-emotion top-1.

    Args:
        truth: ``(N, K)`` annotators' shares, rows summing to 1.
        pred: ``(N, K)`` predicted probabilities.
        dominant: per image, the indices of the annotators' top emotion(s) (default: every emotion tied
            for the largest share).

    Returns:
        ``{"n", "kl", "kl_ci95", "chebyshev", ..., "top1", "top1_ci95"}``.
    """
    t = np.asarray(truth, np.float64)
    p = np.clip(np.asarray(pred, np.float64), EPS, None)
    p = p / p.sum(axis=1, keepdims=True)
    per_image = {
        "kl": np.sum(np.where(t > 0, t * np.log(np.where(t > 0, t, 1.0) / p), 0.0), axis=1),
        "chebyshev": np.abs(t - p).max(axis=1),
        "cosine": np.sum(t * p, axis=1) / (np.linalg.norm(t, axis=1) * np.linalg.norm(p, axis=1)),
        "intersection": np.minimum(t, p).sum(axis=1),
    }
    out: dict[str, Any] = {"n": int(len(t))}
    for name, values in per_image.items():
        out[name], out[f"{name}_ci95"] = _mean_ci(values)
    tops = dominant if dominant is not None else [set(np.flatnonzero(row >= row.max() - 1e-6).tolist()) for row in t]
    hits = sum(int(p_i.argmax()) in top for p_i, top in zip(p, tops))
    out["top1"] = hits / len(t) if len(t) else float("nan")
    out["top1_ci95"] = [round(v, 4) for v in wilson_interval(hits, len(t))]
    return out


def _ccc(x: np.ndarray, y: np.ndarray) -> float:
    """Lin's concordance correlation coefficient: agreement on the scale itself, not only the order."""
    mx, my = x.mean(), y.mean()
    cov = ((x - mx) * (y - my)).mean()
    return float(2 * cov / (x.var() + y.var() + (mx - my) ** 2))


def regression_metrics(
    truth: Sequence[float], pred: Sequence[float], seed: int = 0, rounds: int = 2000
) -> dict[str, Any]:
    """Pearson r (Fisher z 95 % interval), CCC and MAE (seeded bootstrap 95 % intervals).

    Args:
        truth: the raters' means, on one scale.
        pred: the predictions, on the same scale.
        seed: the bootstrap's seed (the intervals are reproducible).
        rounds: bootstrap resamples.

    Returns:
        ``{"n", "pearson_r", "pearson_r_ci95", "ccc", "ccc_ci95", "mae", "mae_ci95"}``.
    """
    x, y = np.asarray(truth, np.float64), np.asarray(pred, np.float64)
    n = len(x)
    r = float(np.corrcoef(x, y)[0, 1]) if n > 2 and x.std() > 0 and y.std() > 0 else float("nan")
    if n > 3 and abs(r) < 1:
        z, half = np.arctanh(r), 1.96 / np.sqrt(n - 3)
        r_ci = [round(float(np.tanh(z - half)), 4), round(float(np.tanh(z + half)), 4)]
    else:
        r_ci = [r, r]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(rounds, n))
    cccs = np.array([_ccc(x[i], y[i]) for i in idx])
    maes = np.abs(x[idx] - y[idx]).mean(axis=1)
    return {
        "n": int(n),
        "pearson_r": r,
        "pearson_r_ci95": r_ci,
        "ccc": _ccc(x, y),
        "ccc_ci95": [round(float(v), 4) for v in np.nanpercentile(cccs, [2.5, 97.5])],
        "mae": float(np.abs(x - y).mean()),
        "mae_ci95": [round(float(v), 4) for v in np.percentile(maes, [2.5, 97.5])],
    }
