"""Where a model keeps its vocabulary: ``sentilite/vocabulary.npz`` in a .keras zip, the
``sentilite.vocabulary`` metadata entry in a .tflite (see :mod:`sentilite.core.vocabulary`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

from .modelfile import detect_format, read_tflite_metadata_file, write_keras_entry
from .vocabulary import VOCABULARY_METADATA_NAME, Vocabulary

PathLike = Union[str, os.PathLike]
KERAS_VOCABULARY_ENTRY = "sentilite/vocabulary.npz"


def write_vocabulary_keras(path: PathLike, vocabulary: Vocabulary) -> None:
    """Store ``vocabulary`` inside a .keras zip."""
    write_keras_entry(path, KERAS_VOCABULARY_ENTRY, vocabulary.to_bytes())


def vocabulary_entry(vocabulary: Optional[Vocabulary]) -> dict[str, bytes]:
    """The .tflite metadata entry that carries ``vocabulary`` (none for None)."""
    return {VOCABULARY_METADATA_NAME: vocabulary.to_bytes()} if vocabulary is not None else {}


def read_vocabulary(path: PathLike) -> Optional[Vocabulary]:
    """The vocabulary a .keras or .tflite file carries, or None."""
    label = Path(path).name
    if detect_format(path) == "keras":
        from .bounded_read import read_zip_entry

        raw = read_zip_entry(path, KERAS_VOCABULARY_ENTRY, label, max_bytes=16 * 2**20)
    else:
        raw = read_tflite_metadata_file(path).get(VOCABULARY_METADATA_NAME)
    return Vocabulary.from_bytes(raw, label) if raw else None
