"""Training data: labelled lists, an on-disk cache of decoded images, and tf.data batches.

Images are decoded and cropped/resized by the core functions (``sentilite.core.imageio.load_image``
and ``sentilite.core.preprocess.resize_to_contract``) and normalised with the same float32
arithmetic as ``sentilite.core.preprocess.normalize``, so a batch equals ``prepare()`` image by
image (tested). Nothing holds the decoded dataset in memory:

- cached (default): a first pass decodes every image once, in parallel threads, into a file of
  fixed-size uint8 records (``<cache>/images/<key>.u8``, read back with ``pread``, never mapped),
  so later epochs and later runs on the same list never decode a JPEG again;
- streaming (``cache_dir="none"``): decoded in the tf.data pipeline every epoch.

Corrupt, truncated, missing or non-image files are skipped, counted and listed (never fatal).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

import numpy as np

from sentilite.core.contract import PreprocessContract
from sentilite.core.datasets import Dataset
from sentilite.core.errors import ImageReadError, InputFileError
from sentilite.core.fsutil import atomic_write_json
from sentilite.core.imageio import load_image
from sentilite.core.preprocess import resize_to_contract

if TYPE_CHECKING:
    import tensorflow as tf

CACHE_VERSION = 1

_FLAG_TODO, _FLAG_OK, _FLAG_BAD = 0, 1, 2


def decode_for_contract(path: Path, contract: PreprocessContract) -> np.ndarray:
    """Decode and crop/resize one image through the core functions (uint8, contract colour order)."""
    return resize_to_contract(load_image(path), contract, "RGB")


# -- fixed-size record files ----------------------------------------------------------------------


class RecordFile:
    """``n`` fixed-size records of ``shape``/``dtype`` in one file, accessed with pread/pwrite.

    Thread-safe (positional I/O); never memory-mapped, so reading does not grow the process's
    resident memory beyond the batch being read.
    """

    def __init__(self, path: Path, n: int, shape: Sequence[int], dtype: Any) -> None:
        self.path = Path(path)
        self.n = int(n)
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.record_bytes = int(np.prod(self.shape)) * self.dtype.itemsize
        size = self.n * self.record_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_CREAT
        self.fd = os.open(self.path, flags, 0o644)
        if os.fstat(self.fd).st_size != size:
            os.ftruncate(self.fd, size)

    def write(self, i: int, record: np.ndarray) -> None:
        data = np.ascontiguousarray(record, dtype=self.dtype)
        if data.shape != self.shape:
            raise ValueError(f"record shape {data.shape} != {self.shape}")
        os.pwrite(self.fd, data.tobytes(), int(i) * self.record_bytes)

    def read(self, i: int) -> np.ndarray:
        raw = os.pread(self.fd, self.record_bytes, int(i) * self.record_bytes)
        return np.frombuffer(raw, dtype=self.dtype).reshape(self.shape)

    def read_many(self, indices: Sequence[int]) -> np.ndarray:
        out = np.empty((len(indices), *self.shape), dtype=self.dtype)
        view = out.reshape(len(indices), -1).view(np.uint8)
        for k, i in enumerate(indices):
            view[k] = np.frombuffer(os.pread(self.fd, self.record_bytes, int(i) * self.record_bytes), np.uint8)
        return out

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass


# -- image sources --------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    env = os.environ.get("SENTILITE_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sentilite"


def _stat_key(path: Path) -> str:
    try:
        st = path.stat()
        return f"{path}\t{st.st_size}\t{st.st_mtime_ns}"
    except OSError:
        return f"{path}\tmissing"


def cache_key(dataset: Dataset, contract: PreprocessContract) -> str:
    """Identifies a decoded-image cache: the image files (path, size, mtime) and the crop/resize."""
    h = hashlib.sha1()
    h.update(
        json.dumps(
            [
                CACHE_VERSION,
                contract.height,
                contract.width,
                contract.resize,
                contract.color_order,
                contract.interpolation,
            ]
        ).encode()
    )
    for s in dataset.samples:
        h.update(_stat_key(Path(s.path)).encode())
        h.update(b"\n")
    return h.hexdigest()[:20]


@dataclass
class ImageSource:
    """Contract-sized uint8 images of one labelled list, cached on disk or decoded on demand."""

    dataset: Dataset
    contract: PreprocessContract
    cache_dir: Optional[Path] = None
    skipped: dict[int, str] = field(default_factory=dict)
    fill_seconds: float = 0.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.records: Optional[RecordFile] = None
        self.flags: Optional[RecordFile] = None
        if self.cache_dir is not None:
            key = cache_key(self.dataset, self.contract)
            folder = Path(self.cache_dir) / "images"
            self.key = key
            try:
                self.records = RecordFile(folder / f"{key}.u8", len(self.dataset), self.contract.input_shape, np.uint8)
                self.flags = RecordFile(folder / f"{key}.flags", len(self.dataset), (1,), np.uint8)
            except OSError as exc:
                raise InputFileError(
                    f"Cannot create the image cache in {folder} ({exc.strerror or exc}).",
                    "pass --cache-dir DIR on a writable disk, or --cache-dir none to decode every epoch",
                ) from None
            self.meta_path = folder / f"{key}.json"
            self._check_space()

    def _check_space(self) -> None:
        """The cache file is sparse: make sure the disk can hold what is still to be written."""
        assert self.records is not None
        st = os.stat(self.records.path)
        missing = max(0, self.records.n * self.records.record_bytes - st.st_blocks * 512)
        free = shutil.disk_usage(self.records.path.parent).free
        if missing > free - (256 << 20):
            raise InputFileError(
                f"The image cache needs {missing / 1e9:.1f} GB more in {self.records.path.parent} "
                f"({len(self)} images of {self.contract.height}x{self.contract.width}), only {free / 1e9:.1f} GB are "
                f"free.",
                "pass --cache-dir DIR on a larger disk, or --cache-dir none to decode every epoch",
            )

    @property
    def cache_bytes(self) -> int:
        return self.records.n * self.records.record_bytes if self.records is not None else 0

    @property
    def cached(self) -> bool:
        return self.records is not None

    def __len__(self) -> int:
        return len(self.dataset)

    # decoding ----------------------------------------------------------------------------
    def decode(self, i: int) -> tuple[Optional[np.ndarray], str]:
        sample = self.dataset.samples[i]
        try:
            return decode_for_contract(sample.path, self.contract), ""
        except ImageReadError as exc:
            return None, exc.problem
        except Exception as exc:  # noqa: BLE001 - a strange file must never stop training
            return None, f"{sample.path}: {type(exc).__name__}: {exc}"

    def _record_bad(self, i: int, reason: str) -> None:
        with self._lock:
            self.skipped[i] = reason

    def fill(self, workers: Optional[int] = None, progress: Optional[Callable[[int], None]] = None) -> None:
        """Decode every image not yet in the cache (parallel threads); resumable after a kill."""
        if not self.cached:
            return
        assert self.flags is not None and self.records is not None
        t0 = time.perf_counter()
        known = self._load_meta()
        flags = self.flags.read_many(range(len(self))).reshape(-1)
        todo = []
        for i, f in enumerate(flags):
            if f == _FLAG_OK:
                continue
            if f == _FLAG_BAD and str(i) in known:
                self.skipped[i] = known[str(i)]
                continue
            todo.append(i)
        if progress is not None:
            progress(len(self) - len(todo))
        if todo:

            def work(i: int) -> None:
                image, reason = self.decode(i)
                if image is None:
                    self._record_bad(i, reason)
                    self.flags.write(i, np.array([_FLAG_BAD], np.uint8))  # type: ignore[union-attr]
                else:
                    self.records.write(i, image)  # type: ignore[union-attr]
                    self.flags.write(i, np.array([_FLAG_OK], np.uint8))  # type: ignore[union-attr]

            n_workers = workers or os.cpu_count() or 2
            with ThreadPoolExecutor(max_workers=n_workers) as pool:
                for start in range(0, len(todo), 256):
                    chunk = todo[start : start + 256]
                    list(pool.map(work, chunk))
                    if progress is not None:
                        progress(len(chunk))
            self._save_meta()
        self.fill_seconds = time.perf_counter() - t0

    def _load_meta(self) -> dict[str, str]:
        try:
            meta = json.loads(Path(self.meta_path).read_text())
            return dict(meta.get("bad", {}))
        except (OSError, ValueError):
            return {}

    def _save_meta(self) -> None:
        atomic_write_json(
            self.meta_path,
            {
                "version": CACHE_VERSION,
                "source": self.dataset.source,
                "n": len(self),
                "shape": list(self.contract.input_shape),
                "color_order": self.contract.color_order,
                "resize": self.contract.resize,
                "bad": {str(i): r for i, r in sorted(self.skipped.items())},
            },
        )

    # access ------------------------------------------------------------------------------
    def valid_indices(self) -> np.ndarray:
        """Indices of readable images (all of them in streaming mode, where bad ones are found on the fly)."""
        return np.array([i for i in range(len(self)) if i not in self.skipped], dtype=np.int64)

    def gather(self, indices: np.ndarray) -> np.ndarray:
        """A uint8 batch from the cache."""
        assert self.records is not None
        return self.records.read_many(np.asarray(indices).reshape(-1).tolist())

    def load_one(self, i: int) -> tuple[np.ndarray, bool]:
        """Streaming: (image, ok); a bad image is recorded and returned as zeros with ok=False."""
        image, reason = self.decode(int(i))
        if image is None:
            self._record_bad(int(i), reason)
            return np.zeros(self.contract.input_shape, np.uint8), False
        return image, True

    def skipped_list(self) -> list[dict[str, str]]:
        return [{"path": str(self.dataset.samples[i].path), "reason": r} for i, r in sorted(self.skipped.items())]

    def close(self) -> None:
        for f in (self.records, self.flags):
            if f is not None:
                f.close()


def make_source(dataset: Dataset, contract: PreprocessContract, cache_dir: Optional[str]) -> ImageSource:
    if cache_dir is not None and str(cache_dir).lower() == "none":
        return ImageSource(dataset, contract, None)
    return ImageSource(dataset, contract, Path(cache_dir) if cache_dir else default_cache_dir())


# -- tf.data --------------------------------------------------------------------------------------


def normalize_tf(tf: ModuleType, pixels: tf.Tensor, contract: PreprocessContract) -> Any:
    """``(pixel / 255 - mean) / std`` in float32: the same operations, in the same order, as
    :func:`sentilite.core.preprocess.normalize` (tested equal on real images)."""
    if contract.norm.name == "raw":
        return tf.cast(pixels, tf.float32)
    mean = tf.constant(np.asarray(contract.norm.mean, np.float32))
    std = tf.constant(np.asarray(contract.norm.std, np.float32))
    return (tf.cast(pixels, tf.float32) / tf.constant(255.0, tf.float32) - mean) / std


def epoch_order(n: int, seed: int, phase: int, epoch: int) -> np.ndarray:
    """The shuffled sample order of one epoch (a pure function of its arguments: resumable)."""
    return np.random.default_rng([int(seed), int(phase), int(epoch)]).permutation(n)


def image_batches(
    source: ImageSource,
    indices: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    targets: np.ndarray,
    batch_size: int,
    augment: Sequence[str] = (),
    seed: Optional[Sequence[int]] = None,
) -> Any:
    """tf.data batches ``(x, y, w, t)``: normalised images, labels, sample weights, teacher targets.

    ``indices``/``labels``/``weights``/``targets`` are aligned, in the order to be served.
    Augmentation (only when ``augment`` names some) uses stateless seeds ``seed + batch index``.
    """
    from sentilite.core.tf_import import import_tensorflow

    tf = import_tensorflow("training")
    contract = source.contract
    shape = contract.input_shape
    n_cls = targets.shape[1]
    base = tf.data.Dataset.from_tensor_slices(
        (
            np.asarray(indices, np.int64),
            np.asarray(labels, np.int32),
            np.asarray(weights, np.float32),
            np.asarray(targets, np.float32),
        )
    )
    if source.cached:

        def gather(i: Any) -> Any:
            x = tf.numpy_function(source.gather, [i], tf.uint8, stateful=False)
            x.set_shape((None, *shape))
            return x

        ds = base.batch(batch_size).map(lambda i, y, w, t: (gather(i), y, w, t), num_parallel_calls=2)
    else:

        def load(i: Any) -> Any:
            x, ok = tf.numpy_function(source.load_one, [i], (tf.uint8, tf.bool), stateful=False)
            x.set_shape(shape)
            ok.set_shape(())
            return x, ok

        ds = base.map(lambda i, y, w, t: (*load(i), y, w, t), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        ds = ds.filter(lambda x, ok, y, w, t: ok).map(lambda x, ok, y, w, t: (x, y, w, t)).batch(batch_size)
    names = tuple(augment or ())
    if names:
        s0 = tf.constant(np.asarray(seed or (0, 0), np.int64))
        ds = ds.enumerate().map(
            lambda k, b: (
                augment_and_normalize(tf, b[0], s0 + tf.stack([tf.constant(0, tf.int64), k]), names, contract),
                *b[1:],
            ),
            num_parallel_calls=2,
        )
    else:
        ds = ds.map(lambda x, y, w, t: (normalize_tf(tf, x, contract), y, w, t))
    ds = ds.map(lambda x, y, w, t: (x, y, w, tf.ensure_shape(t, (None, n_cls))))
    return ds.prefetch(2)


def augment_and_normalize(
    tf: ModuleType, x: tf.Tensor, seed: tf.Tensor, names: Sequence[str], contract: PreprocessContract
) -> Any:
    from .augment import augment_batch

    return normalize_tf(tf, augment_batch(tf, x, seed, names, contract.color_order), contract)


def eval_batches(source: ImageSource, indices: np.ndarray, batch_size: int) -> Any:
    """Normalised, un-augmented batches of ``indices`` in order (labels are not needed)."""
    k = len(indices)
    dummy = np.zeros((k, 1), np.float32)
    return image_batches(source, indices, np.zeros(k, np.int32), np.ones(k, np.float32), dummy, batch_size)
