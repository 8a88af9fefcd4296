"""Labelled image lists: B-T4SA split files, class-per-folder trees and CSV files.

Readers hold paths and labels only (the real B-T4SA is 470k images / 63 GB): images are
decoded later, one at a time, by whoever consumes the list. Malformed lines and unknown
labels are collected and reported together, naming the first few offending lines.
"""

from __future__ import annotations

import csv
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence, Union

import numpy as np

from .errors import DatasetFormatError, InputFileError
from .imageio import is_image_file
from .labels import SENTIMENT_LABELS

PathLike = Union[str, os.PathLike]
_MAX_REPORTED = 5


@dataclass(frozen=True)
class Sample:
    """One labelled image. ``classes``: the label indices its annotators chose from, when that is
    fewer than all (a negative/positive-only tweet set); ``None`` = every label of the dataset."""

    path: Path
    label: int
    classes: Optional[tuple[int, ...]] = None


@dataclass
class Dataset:
    """An ordered list of labelled image paths and where it came from."""

    samples: list[Sample]
    labels: tuple[str, ...] = SENTIMENT_LABELS
    source: str = ""
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    @property
    def paths(self) -> list[Path]:
        return [s.path for s in self.samples]

    @property
    def y(self) -> list[int]:
        return [s.label for s in self.samples]

    def class_counts(self) -> dict[str, int]:
        counts = Counter(s.label for s in self.samples)
        return {name: counts.get(i, 0) for i, name in enumerate(self.labels)}

    def subset(self, indices: Iterable[int], source: Optional[str] = None) -> Dataset:
        return Dataset([self.samples[i] for i in indices], self.labels, source or self.source, dict(self.meta))

    def balanced_sample(self, n: int, seed: int = 0) -> Dataset:
        """Up to ``n`` samples, drawn round-robin across classes so each class is represented."""
        rng = random.Random(seed)
        by_class: dict[int, list[int]] = {}
        for i, s in enumerate(self.samples):
            by_class.setdefault(s.label, []).append(i)
        for idx in by_class.values():
            rng.shuffle(idx)
        chosen: list[int] = []
        queues = [by_class[k] for k in sorted(by_class)]
        while len(chosen) < n and any(queues):
            for q in queues:
                if q and len(chosen) < n:
                    chosen.append(q.pop())
        return self.subset(sorted(chosen), f"{self.source} (balanced sample of {len(chosen)})")

    def concat(self, other: Dataset) -> Dataset:
        if other.labels != self.labels:
            raise DatasetFormatError(f"Cannot mix datasets with labels {self.labels} and {other.labels}.")
        return Dataset(self.samples + other.samples, self.labels, f"{self.source} + {other.source}")

    def as_partial(self) -> Dataset:
        """The same images, marked as labelled by choosing among the classes this list uses only
        (e.g. a tweet set of negative and positive: its images say nothing about neutral)."""
        classes = tuple(sorted({s.label for s in self.samples}))
        if len(classes) < 2:
            raise DatasetFormatError(
                f"{self.source}: a partially labelled list must use at least two classes, it uses {len(classes)}.",
                "pass it with --data (all classes) instead",
            )
        return Dataset(
            [Sample(s.path, s.label, classes) for s in self.samples], self.labels, self.source, dict(self.meta)
        )

    def label_masks(self) -> np.ndarray:
        """(n, C) float32: 1 where a sample's annotation could have chosen the class (all ones unless partial)."""
        out = np.ones((len(self.samples), len(self.labels)), np.float32)
        for i, s in enumerate(self.samples):
            if s.classes is not None:
                out[i] = 0.0
                out[i, list(s.classes)] = 1.0
        return out


def _parse_label(token: str, labels: Sequence[str]) -> Optional[int]:
    token = token.strip()
    if token.lstrip("-").isdigit():
        value = int(token)
        return value if 0 <= value < len(labels) else None
    lowered = [name.lower() for name in labels]
    return lowered.index(token.lower()) if token.lower() in lowered else None


def _raise_bad(source: PathLike, bad: list[str], total_bad: int, labels: Sequence[str]) -> None:
    more = f" (and {total_bad - len(bad)} more)" if total_bad > len(bad) else ""
    raise DatasetFormatError(
        f"{source}: {total_bad} malformed line(s){more}: " + "; ".join(bad) + ".",
        f"each line must be '<relative image path> <label>' with label 0..{len(labels) - 1} "
        f"({', '.join(f'{i} = {n}' for i, n in enumerate(labels))})",
    )


def _parse_split_line(text: str, labels: Sequence[str]) -> tuple[Optional[tuple[str, int]], str]:
    parts = text.rsplit(None, 1)  # split on the last blank: paths may contain spaces
    if len(parts) < 2:
        return None, "no label"
    label = _parse_label(parts[1], labels)
    if label is None:
        return None, f"unknown label {parts[1]!r}"
    return (parts[0], label), ""


