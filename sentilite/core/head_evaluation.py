"""Scoring the extra heads of a multi-head model on images with affect labels (issue 30).

The seven-emotion head against the annotators' shares (KL, Chebyshev, cosine, intersection,
dominant-emotion top-1), valence and arousal against the raters' means (Pearson r, CCC, MAE), each
with its 95 % interval (:mod:`sentilite.core.affect_metrics`), on the images whose data folder has
the labels (:func:`sentilite.core.affect.affect_labels_for`). Device side: no TensorFlow for a .tflite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from .affect import EMOTIONS, AffectLabel, affect_labels_for
from .affect_metrics import distribution_metrics, regression_metrics
from .errors import ImageReadError
from .heads import Head
from .imageio import load_image
from .progress import track
from .reading import reading_fields


def evaluate_heads(clf: Any, paths: Sequence[Path], description: str = "scoring the heads") -> Optional[dict[str, Any]]:
    """Every extra head of ``clf`` on the images of ``paths`` that have affect labels; None when
    the model has no extra heads or no image has labels for them.

    Returns ``{"images", "emotions": {...}, "valence": {...}, "arousal": {...}, "predictions": [...]}``:
    a metrics block per reading the labels allow (valence/arousal on 1-9), and per image the
    model's readings beside the labels.
    """
    heads = tuple(clf.contract.heads)
    if not heads:
        return None
    labelled = [(p, a) for p, a in zip(paths, affect_labels_for(paths)) if a is not None]
    if not labelled:
        return None
    rows: list[tuple[AffectLabel, dict[str, dict[str, float]], str]] = []
    for path, label in track(labelled, description, total=len(labelled)):
        try:
            reading = clf.read(load_image(path))
        except ImageReadError:
            continue
        fields = reading_fields(reading.heads, heads)
        got = {h.name: fields[h.name] if h.kind == "distribution" else {n: fields[n] for n in h.labels} for h in heads}
        rows.append((label, got, str(path)))
    return _score(heads, rows)


def _score(heads: tuple[Head, ...], rows: list[tuple[AffectLabel, dict[str, dict[str, float]], str]]) -> dict[str, Any]:
    out: dict[str, Any] = {"images": len(rows)}
    for h in heads:
        if h.kind == "distribution":
            have = [(a, got) for a, got, _ in rows if a.emotions is not None]
            if have:
                truth = np.array([a.emotions for a, _ in have])
                pred = np.array([[got[h.name][n] for n in h.labels] for _, got in have])
                out[h.name] = distribution_metrics(truth, pred, [a.dominant for a, _ in have])
            continue
        for name in h.labels:
            have = [(getattr(a, name), got[h.name][name]) for a, got, _ in rows if getattr(a, name, None) is not None]
            if len(have) > 2:
                out[name] = regression_metrics([t for t, _ in have], [p for _, p in have])
    out["predictions"] = [_record(heads, a, got, path) for a, got, path in rows]
    return out


def _record(heads: tuple[Head, ...], label: AffectLabel, got: dict[str, dict[str, float]], path: str) -> dict[str, Any]:
    """One image: the model's readings as ``sentilite predict`` writes them, and the labels."""
    record: dict[str, Any] = {"path": path}
    truth: dict[str, Any] = {}
    for h in heads:
        if h.kind == "distribution":
            record[h.name] = got[h.name]
            if label.emotions is not None and h.labels == EMOTIONS:
                truth[h.name] = dict(zip(h.labels, label.emotions))
        else:
            record.update(got[h.name])
            truth.update({n: getattr(label, n) for n in h.labels if getattr(label, n, None) is not None})
    record["truth"] = truth
    return record
