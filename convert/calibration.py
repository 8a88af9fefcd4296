"""The representative set for full-integer quantisation: real images, class-balanced, prepared
exactly as every runtime prepares them (:func:`sentilite.core.preprocess.prepare`).

Images are decoded and cropped/resized once and kept as uint8 (150 kB each at 224x224); the
float normalisation, the second half of ``prepare``, is applied as the converter asks for each
sample. The order is round-robin over the classes (shuffled with ``seed`` inside each class), so
every prefix is itself balanced: the calibration-size sweep uses prefixes of one set.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np

from sentilite.core.contract import PreprocessContract
from sentilite.core.datasets import Dataset, read_dataset
from sentilite.core.errors import InputFileError, SentiliteError
from sentilite.core.evaluation import iter_decoded
from sentilite.core.preprocess import normalize, resize_to_contract

from .pixel_in import pin_pixel_range

PathLike = Union[str, os.PathLike]

DEFAULT_CALIB_SIZE = 200
#: Below this many images the activation ranges are a guess; the report says so.
SMALL_CALIB = 50


class CalibrationError(InputFileError):
    """The calibration set is missing, empty or unreadable."""


def load_dataset(spec: PathLike, root: Optional[PathLike], contract: PreprocessContract, role: str) -> Dataset:
    """Read a split file / CSV / folder tree with the contract's labels; errors name the role."""
    try:
        return read_dataset(spec, root, contract.labels)
    except SentiliteError as exc:
        raise type(exc)(f"{role} set: {exc.problem}", exc.fix) from None


def balanced_order(dataset: Dataset, seed: int = 0, balanced: bool = True) -> list[int]:
    """All sample indices, round-robin across classes (each class shuffled with ``seed``).

    With ``balanced=False``: one plain shuffle (class frequencies as in the split).
    """
    rng = random.Random(seed)
    if not balanced:
        order = list(range(len(dataset)))
        rng.shuffle(order)
        return order
    by_class: dict[int, list[int]] = {}
    for i, s in enumerate(dataset.samples):
        by_class.setdefault(s.label, []).append(i)
    queues = []
    for label in sorted(by_class):
        idx = by_class[label]
        rng.shuffle(idx)
        queues.append(idx)
    order: list[int] = []
    depth = 0
    while len(order) < len(dataset):
        order.extend(q[depth] for q in queues if depth < len(q))
        depth += 1
    return order


@dataclass
class CalibrationSet:
    """Prepared calibration images (uint8, cropped/resized to the contract) in balanced order."""

    pixels: np.ndarray  # (N, H, W, 3) uint8, contract colour order
    labels: np.ndarray  # (N,) int
    paths: list[str]
    contract: PreprocessContract
    source: str
    seed: int = 0
    balanced: bool = True
    skipped: list[tuple[str, str]] = field(default_factory=list)
    available: int = 0  # images listed in the split
    root: Optional[str] = None  # the folder relative paths in ``source`` were read against

    def extended(self, size: int) -> CalibrationSet:
        """This set, or the same split re-read for up to ``size`` images (same order, seed, contract)."""
        if size <= len(self) or len(self) >= self.available - len(self.skipped):
            return self
        return build_calibration_set(
            self.source, self.contract, size, root=self.root, seed=self.seed, balanced=self.balanced
        )

    def __len__(self) -> int:
        return len(self.pixels)

    def inputs(self, n: Optional[int] = None) -> np.ndarray:
        """The first ``n`` (default all) model inputs, float32 ``(n, H, W, 3)`` as ``prepare`` gives."""
        return normalize(self.pixels[: n or len(self)], self.contract)

    def representative(self, n: Optional[int] = None):
        """A ``representative_dataset`` callable for the TFLite converter (one image per step)."""
        count = min(n or len(self), len(self))

        def gen() -> Iterator[list[np.ndarray]]:
            for i in range(count):
                x = normalize(self.pixels[i : i + 1], self.contract)
                yield [pin_pixel_range(x) if (i == 0 and self.contract.pixel_in) else x]

        return gen

    def class_counts(self, n: Optional[int] = None) -> dict[str, int]:
        counts = np.bincount(self.labels[: n or len(self)], minlength=self.contract.num_classes)
        return {name: int(counts[i]) for i, name in enumerate(self.contract.labels)}

    def facts(self, n: Optional[int] = None) -> dict[str, Any]:
        """What goes into the report and the .tflite's conversion metadata."""
        count = min(n or len(self), len(self))
        return {
            "source": self.source,
            "images": count,
            "per_class": self.class_counts(count),
            "balanced": self.balanced,
            "seed": self.seed,
            "listed": self.available,
            "unreadable": len(self.skipped),
        }


def build_calibration_set(
    spec: PathLike,
    contract: PreprocessContract,
    size: int = DEFAULT_CALIB_SIZE,
    root: Optional[PathLike] = None,
    seed: int = 0,
    balanced: bool = True,
    workers: int = 2,
) -> CalibrationSet:
    """Decode up to ``size`` readable images of ``spec`` (class-balanced), or raise a clear error.

    Unreadable images are skipped (and counted) and replaced by the next ones in the balanced
    order; a set where none can be read, or that lists none, is a :class:`CalibrationError`.
    """
    if size < 1:
        raise CalibrationError(
            f"Calibration size must be at least 1, got {size}.", "pass --calib-size 200 (the default)"
        )
    dataset = load_dataset(spec, root, contract, "calibration")
    order = balanced_order(dataset, seed, balanced)
    pixels, labels, paths, skipped = [], [], [], []
    pos = 0
    while len(pixels) < size and pos < len(order):
        need = size - len(pixels)
        chunk = dataset.subset(order[pos : pos + need + 8])
        pos += len(chunk)
        for sample, image, reason in iter_decoded(chunk, workers=workers):
            if image is None:
                skipped.append((str(sample.path), reason))
            elif len(pixels) < size:
                pixels.append(resize_to_contract(image, contract))
                labels.append(sample.label)
                paths.append(str(sample.path))
    if not pixels:
        first = skipped[0] if skipped else ("", "no images")
        raise CalibrationError(
            f"Calibration set {spec}: none of its {len(dataset)} image(s) could be read "
            f"(first: {first[0]}: {first[1]}).",
            "check the paths in the split file, or pass --root DIR when they are relative to another folder",
        )
    return CalibrationSet(
        pixels=np.stack(pixels),
        labels=np.asarray(labels, dtype=np.int64),
        paths=paths,
        contract=contract,
        source=str(spec),
        seed=seed,
        balanced=balanced,
        skipped=skipped,
        available=len(dataset),
        root=str(root) if root is not None else None,
    )


def take(calib: CalibrationSet, sizes: Sequence[int]) -> list[int]:
    """The sweep sizes that the set can serve (larger ones are capped at what was read)."""
    return sorted({min(int(s), len(calib)) for s in sizes if int(s) > 0})
