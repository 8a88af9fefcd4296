"""Knowledge distillation: a student trained on hard labels and a teacher's softened probabilities.

Per sample (Hinton et al. 2015, as in the distillation study, T = 4 by default)::

    loss = alpha * CE(y, softmax(z_s)) + (1 - alpha) * T**2 * KL(p_T || softmax(z_s / T))
    p_T  = softmax(z_t / T)

The T² factor keeps the soft term's gradients on the same scale as the hard term's when T
changes. The teacher may be any model sentilite can run (.keras or .tflite) with the same labels;
its targets are computed once, on the un-augmented images through the teacher's own contract,
and stored in the run folder (``teacher_targets.npy``), so the teacher does not run every epoch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from sentilite.core.datasets import Dataset
from sentilite.core.errors import ContractError

_EPS = 1e-12


def soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(z / T) from probabilities softmax(z): log p = z - const, so softmax(log p / T)."""
    logp = np.log(np.clip(np.asarray(probs, np.float64), 1e-30, None)) / float(temperature)
    logp -= logp.max(axis=1, keepdims=True)
    e = np.exp(logp)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def distillation_loss(tf: Any, y: Any, logits: Any, soft_targets: Any, temperature: float, alpha: float) -> Any:
    """Per-sample distillation loss (see the module docstring); ``soft_targets`` = p_T."""
    t = tf.constant(float(temperature), tf.float32)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(y, tf.int32), logits=logits)
    log_q = tf.nn.log_softmax(logits / t, axis=-1)
    p = soft_targets
    kl = tf.reduce_sum(p * (tf.math.log(tf.maximum(p, _EPS)) - log_q), axis=-1)
    return float(alpha) * ce + (1.0 - float(alpha)) * t * t * kl


def hard_loss(tf: Any, y: Any, logits: Any) -> Any:
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(y, tf.int32), logits=logits)


def teacher_targets(
    teacher: str | Path,
    dataset: Dataset,
    labels: Sequence[str],
    temperature: float,
    log: Optional[Callable[[str], None]] = None,
) -> np.ndarray:
    """Softened teacher probabilities ``(len(dataset), C)`` (rows of unreadable images are uniform)."""
    from sentilite.core.classifier import load_classifier
    from sentilite.core.evaluation import predict_dataset

    clf = load_classifier(teacher, num_threads=None)
    if tuple(clf.contract.labels) != tuple(labels):
        raise ContractError(
            f"The teacher {teacher} predicts {list(clf.contract.labels)}, the student {list(labels)}.",
            "use a teacher trained on the same labels",
        )
    if log:
        log(f"teacher {teacher}: {clf.contract.describe()} ({clf.runtime.describe()})")
    preds = predict_dataset(clf, dataset, description="teacher targets")
    by_path = {str(p): row for p, row in zip(preds.paths, preds.probs)}
    out = np.full((len(dataset), len(labels)), 1.0 / len(labels), np.float32)
    for i, s in enumerate(dataset.samples):
        row = by_path.get(str(s.path))
        if row is not None:
            out[i] = row
    if log:
        acc = float((preds.probs.argmax(1) == preds.y_true).mean()) if len(preds.y_true) else float("nan")
        log(f"teacher accuracy on the training images: {acc:.3f}")
    return soften(out, temperature)
