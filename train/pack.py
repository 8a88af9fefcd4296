"""``sentilite data pack``: a labelled split -> sharded TFRecord files of contract-sized images.

For hundreds of thousands of images (B-T4SA: 470k), where the one-file decode cache of
:mod:`train.data` would hold 224x224x3 bytes per image (70 GB). Each record is one image,
already cropped and resized per the contract, stored as JPEG (``--format jpeg``, the default:
about a tenth of the bytes, decoded again while training) or as raw pixels (``--format raw``:
exact, ten times the disk and I/O). ``bench/pack_pipeline.py`` measures both.

Decoding and resizing run in worker processes (no TensorFlow in them); the parent writes the
shards with ``tf.io.TFRecordWriter``. Unreadable images are skipped, counted and listed in
``pack.json``. Everything is written into ``<out>.part`` and renamed at the end, so a failed or
interrupted pack leaves no folder that looks complete.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np

from sentilite.core.contract import PreprocessContract
from sentilite.core.errors import InputFileError

PathLike = Union[str, os.PathLike]
PACK_FORMAT = "sentilite-pack"
PACK_VERSION = 1
FORMATS = ("jpeg", "raw")
MANIFEST = "pack.json"


@dataclass(frozen=True)
class PackOptions:
    """How to pack: image format, JPEG quality, records per shard, decoding processes."""

    format: str = "jpeg"
    quality: int = 95
    shard_size: int = 2048
    processes: Optional[int] = None

    def validate(self) -> None:
        if self.format not in FORMATS:
            raise InputFileError(f"Unknown pack format {self.format!r}.", f"use one of {', '.join(FORMATS)}")
        if not 50 <= self.quality <= 100 or self.shard_size < 1:
            raise InputFileError(
                "--quality must be 50..100 and --shard-size at least 1.", "e.g. --quality 95 --shard-size 2048"
            )


def _encode_chunk(
    args: tuple[list[tuple[int, str, int]], dict[str, Any], str, int],
) -> list[tuple[int, int, Optional[bytes], str]]:
    """Worker process: decode, crop/resize per the contract (RGB), encode. (index, label, bytes|None, reason)."""
    import cv2

    from sentilite.core.errors import ImageReadError
    from sentilite.core.imageio import load_image
    from sentilite.core.preprocess import resize_to_contract

    items, contract_dict, fmt, quality = args
    contract = PreprocessContract.from_dict(contract_dict)
    out = []
    for index, path, label in items:
        try:
            pixels = resize_to_contract(load_image(path), contract, "RGB")
            if contract.color_order != "RGB":
                pixels = np.ascontiguousarray(pixels[..., ::-1])  # packs are always RGB
        except ImageReadError as exc:
            out.append((index, label, None, exc.problem))
            continue
        if fmt == "raw":
            out.append((index, label, pixels.tobytes(), ""))
        else:
            # 4:4:4: no chroma subsampling, so colour edges survive (about +30 % bytes at 224 px)
            ok, buf = cv2.imencode(
                ".jpg",
                pixels[..., ::-1],
                [
                    cv2.IMWRITE_JPEG_QUALITY,
                    quality,
                    cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                    cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
                ],
            )
            out.append((index, label, buf.tobytes() if ok else None, "" if ok else "JPEG encoding failed"))
    return out


def _chunks(samples: Sequence[Any], size: int) -> Iterator[list[tuple[int, str, int]]]:
    for start in range(0, len(samples), size):
        yield [(start + i, str(s.path), int(s.label)) for i, s in enumerate(samples[start : start + size])]


def pack_contract(contract: PreprocessContract) -> dict[str, Any]:
    """The part of a contract a pack fixes (size, crop, resize method); packs are RGB."""
    return {
        "height": contract.height,
        "width": contract.width,
        "resize": contract.resize,
        "interpolation": contract.interpolation,
        "color_order": "RGB",
    }


def _example(tf: ModuleType, image: bytes, label: int, index: int) -> bytes:
    feature = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        "index": tf.train.Feature(int64_list=tf.train.Int64List(value=[index])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


class _ShardWriter:
    """Fills ``shard-NNNNN.tfrecord`` files of ``size`` records each, in order."""

    def __init__(self, tf: ModuleType, folder: Path, size: int) -> None:
        self.tf, self.folder, self.size = tf, folder, size
        self.shards: list[dict[str, Any]] = []
        self.writer: Any = None

    def add(self, record: bytes, label: int) -> None:
        if self.writer is None or self.shards[-1]["records"] >= self.size:
            self.close()
            name = f"shard-{len(self.shards):05d}.tfrecord"
            self.writer = self.tf.io.TFRecordWriter(str(self.folder / name))
            self.shards.append({"file": name, "records": 0, "labels": []})
        self.writer.write(record)
        self.shards[-1]["records"] += 1
        self.shards[-1]["labels"].append(label)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def pack_split(
    spec: PathLike,
    out: PathLike,
    contract: PreprocessContract,
    options: PackOptions = PackOptions(),
    root: Optional[PathLike] = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Pack every readable image of ``spec`` into ``out``; returns the manifest (also ``out/pack.json``)."""
    from sentilite.core.datasets import read_dataset
    from sentilite.core.progress import make_progress

    options.validate()
    out_dir, stage = Path(out), Path(str(out) + ".part")
    if out_dir.exists() and not overwrite:
        raise InputFileError(f"{out_dir} already exists.", "choose another --out, or pass --overwrite")
    dataset = read_dataset(spec, root=root, labels=contract.labels)
    if not len(dataset):
        raise InputFileError(f"{spec} lists no images.", "check that it is the right split file")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    processes = options.processes or os.cpu_count() or 1
    t0 = time.perf_counter()
    # The pool starts before TensorFlow is imported here (forking a process with TF loaded is unsafe).
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        from sentilite.core.tf_import import import_tensorflow

        tf = import_tensorflow("packing")
        shards, skipped = _ShardWriter(tf, stage, options.shard_size), []
        jobs = ((chunk, contract.to_dict(), options.format, options.quality) for chunk in _chunks(dataset.samples, 64))
        with make_progress() as progress:
            task = progress.add_task(f"packing {Path(spec).name}", total=len(dataset))
            for results in pool.map(_encode_chunk, jobs):
                for index, label, data, reason in results:
                    if data is None:
                        skipped.append({"path": str(dataset.samples[index].path), "reason": reason})
                    else:
                        shards.add(_example(tf, data, label, index), label)
                progress.advance(task, len(results))
        shards.close()
    manifest = _manifest(spec, dataset, contract, options, shards.shards, skipped, time.perf_counter() - t0, processes)
    if not manifest["records"]:
        shutil.rmtree(stage, ignore_errors=True)
        raise InputFileError(
            f"None of the {len(dataset)} images of {spec} could be read (first: {skipped[0]['reason']}).",
            "check the paths in the split file, or pass --root DIR",
        )
    (stage / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    stage.rename(out_dir)
    return manifest


def _manifest(
    spec: PathLike,
    dataset: Any,
    contract: PreprocessContract,
    options: PackOptions,
    shards: list[dict[str, Any]],
    skipped: list[dict[str, str]],
    seconds: float,
    processes: int,
) -> dict[str, Any]:
    labels = np.concatenate([np.asarray(s["labels"], np.int64) for s in shards]) if shards else np.zeros(0, np.int64)
    counts = np.bincount(labels, minlength=len(contract.labels))
    return {
        "format": PACK_FORMAT,
        "version": PACK_VERSION,
        "source": str(spec),
        "image_format": options.format,
        "quality": options.quality if options.format == "jpeg" else None,
        "input": pack_contract(contract),
        "labels": list(contract.labels),
        "records": int(len(labels)),
        "class_counts": {n: int(counts[i]) for i, n in enumerate(contract.labels)},
        "listed": len(dataset),
        "skipped": skipped,
        "n_skipped": len(skipped),
        "shards": [{"file": s["file"], "records": s["records"], "labels": s["labels"]} for s in shards],
        "pack_seconds": round(seconds, 2),
        "processes": processes,
        "images_per_second": round(len(dataset) / seconds, 1) if seconds else None,
    }


def read_manifest(folder: PathLike) -> dict[str, Any]:
    """``pack.json`` of a pack folder, or a clear error."""
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputFileError(
            f"{folder} is not a sentilite pack ({path}: {exc}).", "make one with `sentilite data pack SPLIT --out DIR`"
        ) from None
    if manifest.get("format") != PACK_FORMAT or int(manifest.get("version", 0)) > PACK_VERSION:
        raise InputFileError(f"{path} is not a pack this sentilite reads.", "re-pack it with this version")
    return manifest


def is_pack(path: PathLike) -> bool:
    return (Path(path) / MANIFEST).is_file()
