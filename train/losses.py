"""Per-sample losses of the training step.

Hard labels: cross-entropy over the classes the sample's annotation could choose from. A tweet
labelled only negative or positive says which of the two it is, not that neutral is impossible, so
its loss is the marginal one, ``-log(p_y / (p_neg + p_pos))``: the neutral logit gets no gradient
from it (a "masked" softmax). A fully labelled sample has every class allowed: plain cross-entropy.
Label smoothing spreads ``epsilon`` evenly over the allowed classes only.

Distillation (Hinton et al. 2015, as in the distillation study, T = 4 by default)::

    loss = alpha * CE(y, softmax(z_s)) + (1 - alpha) * T**2 * KL(p_T || softmax(z_s / T))

The T² factor keeps the soft term's gradients on the same scale as the hard term's when T changes.

What the loop feeds the step as ``t`` is :func:`pack_targets`' row per sample: the teacher's
probabilities (or one zero) followed by the C-wide class mask.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

_EPS = 1e-12
_MASKED = -1e4  # a logit whose softmax is 0 in float32 and whose product with a 0 target is 0, not NaN


def pack_targets(teacher: Optional[np.ndarray], masks: np.ndarray) -> np.ndarray:
    """(n, Ct + C) rows: teacher probabilities (Ct = C) or a zero column (Ct = 1), then the class masks."""
    masks = np.asarray(masks, np.float32)
    head = np.zeros((len(masks), 1), np.float32) if teacher is None else np.asarray(teacher, np.float32)
    return np.concatenate([head, masks], axis=1)


def unpack_targets(t: Any, num_classes: int) -> tuple[Any, Any]:
    """(teacher part, class masks) of a batch of :func:`pack_targets` rows."""
    return t[:, :-num_classes], t[:, -num_classes:]


def hard_loss(tf: Any, y: Any, logits: Any, mask: Any = None, smoothing: float = 0.0) -> Any:
    """Cross-entropy of label ``y`` among the classes ``mask`` allows (all when None), label-smoothed."""
    y = tf.cast(y, tf.int32)
    if mask is None and not smoothing:
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    n_cls = tf.shape(logits)[-1]
    if mask is None:
        mask = tf.ones_like(logits)
    mask = tf.cast(mask, logits.dtype)
    log_p = tf.nn.log_softmax(tf.where(mask > 0, logits, tf.cast(_MASKED, logits.dtype)), axis=-1)
    onehot = tf.one_hot(y, n_cls, dtype=logits.dtype)
    eps = tf.cast(float(smoothing), logits.dtype)
    target = (1.0 - eps) * onehot + eps * mask / tf.reduce_sum(mask, axis=-1, keepdims=True)
    return -tf.reduce_sum(target * log_p, axis=-1)


def distillation_loss(
    tf: Any,
    y: Any,
    logits: Any,
    soft_targets: Any,
    temperature: float,
    alpha: float,
    mask: Any = None,
    smoothing: float = 0.0,
) -> Any:
    """Per-sample distillation loss (see the module docstring); ``soft_targets`` = p_T."""
    t = tf.constant(float(temperature), tf.float32)
    ce = hard_loss(tf, y, logits, mask, smoothing)
    log_q = tf.nn.log_softmax(logits / t, axis=-1)
    p = soft_targets
    kl = tf.reduce_sum(p * (tf.math.log(tf.maximum(p, _EPS)) - log_q), axis=-1)
    return float(alpha) * ce + (1.0 - float(alpha)) * t * t * kl
