"""The labelled lists of a training run: split files read and concatenated, partial-label lists
marked as such, labels checked, per-class loss weights."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from sentilite.core.datasets import Dataset, read_dataset
from sentilite.core.errors import DatasetFormatError


def read_split(spec: str, root: Optional[str], labels: Sequence[str]) -> Dataset:
    """A split file, CSV or folder tree (``sentilite.core.datasets.read_dataset``)."""
    return read_dataset(spec, root, labels)


def read_training_data(
    specs: Sequence[str], root: Optional[str], labels: Sequence[str], partial: Sequence[str] = ()
) -> Dataset:
    """Training lists concatenated in the order given (e.g. Emotion6 + OASIS), then the ``partial``
    ones, each marked as choosing only among the classes it uses (``Dataset.as_partial``)."""
    datasets = [read_split(s, root, labels) for s in specs] + [
        read_split(s, root, labels).as_partial() for s in partial
    ]
    out = datasets[0]
    for d in datasets[1:]:
        out = out.concat(d)
    out.meta["sources"] = [d.source for d in datasets]
    return out


def class_weight_vector(y: np.ndarray, num_classes: int, mode: str) -> np.ndarray:
    """Per-class loss weights. ``balanced``: n / (k * count) over the k classes present (absent: 0)."""
    if mode == "none":
        return np.ones(num_classes, np.float32)
    counts = np.bincount(np.asarray(y, np.int64), minlength=num_classes).astype(np.float64)
    present = counts > 0
    w = np.zeros(num_classes, np.float64)
    w[present] = counts.sum() / (present.sum() * counts[present])
    return w.astype(np.float32)


def require_labels_in_range(dataset: Dataset, num_classes: int) -> None:
    bad = [s for s in dataset.samples if not 0 <= s.label < num_classes]
    if bad:
        raise DatasetFormatError(f"{dataset.source}: label {bad[0].label} is outside 0..{num_classes - 1}.")
