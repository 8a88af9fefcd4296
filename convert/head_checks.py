"""Agreement with Keras for the extra heads of a multi-head model (issue 30), per head.

A class head (the seven emotions) is judged like sentiment: top-1 agreement and mean |Δp|. A
regression head (valence/arousal) by the mean absolute difference on its own scale. The int8
alarm rings for a head as for sentiment: a class head that agrees with Keras on fewer than the
floor's share of images, or a regression head off by more than :data:`MAE_ALARM` on average.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np

from sentilite.core.heads import Head
from sentilite.core.preprocess import normalize
from sentilite.core.vocabulary import normalize_rows

from .records import HeadCheck

if TYPE_CHECKING:
    from sentilite.core.classifier import TFLiteClassifier
    from sentilite.core.keras_classifier import KerasClassifier

    from .calibration import EvalSet

#: mean |Δ| of a regression head (on a 1-9 scale) above which int8 needs repair: a tenth of a point
#: is below what separates two annotators' means; half a point is not
MAE_ALARM = 0.25
#: mean cosine between an embedding head's vectors and Keras's below which int8 needs repair
COSINE_ALARM = 0.98


@dataclass(frozen=True)
class KerasAnswers:
    """The reference: the Keras model's sentiment probabilities and its extra heads' answers,
    each ``(n, width)`` over the evaluation images."""

    probs: np.ndarray
    heads: dict[str, np.ndarray] = field(default_factory=dict)


#: images per eager Keras call while validating: MobileNetV2 at 224 px holds about 0.8 GB of
#: activations at 8 images and 3.1 GB at 32 (measured, convert's 4 GB memory goal: issue 32)
KERAS_BATCH = 8


def keras_answers(clf: KerasClassifier, ev: EvalSet, batch_size: int = KERAS_BATCH) -> KerasAnswers:
    """Every head of the Keras model on the evaluation images, in one pass."""
    readings = []
    for i in range(0, len(ev), batch_size):
        readings += clf.run_heads_batch(normalize(ev.pixels[i : i + batch_size], ev.contract))
    probs = np.stack([r.sentiment for r in readings]).astype(np.float32)
    heads = {h.name: np.stack([r.heads[h.name] for r in readings]) for h in clf.contract.heads}
    return KerasAnswers(probs, heads)


def tflite_answers(clf: TFLiteClassifier, ev: EvalSet) -> KerasAnswers:
    """Every head of a .tflite file on the evaluation images, in one pass (one invoke per image)."""
    readings = [clf.run_heads(clf.encoder.encode_resized(px)[None]) for px in ev.pixels]
    probs = np.stack([r.sentiment for r in readings]).astype(np.float32)
    heads = {h.name: np.stack([r.heads[h.name] for r in readings]) for h in clf.contract.heads}
    return KerasAnswers(probs, heads)


def head_checks(heads: Sequence[Head], reference: KerasAnswers, got: KerasAnswers) -> dict[str, HeadCheck]:
    """Each extra head of ``got`` against the same head of ``reference``."""
    out: dict[str, HeadCheck] = {}
    for h in heads:
        ref, mine = reference.heads[h.name], got.heads[h.name]
        diff = np.abs(ref - mine)
        if h.kind == "embedding":
            cos = np.sum(normalize_rows(ref) * normalize_rows(mine), axis=1)
            out[h.name] = {"kind": h.kind, "mean_cosine": float(cos.mean()), "min_cosine": float(cos.min())}
        elif h.kind == "distribution":
            out[h.name] = {
                "kind": h.kind,
                "top1_agreement": float(np.mean(ref.argmax(1) == mine.argmax(1))),
                "mean_abs_diff": float(diff.mean()),
            }
        else:
            out[h.name] = {
                "kind": h.kind,
                "mae": float(diff.mean()),
                "mae_per_value": {n: float(diff[:, i].mean()) for i, n in enumerate(h.labels)},
            }
    return out


def heads_off(checks: dict[str, HeadCheck], floor: float) -> list[str]:
    """The heads whose agreement with Keras is below the alarm (see the module docstring)."""
    return [
        name
        for name, c in checks.items()
        if (c["kind"] == "distribution" and c["top1_agreement"] < floor)
        or (c["kind"] == "regression" and c["mae"] > MAE_ALARM)
        or (c["kind"] == "embedding" and c["mean_cosine"] < COSINE_ALARM)
    ]
