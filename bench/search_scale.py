"""How fast is exact search in a photo index (issue 31), as the index grows to 1 M photos?

Writes indexes of random unit 50-d vectors (the semantic head's size) in sentilite's on-disk
format (``vectors.f16`` float16 rows, ``paths.txt``, ``index.json``), opens each as
``sentilite search`` does (memory-mapped) and times single queries: the median and 90th
percentile over ``--queries`` queries after a warm-up pass (the rows in the page cache, as on a
device that searches its own collection repeatedly). Issue 31's goal: a 100,000-vector index
answers in <= 5 ms median on this machine. Search is exact and linear in the index; past a few
million rows, an approximate library (FAISS: IVF-PQ or HNSW) is the one to hand over to.

    python -m bench.search_scale                      # 10 k, 100 k, 1 M rows; ~1 min, 100 MB of disk
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from sentilite.core.photo_index import INDEX_FORMAT, INDEX_VERSION, PhotoIndex
from sentilite.core.vocabulary import normalize_rows


def make_index(folder: Path, rows: int, dims: int, seed: int) -> Path:
    """An index of ``rows`` random unit vectors, written in chunks (1 M rows: 100 MB)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    with open(folder / "vectors.f16", "wb") as fh:
        for start in range(0, rows, 100_000):
            n = min(100_000, rows - start)
            fh.write(normalize_rows(rng.normal(size=(n, dims))).astype(np.float16).tobytes())
    (folder / "paths.txt").write_text("".join(f"photo{i}.jpg\n" for i in range(rows)))
    manifest = {"format": INDEX_FORMAT, "version": INDEX_VERSION, "dims": dims, "count": rows, "model": "random"}
    (folder / "index.json").write_text(json.dumps(manifest))
    return folder


def time_queries(index: PhotoIndex, queries: np.ndarray, k: int) -> dict[str, float]:
    for q in queries[:3]:
        index.search(q, k)  # warm-up: the rows into the page cache
    times = []
    for q in queries:
        t0 = time.perf_counter()
        index.search(q, k)
        times.append((time.perf_counter() - t0) * 1e3)
    return {"median_ms": float(np.median(times)), "p90_ms": float(np.percentile(times, 90))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000", help="index sizes (rows), a comma list")
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--dims", type=int, default=50)
    ap.add_argument("-k", type=int, default=10)
    args = ap.parse_args()
    queries = normalize_rows(np.random.default_rng(99).normal(size=(args.queries, args.dims)))
    print(f"exact search, {args.dims}-d float16 rows, k = {args.k}, {args.queries} queries each")
    print(f"{'rows':>10} {'median ms':>10} {'p90 ms':>8}  note")
    with tempfile.TemporaryDirectory(prefix="sentilite-search-") as tmp:
        for rows in (int(s) for s in args.sizes.split(",")):
            index = PhotoIndex.open(make_index(Path(tmp) / f"i{rows}", rows, args.dims, seed=rows))
            t = time_queries(index, queries, args.k)
            note = ("goal <= 5 ms: " + ("met" if t["median_ms"] <= 5 else "MISSED")) if rows == 100_000 else ""
            print(f"{rows:>10,} {t['median_ms']:>10.2f} {t['p90_ms']:>8.2f}  {note}")


if __name__ == "__main__":
    main()
