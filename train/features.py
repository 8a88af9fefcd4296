"""Frozen-backbone (FT-F) training on cached features.

In FT-F the backbone never changes, so each image's feature vector is computed once and stored
(``<split>-<view>.f32``, fixed-size float32 records read with pread, beside the image cache when
the backbone is pretrained so later runs reuse them, else in the run folder); the head
then trains on those vectors, which is what makes an FT-F epoch cheap. With augmentation off this
is the same computation as running the frozen backbone every epoch (tested on a tiny model).
With ``flip`` augmentation the features of the mirrored image are cached too and each epoch picks
one view per sample; crop and colour jitter cannot be cached and are not applied in this phase.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence

import numpy as np

from .data import ImageSource, RecordFile, eval_batches

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

FEATURE_VERSION = 1


class FeatureStore:
    """Backbone features of every image of one source, for one view ("plain" or "flip")."""

    def __init__(self, folder: Path, split: str, view: str, n: int, dim: int) -> None:
        self.path = Path(folder) / f"{split}-{view}.f32"
        self.meta_path = Path(folder) / f"{split}-{view}.json"
        self.n, self.dim, self.view = n, dim, view
        self.records = RecordFile(self.path, n, (dim,), np.float32)

    def complete(self, key: str) -> bool:
        try:
            meta = json.loads(self.meta_path.read_text())
        except (OSError, ValueError):
            return False
        return meta.get("complete") is True and meta.get("key") == key and meta.get("version") == FEATURE_VERSION

    def mark_complete(self, key: str) -> None:
        from sentilite.core.fsutil import atomic_write_json

        atomic_write_json(
            self.meta_path,
            {"version": FEATURE_VERSION, "key": key, "n": self.n, "dim": self.dim, "view": self.view, "complete": True},
        )

    def read(self, indices: Sequence[int]) -> np.ndarray:
        return self.records.read_many(list(indices))

    def close(self) -> None:
        self.records.close()


def extract_features(
    backbone: keras.Model,
    source: ImageSource,
    indices: np.ndarray,
    store: FeatureStore,
    batch_size: int,
    flip: bool = False,
    progress: Optional[Callable[[int], None]] = None,
) -> None:
    """Run the frozen ``backbone`` (inference mode) over ``indices`` and store the features."""
    from sentilite.core.tf_import import import_tensorflow

    tf = import_tensorflow("training")

    @tf.function(reduce_retracing=True)
    def forward(x: tf.Tensor) -> Any:
        if flip:
            x = tf.reverse(x, axis=[2])
        return backbone(x, training=False)

    start = 0
    for x, *_ in eval_batches(source, indices, batch_size):
        feats = forward(x).numpy()
        for k, i in enumerate(indices[start : start + len(feats)]):
            store.records.write(int(i), feats[k])
        start += len(feats)
        if progress is not None:
            progress(len(feats))


def feature_batches(
    stores: Sequence[FeatureStore],
    order: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    targets: np.ndarray,
    batch_size: int,
    view_choice: Optional[np.ndarray] = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Batches ``(features, y, w, t)`` in ``order`` (source indices); ``labels``/``weights``/
    ``targets`` are aligned with ``order``. ``view_choice[k]`` picks ``stores[1]`` (mirrored) for item k."""
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        f = stores[0].read(idx)
        if view_choice is not None and len(stores) > 1:
            pick = view_choice[start : start + batch_size]
            if pick.any():
                f[pick] = stores[1].read(idx[pick])
        sl = slice(start, start + batch_size)
        yield f, labels[sl], weights[sl], targets[sl]
