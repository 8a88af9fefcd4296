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
probabilities (or one zero), the C-wide class mask, then the extra heads' target columns
(``train.head_losses``; none for a sentiment-only model).
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

_EPS = 1e-12
_MASKED = -1e4  # a logit whose softmax is 0 in float32 and whose product with a 0 target is 0, not NaN


def pack_targets(teacher: Optional[np.ndarray], masks: np.ndarray, heads: Optional[np.ndarray] = None) -> np.ndarray:
    """(n, Ct + C + H) rows: teacher probabilities (Ct = C) or a zero column (Ct = 1), the class
    masks, then the extra heads' columns (H = 0 without them)."""
    masks = np.asarray(masks, np.float32)
    head = np.zeros((len(masks), 1), np.float32) if teacher is None else np.asarray(teacher, np.float32)
    tail = np.zeros((len(masks), 0), np.float32) if heads is None else np.asarray(heads, np.float32)
    return np.concatenate([head, masks, tail], axis=1)


def unpack_targets(t: tf.Tensor, num_classes: int, teacher_width: int = 1) -> tuple[Any, Any, Any]:
    """(teacher part, class masks, the heads' columns) of a batch of :func:`pack_targets` rows
    (``teacher_width``: C with a teacher, else 1)."""
    end = teacher_width + num_classes
    return t[:, :teacher_width], t[:, teacher_width:end], t[:, end:]


def hard_loss(tf: ModuleType, y: tf.Tensor, logits: tf.Tensor, mask: tf.Tensor = None, smoothing: float = 0.0) -> Any:
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
    tf: ModuleType,
    y: tf.Tensor,
    logits: tf.Tensor,
    soft_targets: tf.Tensor,
    temperature: float,
    alpha: float,
    mask: tf.Tensor = None,
    smoothing: float = 0.0,
) -> Any:
    """Per-sample distillation loss (see the module docstring); ``soft_targets`` = p_T."""
    t = tf.constant(float(temperature), tf.float32)
    ce = hard_loss(tf, y, logits, mask, smoothing)
    log_q = tf.nn.log_softmax(logits / t, axis=-1)
    p = soft_targets
    kl = tf.reduce_sum(p * (tf.math.log(tf.maximum(p, _EPS)) - log_q), axis=-1)
    return float(alpha) * ce + (1.0 - float(alpha)) * t * t * kl
