"""A model's vocabulary: the words (or phrases) its semantic head can name, with their word vectors.

A semantic head maps a photo into a word-vector space (issue 31). To tag a photo on a device, the
model carries the words it can say and their vectors, so that no word-vector table (GloVe's is
160 MB) is needed there: a ``sentilite.vocabulary`` metadata entry in the .tflite (and
``sentilite/vocabulary.npz`` in the .keras zip). It is an ``.npz`` of ``words`` (one string per
row) and ``vectors`` (float16, L2-normalised), read with numpy alone.

Tags are the words whose vectors have the largest cosine with the photo's embedding.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .errors import ModelFormatError

VOCABULARY_METADATA_NAME = "sentilite.vocabulary"
#: a vocabulary of more words than this is not one a model should carry (100 k words of 50-d float16: 10 MB)
MAX_WORDS = 100_000


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Each row scaled to unit length (a zero row stays zero)."""
    x = np.asarray(x, np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest ``scores``, largest first, without sorting them all (which of
    several scores tied at the k-th place is kept is unspecified)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, np.int64)
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top], kind="stable")]


@dataclass(frozen=True)
class Tag:
    """One word a photo was tagged with, and its cosine with the photo's embedding."""

    word: str
    score: float


@dataclass(frozen=True)
class Vocabulary:
    """Words and their unit-length vectors, in one order."""

    words: tuple[str, ...]
    vectors: np.ndarray  # (len(words), dims) float32, rows of unit length

    def __post_init__(self) -> None:
        if len(self.words) != len(self.vectors) or self.vectors.ndim != 2:
            raise ModelFormatError(
                f"A vocabulary of {len(self.words)} words has vectors of shape {self.vectors.shape}.",
                "rebuild it: one vector per word",
            )

    @classmethod
    def build(cls, words: Sequence[str], vectors: np.ndarray) -> Vocabulary:
        return cls(tuple(words), normalize_rows(vectors))

    @property
    def dims(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    def tags(self, embedding: np.ndarray, k: int = 5) -> list[Tag]:
        """The ``k`` words closest to ``embedding`` by cosine, best first."""
        scores = self.vectors @ normalize_rows(np.asarray(embedding, np.float32)[None])[0]
        return [Tag(self.words[i], round(float(scores[i]), 6)) for i in top_k(scores, k)]

    def subset(self, words: Sequence[str]) -> Vocabulary:
        """Only ``words`` (each must be in the vocabulary), in their order."""
        index = {w: i for i, w in enumerate(self.words)}
        missing = [w for w in words if w not in index]
        if missing:
            raise KeyError(", ".join(missing))
        return Vocabulary(tuple(words), self.vectors[[index[w] for w in words]])

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, words=np.array(self.words, dtype=object).astype(str), vectors=self.vectors.astype(np.float16))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, label: str = "the model") -> Vocabulary:
        """Read a vocabulary written by :meth:`to_bytes` (no pickles are loaded)."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                words, vectors = npz["words"], npz["vectors"]
        except (OSError, ValueError, KeyError) as exc:
            raise ModelFormatError(f"{label}'s vocabulary is unreadable ({exc}).", "re-convert the model") from None
        if len(words) > MAX_WORDS:
            raise ModelFormatError(
                f"{label}'s vocabulary has {len(words)} words (at most {MAX_WORDS}).", "pass a smaller --vocabulary"
            )
        return cls.build([str(w) for w in words], vectors.astype(np.float32))
