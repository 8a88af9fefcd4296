"""Running a classifier over a labelled dataset: decode (skipping bad files), predict, score."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from .datasets import Dataset, Sample
from .errors import ImageReadError
from .imageio import load_image
from .metrics import classification_metrics
from .progress import make_progress


@dataclass
class Predictions:
    """Per-sample probabilities for the images that could be read, and the ones that could not."""

    probs: np.ndarray
    y_true: np.ndarray
    paths: list[Path]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def metrics(self, labels: tuple[str, ...]) -> dict[str, Any]:
        out = classification_metrics(self.y_true, self.probs, labels)
        out["skipped"] = [{"path": p, "reason": r} for p, r in self.skipped]
        out["n_skipped"] = len(self.skipped)
        return out


def _load(sample: Sample) -> tuple[Sample, Optional[np.ndarray], str]:
    try:
        return sample, load_image(sample.path), ""
    except ImageReadError as exc:
        return sample, None, exc.problem


def iter_decoded(
    dataset: Dataset, workers: int = 2, chunk: int = 64
) -> Iterator[tuple[Sample, Optional[np.ndarray], str]]:
    """Decode images in a small thread pool (PIL releases the GIL), in order, a chunk at a time."""
    samples = dataset.samples
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, len(samples), chunk):
            yield from pool.map(_load, samples[start : start + chunk])


def predict_dataset(
    classifier: Any, dataset: Dataset, description: str = "evaluating", batch_size: int = 32
) -> Predictions:
    """Class probabilities of ``classifier`` for every readable image of ``dataset``.

    Unreadable images (missing, truncated, not an image) are skipped and listed, never fatal.
    """
    t0 = time.perf_counter()
    probs, ys, paths, skipped = [], [], [], []
    batch_imgs: list[np.ndarray] = []
    batch_samples: list[Sample] = []

    def flush() -> None:
        if batch_imgs:
            probs.append(classifier.predict_many(batch_imgs))
            ys.extend(s.label for s in batch_samples)
            paths.extend(s.path for s in batch_samples)
            batch_imgs.clear()
            batch_samples.clear()

    with make_progress() as progress:
        task = progress.add_task(description, total=len(dataset))
        for sample, image, reason in iter_decoded(dataset):
            if image is None:
                skipped.append((str(sample.path), reason))
            else:
                batch_imgs.append(image)
                batch_samples.append(sample)
                if len(batch_imgs) >= batch_size:
                    flush()
            progress.advance(task)
        flush()
    n_classes = len(dataset.labels)
    return Predictions(
        probs=np.concatenate(probs) if probs else np.zeros((0, n_classes), np.float32),
        y_true=np.asarray(ys, dtype=np.int64),
        paths=paths,
        skipped=skipped,
        seconds=time.perf_counter() - t0,
    )