def _split_lines(p: Path) -> Iterator[tuple[int, str]]:
    with open(p, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            text = line.strip()
            if text and not text.startswith("#"):
                yield lineno, text


def iter_split_file(
    path: PathLike, root: Optional[PathLike] = None, labels: Sequence[str] = SENTIMENT_LABELS
) -> Iterator[Sample]:
    """Stream samples from a B-T4SA split file (``<path> <label>`` per line).

    Paths are relative to ``root``, else to the split file's folder. Blank lines and lines
    starting with ``#`` are ignored. The file is checked in a first pass (cheap: text only), so
    a malformed line raises :class:`DatasetFormatError`, naming the first few, before any
    sample is yielded.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"Split file not found: {p}.", "check the path")
    base = Path(root) if root is not None else p.parent
    bad: list[str] = []
    total_bad = 0
    for lineno, text in _split_lines(p):
        parsed, why = _parse_split_line(text, labels)
        if parsed is None:
            total_bad += 1
            if len(bad) < _MAX_REPORTED:
                bad.append(f"line {lineno} {text[:80]!r} ({why})")
    if total_bad:
        _raise_bad(p, bad, total_bad, labels)
    for _, text in _split_lines(p):
        rel, label = _parse_split_line(text, labels)[0]  # type: ignore[misc]
        yield Sample(base / rel, label)


def split_file_text(samples: Iterable[Sample]) -> str:
    """``samples`` in the B-T4SA line format with absolute image paths, so the file reads the same
    from any folder (``read_split_file`` reads it back)."""
    return "".join(f"{Path(s.path).resolve()} {s.label}\n" for s in samples)


def stratified_split(samples: Sequence[Sample], fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """(train, val): a seeded ``fraction`` of each class goes to val, the rest to train, order kept."""
    rng = np.random.default_rng(seed)
    val_idx: set[int] = set()
    for label in sorted({s.label for s in samples}):
        members = [i for i, s in enumerate(samples) if s.label == label]
        val_idx.update(rng.permutation(members)[: round(fraction * len(members))].tolist())
    return ([s for i, s in enumerate(samples) if i not in val_idx], [s for i, s in enumerate(samples) if i in val_idx])


def read_split_file(
    path: PathLike, root: Optional[PathLike] = None, labels: Sequence[str] = SENTIMENT_LABELS
) -> Dataset:
    samples = list(iter_split_file(path, root, labels))
    if not samples:
        raise DatasetFormatError(f"{path} lists no images.", "check that it is the right split file")
    return Dataset(samples, tuple(labels), str(path))


def read_csv(path: PathLike, root: Optional[PathLike] = None, labels: Sequence[str] = SENTIMENT_LABELS) -> Dataset:
    """Read ``path,label`` rows (a header row naming the columns is optional)."""
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"CSV file not found: {p}.", "check the path")
    base = Path(root) if root is not None else p.parent
    samples, bad, total_bad = [], [], 0
    with open(p, newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh)
        path_col, label_col = 0, 1
        for lineno, row in enumerate(reader, 1):
            if not row or not "".join(row).strip() or row[0].startswith("#"):
                continue
            if lineno == 1 and {"path", "label"} <= {c.strip().lower() for c in row}:
                cols = [c.strip().lower() for c in row]
                path_col, label_col = cols.index("path"), cols.index("label")
                continue
            label = _parse_label(row[label_col], labels) if len(row) > max(path_col, label_col) else None
            if label is None:
                total_bad += 1
                if len(bad) < _MAX_REPORTED:
                    bad.append(f"line {lineno} {','.join(row)[:80]!r}")
                continue
            samples.append(Sample(base / row[path_col].strip(), label))
    if total_bad:
        _raise_bad(p, bad, total_bad, labels)
    if not samples:
        raise DatasetFormatError(f"{p} lists no images.", "check that it is the right CSV file")
    return Dataset(samples, tuple(labels), str(p))


def read_folder_tree(root: PathLike, labels: Sequence[str] = SENTIMENT_LABELS) -> Dataset:
    """Read ``root/<label>/*.jpg`` where ``<label>`` is a label name or its index."""
    r = Path(root)
    if not r.is_dir():
        raise InputFileError(f"Folder not found: {r}.", "check the path")
    samples: list[Sample] = []
    unknown = []
    for sub in sorted(d for d in r.iterdir() if d.is_dir() and not d.name.startswith(".")):
        label = _parse_label(sub.name, labels)
        if label is None:
            unknown.append(sub.name)
            continue
        samples.extend(Sample(f, label) for f in sorted(sub.rglob("*")) if f.is_file() and is_image_file(f))
    if unknown:
        raise DatasetFormatError(
            f"{r}: sub-folder(s) {', '.join(repr(u) for u in unknown[:_MAX_REPORTED])} are not labels.",
            f"name class folders after the labels ({', '.join(labels)}) or their indices",
        )
    if not samples:
        raise DatasetFormatError(
            f"{r} holds no labelled images.", f"put images in sub-folders named {', '.join(labels)}"
        )
    return Dataset(samples, tuple(labels), str(r))


def read_dataset(spec: PathLike, root: Optional[PathLike] = None, labels: Sequence[str] = SENTIMENT_LABELS) -> Dataset:
    """Read a folder tree, a ``.csv`` file, or a split file, judged from ``spec``."""
    p = Path(spec)
    if p.is_dir():
        return read_folder_tree(p, labels)
    if p.suffix.lower() == ".csv":
        return read_csv(p, root, labels)
    return read_split_file(p, root, labels)


def list_images(folder: PathLike) -> list[Path]:
    """All image files under ``folder`` (recursively), sorted; for unlabelled inputs."""
    f = Path(folder)
    if not f.is_dir():
        raise InputFileError(f"Image folder not found: {f}.", "check the path")
    images = sorted(p for p in f.rglob("*") if p.is_file() and is_image_file(p))
    if not images:
        raise InputFileError(
            f"{f} contains no images ({', '.join(('.jpg', '.png', '...'))}).", "point at a folder of photos"
        )
    return images
