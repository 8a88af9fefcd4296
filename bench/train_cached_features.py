"""FT-F epoch time: head trained on cached backbone features vs the plain tf.data path.

Both runs train MobileNetV2 (the ImageNet backbone from ../shared/weights, cut at ``gap``) in
FT-F mode on the Emotion6 train split, validating on the val split each epoch, with augmentation
off (so both compute the same thing), from the same decoded-image cache. The plain path runs the
frozen backbone over every image every epoch; the cached path computes the features once
(reported separately) and trains the head on them. Prints both epoch times and the ratio from
the second epoch on (target: >= 10x).

    python -m bench.train_cached_features [--epochs 3] [--out runs/bench-train-cached]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SENTILITE_SHARED", REPO.parent / "shared"))
BACKBONE = SHARED / "weights" / "mobilenet_v2_imagenet_1.0_224.keras"
EMOTION6 = SHARED / "data" / "emotion6"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--out", default=str(REPO / "runs" / "bench-train-cached"))
    args = ap.parse_args()
    if not BACKBONE.exists() or not EMOTION6.exists():
        sys.exit(f"needs {BACKBONE} and {EMOTION6} (../shared); not found")
    os.environ.setdefault("SENTILITE_NO_PROGRESS", "1")
    from sentilite.train.api import train_model
    from sentilite.train.config import TrainConfig

    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    cache = out / "cache"  # a fresh cache: the cached-feature run computes its features here
    results = {}
    for name, cached in (("plain tf.data", False), ("cached features", True)):
        cfg = TrainConfig(
            data=[str(EMOTION6 / "sentiment_train.txt")],
            val=str(EMOTION6 / "sentiment_val.txt"),
            backbone_file=str(BACKBONE),
            feature_layer="gap",
            mode="ft-f",
            preset="replication",
            epochs=args.epochs,
            patience=args.epochs,
            batch_size=args.batch_size,
            augment="none",
            feature_cache=cached,
            cache_dir=str(cache),
            out=str(out / name.replace(" ", "-")),
            verbose=False,
            plots=False,
        )
        t0 = time.perf_counter()
        res = train_model(cfg)
        secs = [row["seconds"] for row in res.history]
        results[name] = (secs, res.metrics["training"], time.perf_counter() - t0, res.metrics["val"]["accuracy"])
        print(
            f"{name:16s} epochs (s): {', '.join(f'{s:.2f}' for s in secs)}   "
            f"image decode {res.metrics['training']['cache_fill_seconds']:.1f} s, "
            f"feature pass {res.metrics['training']['feature_seconds']:.1f} s, val acc {results[name][3]:.3f}",
            flush=True,
        )
    plain = statistics.mean(results["plain tf.data"][0][1:])
    fast = statistics.mean(results["cached features"][0][1:])
    feat = results["cached features"][1]["feature_seconds"]
    n = len(results["plain tf.data"][0])
    print()
    print(
        f"Emotion6 train (1583 images) + val (198), MobileNetV2 224 px FT-F, batch {args.batch_size}, "
        f"{os.cpu_count()} CPU cores"
    )
    print(f"plain tf.data path  : {plain:8.2f} s per epoch (epochs 2..{n})")
    print(f"cached features     : {fast:8.3f} s per epoch (epochs 2..{n}); one-off feature pass {feat:.1f} s")
    print(f"speed-up from the second epoch: {plain / fast:.0f}x")


if __name__ == "__main__":
    main()
