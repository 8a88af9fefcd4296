"""Knowledge distillation: the teacher's softened probabilities ``p_T = softmax(z_t / T)``
(the loss is in :mod:`train.losses`). The teacher may be any model sentilite can run (.keras or
.tflite) with the same labels, or an ensemble of them (their mean probability is the target);
its targets are computed once, on the un-augmented images through the teacher's own contract,
and stored in the run folder (``teacher_targets.npy``), so the teacher does not run every epoch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from sentilite.core.datasets import Dataset
from sentilite.core.errors import ContractError


def soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(z / T) from probabilities softmax(z): log p = z - const, so softmax(log p / T)."""
    logp = np.log(np.clip(np.asarray(probs, np.float64), 1e-30, None)) / float(temperature)
    logp -= logp.max(axis=1, keepdims=True)
    e = np.exp(logp)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def teacher_probabilities(
    teacher: str | Path, dataset: Dataset, labels: Sequence[str], log: Optional[Callable[[str], None]] = None
) -> np.ndarray:
    """One teacher's probabilities ``(len(dataset), C)`` (rows of unreadable images are uniform)."""
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
    preds = predict_dataset(clf, dataset, description=f"teacher targets ({Path(teacher).parent.name or teacher})")
    by_path = {str(p): row for p, row in zip(preds.paths, preds.probs)}
    out = np.full((len(dataset), len(labels)), 1.0 / len(labels), np.float32)
    for i, s in enumerate(dataset.samples):
        row = by_path.get(str(s.path))
        if row is not None:
            out[i] = row
    if log:
        acc = float((preds.probs.argmax(1) == preds.y_true).mean()) if len(preds.y_true) else float("nan")
        log(f"teacher accuracy on the training images: {acc:.3f}")
    return out


def teacher_targets(
    teachers: str | Path | Sequence[str | Path],
    dataset: Dataset,
    labels: Sequence[str],
    temperature: float,
    log: Optional[Callable[[str], None]] = None,
) -> np.ndarray:
    """Softened probabilities of one teacher, or of an ensemble (the mean of its members'
    probabilities, softened once), ``(len(dataset), C)``."""
    members = [teachers] if isinstance(teachers, (str, Path)) else list(teachers)
    probs = np.mean([teacher_probabilities(t, dataset, labels, log) for t in members], axis=0)
    if log and len(members) > 1:
        y = np.asarray(dataset.y)
        log(
            f"ensemble of {len(members)} teachers: accuracy on the training images "
            f"{float((probs.argmax(1) == y).mean()):.3f}"
        )
    return soften(probs, temperature)
