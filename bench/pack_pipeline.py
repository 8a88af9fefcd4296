"""Packs and the streaming input pipeline against bare JPEG decoding, per core, in one run.

    python -m bench.pack_pipeline                 # Emotion6 train (1,583 photos), 224 px
    python -m bench.pack_pipeline --split other.txt --root DIR --processes 8

1. Packs the split twice (JPEG q95 4:4:4, and raw pixels) with ``sentilite data pack``'s code:
   images/s, seconds, bytes per image, and what B-T4SA's 470,586 images would take on disk.
2. Bare decoding, one core: ``cv2.imdecode`` of the packed 224 px JPEG bytes in a plain loop
   (the least work any pipeline must do per image), and PIL decode + crop/resize of the
   original photos (what training from split files does instead).
3. The training input pipeline (``PackedSource.batches``: TFRecord read, parse, decode,
   normalise, batch, prefetch), restricted to one core (a private tf.data thread pool of 1,
   intra-op parallelism 1), without and with augmentation; then on every core.

Goal (issue 15): the one-core pipeline without augmentation >= 90 % of bare decoding.
Results also go to runs/bench-pack/result.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SENTILITE_SHARED", REPO.parent / "shared"))
OUT = REPO / "runs" / "bench-pack"
GOAL = 0.90
BT4SA = 470_586


def rate(fn, n: int, repeats: int = 3) -> float:
    """Best images/s of ``repeats`` runs of ``fn`` (which handles ``n`` images)."""
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = max(best, n / (time.perf_counter() - t0))
    return best


def pipeline_rate(source, tf, threads: int, augment: tuple[str, ...], epochs: int = 3) -> float:
    n = len(source)
    best = 0.0
    for epoch in range(epochs):
        ds = source.batches(None, 32, augment, 0, 0, epoch, n_cls=3)
        opts = tf.data.Options()
        opts.threading.private_threadpool_size = threads
        opts.threading.max_intra_op_parallelism = 1
        ds = ds.with_options(opts)
        t0 = time.perf_counter()
        seen = sum(int(b[0].shape[0]) for b in ds)
        best = max(best, seen / (time.perf_counter() - t0))
        assert seen == n, (seen, n)
    return best


def pack_both(args: argparse.Namespace, contract: Any, tmp: Path) -> dict[str, dict[str, float]]:
    """Pack the split as JPEG and as raw pixels; their speed and size."""
    from sentilite.train.pack import PackOptions, pack_split

    packs = {}
    for fmt in ("jpeg", "raw"):
        m = pack_split(args.split, tmp / fmt, contract, PackOptions(fmt, processes=args.processes), root=args.root)
        size = sum((tmp / fmt / s["file"]).stat().st_size for s in m["shards"])
        packs[fmt] = {
            "records": m["records"],
            "seconds": m["pack_seconds"],
            "images_per_s": m["records"] / m["pack_seconds"],
            "bytes_per_image": size / m["records"],
            "bt4sa_gb": size / m["records"] * BT4SA / 1e9,
        }
    return packs


def report(
    args: argparse.Namespace, n: int, cores: Any, packs: dict, bare: float, photos: float, one: dict, every: dict
) -> None:
    """Print the figures."""
    ratio = one["jpeg"] / bare
    print(f"split {args.split} ({n} images), {cores} CPU cores, packing with {args.processes} process(es)\n")
    print(f"{'pack':<6} {'images/s':>9} {'kB/image':>9} {'B-T4SA on disk':>15}")
    for fmt, p in packs.items():
        print(f"{fmt:<6} {p['images_per_s']:>9.1f} {p['bytes_per_image'] / 1e3:>9.1f} {p['bt4sa_gb']:>12.1f} GB")
    print(
        f"\nper core: bare cv2.imdecode of the packed 224 px JPEGs {bare:.0f} images/s; decode + crop/resize of the "
        f"original photos {photos:.0f} images/s"
    )
    print(
        f"input pipeline, 1 core: JPEG {one['jpeg']:.0f}, JPEG + augmentation {one['jpeg_augmented']:.0f}, raw "
        f"{one['raw']:.0f} "
        f"images/s; every core ({cores}): JPEG {every['jpeg']:.0f} images/s"
    )
    verdict = "PASS" if ratio >= GOAL else "FAIL"
    print(
        f"\npipeline / bare decode, one core = {one['jpeg']:.0f} / {bare:.0f} = {ratio:.2f}  (goal >= {GOAL}) {verdict}"
    )
    print(
        f"B-T4SA: {BT4SA:,} images -> {packs['jpeg']['bt4sa_gb']:.1f} GB as JPEG, {packs['raw']['bt4sa_gb']:.1f} GB "
        f"raw; "
        f"packing at {packs['jpeg']['images_per_s'] / args.processes:.0f} images/s per process; one epoch of input "
        f"needs "
        f"{BT4SA / one['jpeg'] / 60:.0f} core-minutes"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", type=Path, default=SHARED / "data" / "emotion6" / "sentiment_train.txt")
    ap.add_argument("--root", type=Path, default=None)
    ap.add_argument("--processes", type=int, default=os.cpu_count())
    args = ap.parse_args()
    if not args.split.is_file():
        sys.exit(f"needs {args.split} (../shared); not found")

    import cv2

    from sentilite.core.contract import PreprocessContract
    from sentilite.core.datasets import read_dataset
    from sentilite.core.imageio import load_image
    from sentilite.core.preprocess import resize_to_contract
    from sentilite.core.tf_import import import_tensorflow
    from sentilite.train.stream import PackedSource

    contract = PreprocessContract.create(224, "imagenet", interpolation="warp_linear")
    cores = os.cpu_count()
    result: dict = {"split": str(args.split), "cpu_cores": cores, "processes": args.processes}
    with tempfile.TemporaryDirectory(prefix="sentilite-pack-bench-") as tmp:
        packs = pack_both(args, contract, Path(tmp))
        result["pack"] = packs
        tf = import_tensorflow("benchmark")
        tf.config.threading.set_intra_op_parallelism_threads(1)
        jpeg = PackedSource([str(Path(tmp) / "jpeg")], contract.labels).check(contract)
        raw = PackedSource([str(Path(tmp) / "raw")], contract.labels).check(contract)
        import numpy as np

        blobs = [
            np.frombuffer(r.numpy(), np.uint8)
            for r in tf.data.TFRecordDataset(jpeg.files).map(
                lambda rec: tf.io.parse_single_example(rec, {"image": tf.io.FixedLenFeature([], tf.string)})["image"]
            )
        ]
        n = len(blobs)
        cv2.setNumThreads(1)
        bare = rate(lambda: [cv2.imdecode(b, cv2.IMREAD_COLOR) for b in blobs], n)
        originals = [s.path for s in read_dataset(args.split, root=args.root).samples[:300]]
        photos = rate(
            lambda: [resize_to_contract(load_image(p), contract) for p in originals], len(originals), repeats=1
        )
        one = {
            "jpeg": pipeline_rate(jpeg, tf, 1, ()),
            "jpeg_augmented": pipeline_rate(jpeg, tf, 1, ("flip", "crop", "color")),
            "raw": pipeline_rate(raw, tf, 1, ()),
        }
        every = {"jpeg": pipeline_rate(jpeg, tf, cores, ())}
    ratio = one["jpeg"] / bare
    result.update(
        bare_decode_per_core=bare,
        original_photos_per_core=photos,
        pipeline_one_core=one,
        pipeline_all_cores=every,
        ratio=ratio,
        goal=GOAL,
        passed=ratio >= GOAL,
    )
    report(args, n, cores, packs, bare, photos, one, every)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    sys.exit(0 if ratio >= GOAL else 1)


if __name__ == "__main__":
    main()
