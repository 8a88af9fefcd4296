"""Affect labels beyond the three sentiment classes: the seven-emotion distribution of Emotion6 and
valence/arousal ratings, read from the files ``../shared`` documents, on one scale.

- Emotion6 (``ground_truth.txt``): for each photo the share of annotators who felt each of
  :data:`EMOTIONS`, and mean valence and arousal on a 1-9 scale.
- OASIS (``valence.csv``): mean valence and arousal on a 1-7 scale from about 100 raters each.

The documented common scale is Emotion6's, 1-9: an OASIS rating ``r`` becomes
``1 + (r - 1) * 8 / 6`` (both scales' ends and midpoints map onto each other: 4 -> 5). Paths are
keyed as the split files write them (``images/<file>``), so a label joins a split line directly.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

from .errors import DatasetFormatError, InputFileError

PathLike = Union[str, os.PathLike]

#: Emotion6's seven emotions, in its ground-truth column order
EMOTIONS = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")
#: the common valence/arousal scale (Emotion6's)
SCALE = (1.0, 9.0)


@dataclass(frozen=True)
class AffectLabel:
    """What annotators said of one photo; a source fills only what it has (None elsewhere)."""

    path: str  # as the split files write it, relative to the data folder
    emotions: Optional[tuple[float, ...]] = None  # shares of EMOTIONS, summing to 1
    valence: Optional[float] = None  # on SCALE
    arousal: Optional[float] = None  # on SCALE
    #: what the photo shows, as words (an OASIS theme, an Emotion6 folder's emotion) for a semantic
    #: head; None for OASIS's zero-shot held-out themes, which must never reach a semantic training
    concept: Optional[str] = None

    @property
    def dominant(self) -> Optional[set[int]]:
        """The indices of the most-felt emotion (several when annotators tie)."""
        if self.emotions is None:
            return None
        top = max(self.emotions)
        return {i for i, p in enumerate(self.emotions) if abs(p - top) < 1e-6}


def to_common_scale(value: float, low: float, high: float) -> float:
    """``value`` on a ``low``-``high`` rating scale, mapped linearly onto :data:`SCALE`."""
    return SCALE[0] + (value - low) * (SCALE[1] - SCALE[0]) / (high - low)


def read_emotion6_affect(folder: PathLike) -> dict[str, AffectLabel]:
    """``images/<emotion>/<n>.jpg`` -> its emotion distribution, valence and arousal (1-9)."""
    path = Path(folder) / "ground_truth.txt"
    if not path.is_file():
        raise InputFileError(f"Emotion6 ground truth not found: {path}.", "pass the emotion6 folder of ../shared")
    out: dict[str, AffectLabel] = {}
    with open(path, encoding="utf-8") as fh:
        rows = csv.reader(fh, delimiter="\t")
        next(rows, None)  # the bracketed header
        for n, row in enumerate(rows, start=2):
            if not row or not row[0].strip():
                continue
            try:
                valence, arousal, *shares = (float(v) for v in row[1:])
            except ValueError:
                raise DatasetFormatError(
                    f"{path}, line {n}: not numbers: {row[1:]}.", "restore the original file"
                ) from None
            if len(shares) != len(EMOTIONS) or abs(sum(shares) - 1.0) > 0.01:
                raise DatasetFormatError(
                    f"{path}, line {n}: {len(shares)} shares summing to {sum(shares):.3f}.",
                    f"each line holds valence, arousal and the shares of {', '.join(EMOTIONS)}",
                )
            key = f"images/{row[0].strip()}"
            concept = row[0].strip().split("/")[0] if "/" in row[0] else None  # the emotion the photo was found by
            out[key] = AffectLabel(key, tuple(shares), valence, arousal, concept)
    return out


def read_oasis_affect(folder: PathLike) -> dict[str, AffectLabel]:
    """``images/<file>`` -> OASIS mean valence and arousal, mapped from 1-7 onto :data:`SCALE`."""
    path = Path(folder) / "valence.csv"
    if not path.is_file():
        raise InputFileError(f"OASIS ratings not found: {path}.", "pass the oasis folder of ../shared")
    out: dict[str, AffectLabel] = {}
    heldout = read_heldout_themes(folder)
    with open(path, encoding="utf-8", newline="") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            try:
                valence = to_common_scale(float(row["valence_mean_1to7"]), 1.0, 7.0)
                arousal = to_common_scale(float(row["arousal_mean_1to7"]), 1.0, 7.0)
            except (KeyError, TypeError, ValueError):
                raise DatasetFormatError(
                    f"{path}, line {n}: no readable valence/arousal.", "restore the original file"
                ) from None
            key = f"images/{row['file']}"
            theme = oasis_theme(row.get("theme") or "")
            out[key] = AffectLabel(key, None, valence, arousal, None if theme in heldout else theme or None)
    return out


def oasis_theme(theme: str) -> str:
    """OASIS's theme without its number: ``"Car crash 2"`` -> ``"Car crash"``."""
    words = theme.split()
    return " ".join(words[:-1] if words and words[-1].isdigit() else words)


def read_heldout_themes(folder: PathLike) -> set[str]:
    """The zero-shot held-out themes listed beside OASIS (``zero_shot_heldout_themes.txt``), if any."""
    path = Path(folder) / "zero_shot_heldout_themes.txt"
    if not path.is_file():
        return set()
    return {ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()}


#: the label files a data folder may hold, and their readers
_AFFECT_FILES = (("ground_truth.txt", read_emotion6_affect), ("valence.csv", read_oasis_affect))


def affect_labels_for(paths: Sequence[PathLike], depth: int = 3) -> list[Optional[AffectLabel]]:
    """The affect label of each image, or None: looked up in the Emotion6 ``ground_truth.txt`` or
    OASIS ``valence.csv`` of the data folder the image lies in (``depth`` folders up at most, the
    ``images/<class>/`` layout of the split files)."""
    tables: dict[Path, dict[str, AffectLabel]] = {}
    out: list[Optional[AffectLabel]] = []
    for item in paths:
        path, found = Path(item).absolute(), None
        for folder in list(path.parents)[:depth]:
            if folder not in tables:
                reader = next((r for name, r in _AFFECT_FILES if (folder / name).is_file()), None)
                tables[folder] = reader(folder) if reader else {}
            found = tables[folder].get(path.relative_to(folder).as_posix())
            if found is not None or tables[folder]:
                break
        out.append(found)
    return out
