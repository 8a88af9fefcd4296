"""The losses of the extra heads (issue 30), and the target columns that carry their labels.

A sample teaches only the heads it has labels for: an Emotion6 photo teaches the seven emotions and
valence/arousal, an OASIS photo valence/arousal only, a tweet neither (its "present" column is 0,
so the head's loss for it is 0, as ``--partial-data`` masks classes for the sentiment head).

- ``distribution`` heads learn the annotators' shares (label-distribution learning): the loss is
  ``KL(p || softmax(z)) = sum p (log p - log_softmax(z))``, not a cross-entropy to a one-hot label.
- ``regression`` heads learn values on their scale through ``sigmoid(z)``, the value moved onto
  0..1: the loss is the mean squared error there, weighted by :data:`REGRESSION_WEIGHT` so that its
  gradients are on the scale of the classification losses (a squared error on 0..1 is ~0.02 where
  a cross-entropy is ~1).

- ``embedding`` heads (issue 31's semantic head) learn DeViSE's hinge rank loss (Frome et al.
  2013): the photo's unit embedding ``v`` must be closer to its concept's word vector ``t`` than to
  every other concept in the batch by a margin, ``mean_j max(0, MARGIN - t.v + t_j.v)`` (in-batch
  negatives: the other labelled photos of the batch whose concept differs).

The columns of one head in a target row are its values (shares, values on its scale, or the
concept's word vector), then a "present" flag; :func:`head_columns` writes them, :func:`head_loss`
reads them.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Callable, Optional, Sequence

import numpy as np

from sentilite.core.affect import EMOTIONS, AffectLabel
from sentilite.core.heads import Head

if TYPE_CHECKING:
    import tensorflow as tf

#: weight of a regression head's squared error on 0..1 (see the module docstring)
REGRESSION_WEIGHT = 10.0
#: DeViSE's margin between the true concept's cosine and another's
MARGIN = 0.1
_EPS = 1e-12


def tail_width(heads: Sequence[Head]) -> int:
    """Target columns the heads take: each head's width plus its "present" flag."""
    return sum(h.width + 1 for h in heads)


def _values(
    head: Head, label: Optional[AffectLabel], concept_vector: Optional[Callable[[str], np.ndarray]] = None
) -> Optional[Sequence[float]]:
    if label is None:
        return None
    if head.kind == "embedding":
        return concept_vector(label.concept) if (concept_vector and label.concept) else None
    if head.kind == "distribution":
        return label.emotions if head.labels == EMOTIONS else None
    values = [getattr(label, n, None) for n in head.labels]
    return None if any(v is None for v in values) else values


def head_columns(
    heads: Sequence[Head],
    labels: Sequence[Optional[AffectLabel]],
    concept_vector: Optional[Callable[[str], np.ndarray]] = None,
) -> np.ndarray:
    """(n, tail_width) target columns for ``labels`` (None where a sample has no affect label);
    ``concept_vector`` gives an embedding head the word vector of a concept."""
    out = np.zeros((len(labels), tail_width(heads)), np.float32)
    col = 0
    for h in heads:
        for i, label in enumerate(labels):
            values = _values(h, label, concept_vector)
            if values is not None:
                out[i, col : col + h.width] = values
                out[i, col + h.width] = 1.0
        col += h.width + 1
    return out


def head_counts(heads: Sequence[Head], columns: np.ndarray) -> dict[str, int]:
    """How many samples teach each head."""
    counts, col = {}, 0
    for h in heads:
        counts[h.name] = int(columns[:, col + h.width].sum()) if len(columns) else 0
        col += h.width + 1
    return counts


def head_loss(tf: ModuleType, heads: Sequence[Head], z: tf.Tensor, tail: tf.Tensor) -> tf.Tensor:
    """Per-sample sum of the heads' losses; ``z`` is the heads' part of the head output (their
    logits side by side), ``tail`` their target columns."""
    return tf.add_n([loss for loss, _ in each_head_loss(tf, heads, z, tail)])


def each_head_loss(
    tf: ModuleType, heads: Sequence[Head], z: tf.Tensor, tail: tf.Tensor
) -> list[tuple[tf.Tensor, tf.Tensor]]:
    """(per-sample loss, "present" flag) of each head, in order (0 where a sample teaches it nothing)."""
    out = []
    zc = tc = 0
    for h in heads:
        zh, target, present = z[:, zc : zc + h.width], tail[:, tc : tc + h.width], tail[:, tc + h.width]
        if h.kind == "embedding":
            loss = _devise(tf, zh, target, present)
        elif h.kind == "distribution":
            log_q = tf.nn.log_softmax(zh, axis=-1)
            loss = tf.reduce_sum(target * (tf.math.log(tf.maximum(target, _EPS)) - log_q), axis=-1)
        else:
            lo, hi = h.scale or (0.0, 1.0)
            unit = (target - lo) / (hi - lo)
            loss = REGRESSION_WEIGHT * tf.reduce_mean(tf.square(tf.sigmoid(zh) - unit), axis=-1)
        out.append((present * loss, present))
        zc, tc = zc + h.width, tc + h.width + 1
    return out


def _devise(tf: ModuleType, z: tf.Tensor, target: tf.Tensor, present: tf.Tensor) -> tf.Tensor:
    """Per-sample hinge rank loss against the batch's other concepts (see the module docstring)."""
    v = tf.math.l2_normalize(z, axis=-1)
    scores = tf.matmul(v, target, transpose_b=True)  # (b, b): photo i against concept j
    positive = tf.linalg.diag_part(scores)
    same = tf.matmul(target, target, transpose_b=True) > 0.999  # the same concept is no negative
    negative = tf.cast(~same, z.dtype) * present[None, :] * present[:, None]
    hinge = tf.nn.relu(MARGIN - positive[:, None] + scores) * negative
    return tf.reduce_sum(hinge, axis=-1) / tf.maximum(tf.reduce_sum(negative, axis=-1), 1.0)
