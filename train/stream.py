"""Training from packs (``sentilite data pack``): TFRecord shards streamed with interleave + prefetch.

A :class:`PackedSource` stands where a split list and its image cache stand for small data: it
knows its labels and counts (from ``pack.json``) and serves each epoch as ``(x, y, w, t)``
batches, shuffled per epoch (shard order, then a shuffle buffer; both seeded from the run seed,
phase and epoch, so a resumed epoch is the same epoch). Under ``tf.distribute`` each worker
reads its own shards (the file-level sharding TensorFlow recommends), repeated as needed, for
exactly the steps every worker takes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np

from sentilite.core.contract import PreprocessContract
from sentilite.core.errors import InputFileError

from .pack import pack_contract, read_manifest

if TYPE_CHECKING:
    import tensorflow as tf

    from sentilite.train.distribute import Distribution

SHUFFLE_BUFFER = 2048


class PackedSource:
    """One or more packs, concatenated: the training split of a run."""

    cached = False
    fill_seconds = 0.0

    def __init__(self, folders: Sequence[str], labels: Sequence[str]) -> None:
        self.folders = [Path(f) for f in folders]
        self.labels = tuple(labels)
        self.contract: Optional[PreprocessContract] = None  # set by check() once the backbone fixes it
        self.manifests = [read_manifest(f) for f in self.folders]
        for folder, m in zip(self.folders, self.manifests):
            if list(m["labels"]) != list(self.labels):
                raise InputFileError(
                    f"{folder} was packed with labels {m['labels']}, the run uses {list(self.labels)}.",
                    "re-pack it with the run's labels",
                )
        self.files = [str(f / s["file"]) for f, m in zip(self.folders, self.manifests) for s in m["shards"]]
        self.file_labels = [np.asarray(s["labels"], np.int64) for m in self.manifests for s in m["shards"]]
        self.y = np.concatenate(self.file_labels) if self.file_labels else np.zeros(0, np.int64)
        self.image_format = {m["image_format"] for m in self.manifests}
        self.skipped = [s for m in self.manifests for s in m["skipped"]]
        self.source = " + ".join(map(str, self.folders))
        self.meta = {"sources": [str(f) for f in self.folders]}
        self.dataset = self
        self.key = "pack-" + hashlib.sha1("\n".join(self.files).encode()).hexdigest()[:16]

    def check(self, contract: PreprocessContract) -> PackedSource:
        """Refuse packs made for another input size, crop or resize method than the model's."""
        want = pack_contract(contract)
        for folder, m in zip(self.folders, self.manifests):
            if m["input"] != want:
                raise InputFileError(
                    f"{folder} was packed for {m['input']}; this model needs {want}.",
                    f"re-pack it: sentilite data pack SPLIT --out DIR --size {contract.height} --resize "
                    f"{contract.resize} "
                    f"--interpolation {contract.interpolation}",
                )
        self.contract = contract
        return self

    def __len__(self) -> int:
        return int(len(self.y))

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.y, minlength=len(self.labels))
        return {n: int(counts[i]) for i, n in enumerate(self.labels)}

    def valid_indices(self) -> np.ndarray:
        return np.arange(len(self), dtype=np.int64)

    def label_masks(self) -> np.ndarray:
        """Every class allowed for every image (packs hold fully labelled lists only)."""
        return np.ones((len(self), len(self.labels)), np.float32)

    def skipped_list(self) -> list[dict[str, str]]:
        return list(self.skipped)

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return (
            f"{len(self)} images streamed from {len(self.files)} shard(s) of {len(self.folders)} pack(s) "
            f"({'/'.join(sorted(self.image_format))})"
        )

    # -- tf.data ------------------------------------------------------------------------------
    def _parse_batch(self, tf: ModuleType, records: Any) -> Any:
        """Serialized records -> ``(uint8 images in the contract's colour order, labels)``, a batch at a time."""
        h, w = self.contract.height, self.contract.width
        spec = {"image": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.int64)}
        ex = tf.io.parse_example(records, spec)
        if self.image_format == {"raw"}:
            images = tf.reshape(tf.io.decode_raw(ex["image"], tf.uint8), (-1, h, w, 3))
        else:
            images = tf.map_fn(
                lambda b: tf.io.decode_jpeg(b, channels=3),
                ex["image"],
                fn_output_signature=tf.TensorSpec((h, w, 3), tf.uint8),
            )
        if self.contract.color_order == "BGR":
            images = images[..., ::-1]
        return images, tf.cast(ex["label"], tf.int32)

    def _serialized(self, tf: ModuleType, files: list[str], cycle: int = 8) -> Any:
        return tf.data.Dataset.from_tensor_slices(files).interleave(
            tf.data.TFRecordDataset,
            cycle_length=max(1, min(cycle, len(files))),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )

    def records(self, tf: ModuleType, files: list[str], cycle: int = 8) -> Any:
        """Decoded ``(uint8 image, label)`` records of ``files``, interleaved (what training sees, unshuffled)."""
        return self._serialized(tf, files, cycle).batch(64).map(lambda r: self._parse_batch(tf, r)).unbatch()

    def batches(
        self,
        class_weights: Optional[np.ndarray],
        batch_size: int,
        augment: Sequence[str],
        seed: int,
        phase: int,
        epoch: int,
        dist: Optional[Distribution] = None,
        steps: Optional[int] = None,
        n_cls: int = 1,
        tail: int = 0,
    ) -> Any:
        """One epoch of ``(x, y, w, t)`` batches; ``x`` is uint8 pixels, normalised by the training step
        on the accelerator (the CPU pipeline then does little more than JPEG decoding); ``t`` says "no teacher, every
        class allowed" (distillation and partial labels need split lists)."""
        from sentilite.core.tf_import import import_tensorflow

        from .augment import augment_batch

        tf = import_tensorflow("training")
        rng = np.random.default_rng([int(seed), int(phase), int(epoch), 11])
        files = [self.files[i] for i in rng.permutation(len(self.files))]
        if dist is not None:
            if len(files) < dist.workers:
                raise InputFileError(
                    f"{len(files)} shard(s) cannot feed {dist.workers} workers.",
                    "re-pack with a smaller --shard-size (at least one shard per worker)",
                )
            files = files[dist.worker_index :: dist.workers]
        # Shuffled as serialized records (a JPEG is ~25 kB, its pixels 150 kB), decoded a batch at a time.
        ds = self._serialized(tf, files).shuffle(
            SHUFFLE_BUFFER, seed=int(rng.integers(2**31)), reshuffle_each_iteration=False
        )
        if dist is not None:
            ds = ds.repeat().take(int(steps) * batch_size * dist.local_replicas)
        ds = ds.batch(batch_size, drop_remainder=dist is not None).map(
            lambda r: self._parse_batch(tf, r), num_parallel_calls=tf.data.AUTOTUNE
        )
        cw = tf.constant(np.asarray(class_weights if class_weights is not None else np.ones(n_cls), np.float32))
        names, order = tuple(augment or ()), self.contract.color_order
        s0 = tf.constant(
            np.asarray(
                (int(seed) * 16 + phase, epoch * 1_000_000 + (dist.worker_index if dist else 0) * 10_000), np.int64
            )
        )

        def finish(k: Any, x: tf.Tensor, y: tf.Tensor) -> Any:
            if names:  # augmented pixels are rounded back to uint8, like any photo
                seed_k = s0 + tf.stack([tf.constant(0, tf.int64), k])
                x = tf.cast(tf.round(augment_batch(tf, x, seed_k, names, order)), tf.uint8)
            n = tf.shape(y)[0]  # targets as train.losses.pack_targets lays them out: no teacher, all classes allowed
            # (and no label for any extra head: the tail's "present" flags are 0)
            t = tf.concat([tf.zeros((n, 1)), tf.ones((n, len(self.labels))), tf.zeros((n, tail))], axis=1)
            return x, y, tf.gather(cw, y), t

        return (
            ds.enumerate()
            .map(lambda k, b: finish(k, *b), num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE)
        )
