"""A photo index for search in word space (issue 31): a folder any process can memory-map.

``sentilite index`` embeds every photo with a model's semantic head and writes:

- ``vectors.f16``: the unit-length embeddings, row after row, float16 (``count x dims``);
- ``paths.txt``: the photo of each row, one per line;
- ``index.json``: format, version, the model's name and sha256, its head, ``dims`` and ``count``.

The folder is written under a temporary name and renamed when complete, so an interrupted build
leaves nothing that looks like an index. Search is exact: the query's cosine with every row
(a float32 matrix product over chunks of the memory-mapped rows, :data:`CHUNK` at a time), the best
``k`` kept per chunk. It is linear in the index: ``bench/search_scale.py`` measures it up to 1 M
rows; beyond that, an approximate library (FAISS's IVF-PQ or HNSW) is the one to hand over to.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Union

import numpy as np

from .errors import InputFileError
from .vocabulary import normalize_rows, top_k

PathLike = Union[str, os.PathLike]
INDEX_FORMAT = "sentilite-photo-index"
INDEX_VERSION = 1
#: rows scored per matrix product: 64 k x 50-d float32 is 12.5 MB, within any cache budget worth having
CHUNK = 65_536
#: an index whose rows fit in this much float32 memory is converted once and kept (numpy has no fast
#: float16 product; converting per query costs more than the product itself)
RESIDENT_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Hit:
    """One search result: the photo, its row and its cosine with the query."""

    path: str
    row: int
    score: float


@dataclass
class PhotoIndex:
    """An index folder, opened: its manifest, its rows (memory-mapped) and their photos."""

    folder: Path
    manifest: dict[str, object]
    vectors: np.ndarray  # (count, dims) float16, memory-mapped
    paths: list[str]
    _resident: Optional[np.ndarray] = field(default=None, repr=False)

    def _rows(self, start: int) -> np.ndarray:
        """Rows ``start:start + CHUNK`` as float32: from the resident copy where the index fits."""
        if self._resident is None and self.vectors.size * 4 <= RESIDENT_BYTES:
            self._resident = np.asarray(self.vectors, np.float32)
        if self._resident is not None:
            return self._resident[start : start + CHUNK]
        return np.asarray(self.vectors[start : start + CHUNK], np.float32)

    @classmethod
    def open(cls, folder: PathLike) -> PhotoIndex:
        folder = Path(folder)
        try:
            manifest = json.loads((folder / "index.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise InputFileError(
                f"{folder} is not a photo index (no readable index.json).", "make one with `sentilite index`"
            ) from None
        if manifest.get("format") != INDEX_FORMAT or int(manifest.get("version", 0)) > INDEX_VERSION:
            raise InputFileError(
                f"{folder} holds no photo index sentilite can read.", "rebuild it with `sentilite index`"
            )
        count, dims = int(manifest["count"]), int(manifest["dims"])
        vectors = (
            np.memmap(folder / "vectors.f16", dtype=np.float16, mode="r", shape=(count, dims))
            if count
            else np.zeros((0, dims), np.float16)
        )
        paths = (folder / "paths.txt").read_text(encoding="utf-8").splitlines()
        if len(paths) != count:
            raise InputFileError(
                f"{folder}: {len(paths)} paths for {count} vectors.", "rebuild it with `sentilite index`"
            )
        return cls(folder, manifest, vectors, paths)

    def search(self, query: np.ndarray, k: int = 10) -> list[Hit]:
        """The ``k`` rows closest to ``query`` by cosine, best first (exact)."""
        q = normalize_rows(np.asarray(query, np.float32)[None])[0]
        if q.shape[0] != self.vectors.shape[1]:
            raise InputFileError(
                f"A {q.shape[0]}-d query for a {self.vectors.shape[1]}-d index.", "query with the model that made it"
            )
        best_rows, best_scores = np.zeros(0, np.int64), np.zeros(0, np.float32)
        for start in range(0, len(self.vectors), CHUNK):
            scores = self._rows(start) @ q
            top = top_k(scores, k)
            best_rows = np.concatenate([best_rows, top + start])
            best_scores = np.concatenate([best_scores, scores[top]])
        order = np.argsort(-best_scores, kind="stable")[:k]  # a few k per chunk: sort them all
        return [
            Hit(self.paths[int(r)], int(r), round(float(s), 6)) for r, s in zip(best_rows[order], best_scores[order])
        ]


def write_index(out: PathLike, rows: Iterable[tuple[str, np.ndarray]], manifest: dict[str, object], dims: int) -> Path:
    """Write an index folder from (photo, vector) rows, streamed; renamed into place when complete."""
    out = Path(out)
    if out.exists() and not (out / "index.json").is_file():
        raise InputFileError(f"{out} exists and is not a photo index.", "choose a new --out folder")
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent if out.parent.exists() else None))
    try:
        count = 0
        with open(stage / "vectors.f16", "wb") as vf, open(stage / "paths.txt", "w", encoding="utf-8") as pf:
            for path, vector in rows:
                vf.write(normalize_rows(np.asarray(vector, np.float32)[None]).astype(np.float16).tobytes())
                pf.write(str(path).replace("\n", " ") + "\n")
                count += 1
        full = {"format": INDEX_FORMAT, "version": INDEX_VERSION, **manifest, "dims": dims, "count": count}
        (stage / "index.json").write_text(json.dumps(full, indent=1), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        stage.rename(out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return out


def model_mismatch(index: PhotoIndex, sha256: str, name: str) -> Optional[str]:
    """Why ``index`` cannot be queried with the model (a different model's space), or None."""
    if index.manifest.get("model_sha256") not in (None, sha256):
        made = f"{index.manifest.get('model')} ({str(index.manifest.get('model_sha256'))[:12]}…)"
        return f"{index.folder} was made with {made}, not {name}"
    return None
