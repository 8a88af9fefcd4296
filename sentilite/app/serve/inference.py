"""Inference for the server: one LiteRT interpreter per worker thread, behind a bounded queue.

An interpreter is not thread-safe, so each worker thread of the pool builds its own
:class:`~sentilite.core.classifier.TFLiteClassifier` on first use (``threading.local``) and
never shares it. Admission is bounded: when ``queue`` requests are already waiting or running,
the next one is refused at once (the server answers 503) instead of piling up latency.
Decoding runs in the worker too, so the event loop only moves bytes.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from ...core.classifier import TFLiteClassifier
from ...core.errors import ImageReadError, SentiliteError
from ...core.reading import reading_fields
from ...core.vocabulary_file import read_vocabulary

PathLike = Union[str, os.PathLike]


class Busy(SentiliteError):
    """Every slot of the queue is taken; the client should retry shortly."""


class NotAnImage(SentiliteError):
    """The bytes are not an image format we decode."""


class CorruptImage(SentiliteError):
    """The bytes look like an image but cannot be decoded (truncated, damaged, too many pixels)."""


#: leading bytes of the formats Pillow decodes here
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"RIFF", b"II*\x00", b"MM\x00*")


def sniff_image(data: bytes) -> bool:
    """Whether ``data`` starts like a JPEG, PNG, GIF, BMP, WebP or TIFF file."""
    if data.startswith(b"RIFF"):
        return data[8:12] == b"WEBP"
    return any(data.startswith(m) for m in _MAGIC)


class InferencePool:
    """``threads`` workers, each with its own interpreter; at most ``queue`` requests admitted."""

    def __init__(self, model: PathLike, threads: int = 1, queue: int = 64, max_pixels: int = 24_000_000) -> None:
        if threads < 1 or queue < threads:
            raise SentiliteError(
                f"--threads {threads} / --queue {queue}: need threads >= 1 and queue >= threads.",
                "e.g. --threads 2 --queue 64",
            )
        self.model = Path(model)
        self.threads, self.capacity, self.max_pixels = threads, queue, max_pixels
        # Built here once, in the main thread: a broken model fails at start-up, not on the first request.
        probe = TFLiteClassifier(self.model, num_threads=1)
        self.contract, self.runtime = probe.contract, probe.runtime.describe()
        self.labels = list(self.contract.labels)
        # a semantic head: its name, and the words the model can tag with (issue 31)
        self.semantic = next((h.name for h in self.contract.heads if h.kind == "embedding"), None)
        self.vocabulary = read_vocabulary(self.model) if self.semantic else None
        self._local = threading.local()
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sentilite-infer")
        self._admitted = 0
        self._lock = threading.Lock()
        self.handled = 0
        self.refused = 0

    def _classifier(self) -> TFLiteClassifier:
        clf = getattr(self._local, "clf", None)
        if clf is None:
            clf = self._local.clf = TFLiteClassifier(self.model, num_threads=1)
        return clf

    def admit(self) -> None:
        """Take a queue slot, or raise :class:`Busy`."""
        with self._lock:
            if self._admitted >= self.capacity:
                self.refused += 1
                raise Busy(
                    f"The server is busy: {self._admitted} requests are queued or running (limit {self.capacity}).",
                    "retry in a moment",
                )
            self._admitted += 1

    def release(self) -> None:
        with self._lock:
            self._admitted -= 1
            self.handled += 1

    @property
    def in_flight(self) -> int:
        return self._admitted

    def submit(self, data: bytes) -> Any:
        """Schedule :meth:`predict` on a worker; the caller must have :meth:`admit`-ted."""
        return self._executor.submit(self.predict, data)

    def predict(self, data: bytes) -> dict[str, Any]:
        """Decode ``data`` and classify it (runs in a worker thread)."""
        if not sniff_image(data):
            raise NotAnImage(
                "The upload is not an image (JPEG, PNG, GIF, BMP, WebP or TIFF expected).",
                "send the bytes of a photo, e.g. curl --data-binary @photo.jpg",
            )
        from ...core.imageio import ImageTooLargeError, decode_image_bytes

        t0 = time.perf_counter()
        try:
            image = decode_image_bytes(data, "the upload", self.max_pixels)
        except ImageTooLargeError as exc:
            raise CorruptImage(
                exc.problem[:1].upper() + exc.problem[1:],
                "send a smaller image (the model looks at a few hundred pixels), or start the server with --max-mpx",
            ) from None
        except ImageReadError as exc:
            raise CorruptImage(
                exc.problem[:1].upper() + exc.problem[1:], "send the complete image file (was the upload cut short?)"
            ) from None
        t1 = time.perf_counter()
        clf = self._classifier()
        x = clf.encode(image)
        t2 = time.perf_counter()
        reading = clf.run_heads(x)
        t3 = time.perf_counter()
        probs = reading.sentiment
        semantic = self._semantic_fields(reading.heads)
        return {
            **semantic,
            "label": self.labels[int(np.argmax(probs))],
            "probabilities": {name: round(float(p), 6) for name, p in zip(self.labels, probs)},
            **reading_fields(reading.heads, clf.contract.heads),
            "inference_ms": round((t3 - t2) * 1e3, 3),
            "timing_ms": {
                "decode": round((t1 - t0) * 1e3, 3),
                "preprocess": round((t2 - t1) * 1e3, 3),
                "inference": round((t3 - t2) * 1e3, 3),
            },
            "image_size": [int(image.shape[1]), int(image.shape[0])],
        }

    def _semantic_fields(self, heads: dict[str, np.ndarray]) -> dict[str, Any]:
        """The best five words of the model's vocabulary, and the embedding (for /api/embed and
        /api/search, which take it out of the answer)."""
        if self.semantic is None:
            return {}
        embedding = heads[self.semantic]
        tags = self.vocabulary.tags(embedding, 5) if self.vocabulary is not None else []
        return {"tags": [{"word": t.word, "score": t.score} for t in tags], "_embedding": embedding}

    def close(self, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=not wait)


def model_description(model: Path, pool: InferencePool, card: Optional[dict[str, Any]]) -> dict[str, Any]:
    """What ``/api/model`` returns and every prediction carries a short form of."""
    from ...core.fsutil import sha256_file
    from ...core.modelfile import read_conversion_facts

    facts = read_conversion_facts(model)
    return {
        "name": model.name,
        "sha256": sha256_file(model),
        "size_bytes": model.stat().st_size,
        "variant": facts.get("variant"),
        "runtime": pool.runtime,
        "labels": pool.labels,
        "heads": [h.to_dict() for h in pool.contract.heads],
        "contract": pool.contract.to_dict(),
        "contract_text": pool.contract.describe(),
        "card": card,
    }
