"""Split a labelled list into a stratified, seeded train/val pair, or print it with absolute paths.

    python bench/split_list.py ../shared/data/oasis/sentiment_all.txt --fraction 0.2 --seed 0 --out runs/lists/oasis
    python bench/split_list.py ../shared/data/emotion6/sentiment_val.txt --absolute > val_abs.txt

Writes <out>/train.txt and <out>/val.txt (B-T4SA line format, absolute image paths), so they
can be concatenated with other lists and used from any folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sentilite.core.datasets import read_dataset, split_file_text  # noqa: E402
from sentilite.core.fsutil import atomic_write_text  # noqa: E402


def stratified_split(samples: Sequence[Any], fraction: float, seed: int) -> tuple[list[Any], list[Any]]:
    """(train, val): a seeded ``fraction`` of each class goes to val, the rest to train, order kept."""
    rng = np.random.default_rng(seed)
    val_idx: set[int] = set()
    for label in sorted({s.label for s in samples}):
        members = [i for i, s in enumerate(samples) if s.label == label]
        val_idx.update(rng.permutation(members)[: round(fraction * len(members))].tolist())
    return ([s for i, s in enumerate(samples) if i not in val_idx], [s for i, s in enumerate(samples) if i in val_idx])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("split", type=Path)
    ap.add_argument("--fraction", type=float, default=0.2, help="share of each class that goes to val")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--absolute", action="store_true", help="print the list with absolute paths and stop")
    args = ap.parse_args()
    ds = read_dataset(args.split)
    if args.absolute:
        sys.stdout.write(split_file_text(ds.samples))
        return
    train, val = stratified_split(ds.samples, args.fraction, args.seed)
    atomic_write_text(args.out / "train.txt", split_file_text(train))
    atomic_write_text(args.out / "val.txt", split_file_text(val))
    print(f"{args.split}: {len(train)} train, {len(val)} val -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
