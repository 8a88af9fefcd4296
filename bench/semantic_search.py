"""Issue 31's retrieval figures and the semantic head's cost, on the int8 file `bench.zero_shot` made.

- Image to image: on Emotion6 test (199 photos), each photo queries the others; a hit shares the
  query's dominant emotion (annotators' top share). mAP@10 of the semantic head's vectors against
  the same search on the frozen ImageNet MobileNetV2's pooled features (the issue's goal: >= 10
  points above them).
- Text to image: each of the seven emotion words queries Emotion6 test; precision@10 is the share
  of its ten best photos whose dominant emotion is that word.
- Cost: the same recipe without the semantic head (sentiment only, trained and converted here),
  against the semantic file: size, and median invoke time measured interleaved in one run (the
  issue's goal: <= 0.3 MB and <= 5 % more).

    python -m bench.semantic_search --zero-shot runs/zero-shot --cache-dir runs/affect-heads/.cache   # ~5 min

Writes <zero-shot>/semantic_search.json and .md.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from bench.zero_shot import head_embeddings
from bench.zero_shot_baselines import backbone_features
from sentilite.core.affect import EMOTIONS, affect_labels_for
from sentilite.core.datasets import read_split_file
from sentilite.core.fsutil import atomic_write_json, atomic_write_text
from sentilite.core.vocabulary import normalize_rows

ROOT = Path(__file__).resolve().parents[1]


def map_at_10(vectors: np.ndarray, labels: list[set[int]]) -> float:
    """Mean over queries of average precision in the top 10 (the query itself left out)."""
    v = normalize_rows(vectors)
    scores = v @ v.T
    np.fill_diagonal(scores, -np.inf)
    aps = []
    for i, row in enumerate(scores):
        top = np.argsort(-row, kind="stable")[:10]
        rel = np.array([bool(labels[i] & labels[j]) for j in top], float)
        precisions = np.cumsum(rel) / np.arange(1, 11)
        aps.append(float((precisions * rel).sum() / max(rel.sum(), 1.0)))
    return float(np.mean(aps))


def text_to_image(vectors: np.ndarray, labels: list[set[int]]) -> dict[str, float]:
    from sentilite.core.word_vectors import load_glove

    glove = load_glove()
    v = normalize_rows(vectors)
    out = {}
    for e, word in enumerate(EMOTIONS):
        top = np.argsort(-(v @ glove.phrase_vector(word)), kind="stable")[:10]
        out[word] = float(np.mean([e in labels[j] for j in top]))
    return out


def cost(semantic_int8: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Size and interleaved invoke time of the semantic file against the same recipe without the head."""
    from sentilite.convert import ConvertOptions, convert
    from sentilite.convert.validation import build_eval_set, interleaved_latency, tflite_runner
    from sentilite.train import TrainConfig, train

    run = args.zero_shot / "sentiment-only"
    e6 = args.shared / "data/emotion6"
    if not (run / "metrics.json").is_file():
        train(
            TrainConfig(
                data=[str(e6 / "sentiment_train.txt"), str(args.shared / "data/oasis/sentiment_all.txt")],
                val=str(e6 / "sentiment_val.txt"),
                backbone_file=str(args.shared / "weights/mobilenet_v2_imagenet_1.0_224.keras"),
                feature_layer="gap",
                mode="ft-f",
                preset="adam-cosine",
                lr=3e-3,
                epochs=60,
                patience=60,
                out=str(run),
                cache_dir=str(args.cache_dir or run / ".cache"),
                verbose=False,
                plots=False,
            )
        )
    plain = run / "convert" / "model_int8.tflite"
    if not plain.is_file():
        options = ConvertOptions(variants=("int8",), repair="never", layer_report=False, latency_runs=5)
        convert(
            run / "model.keras",
            options,
            calib=e6 / "sentiment_train.txt",
            eval=e6 / "sentiment_val.txt",
            out=run / "convert",
        )
    ev = build_eval_set(e6 / "sentiment_val.txt", read_contract_of(plain))
    lat = interleaved_latency(
        {"sentiment": tflite_runner(plain, 1, ev), "semantic": tflite_runner(semantic_int8, 1, ev)}, runs=200
    )
    return {
        "size_bytes": {"sentiment": plain.stat().st_size, "semantic": semantic_int8.stat().st_size},
        "latency_ms": {k: v["latency_ms"] for k, v in lat.items()},
        "latency_ci95": {k: v.get("latency_ci95") for k, v in lat.items()},
    }


def read_contract_of(path: Path) -> Any:
    from sentilite.core.modelfile import require_contract

    return require_contract(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--zero-shot", type=Path, default=ROOT / "runs" / "zero-shot", help="bench.zero_shot's --out")
    ap.add_argument("--cache-dir", type=Path)
    ap.add_argument(
        "--run",
        default="semantic-conse",
        help="which of bench.zero_shot's heads: semantic-conse (with the prior) or semantic",
    )
    args = ap.parse_args()
    int8 = args.zero_shot / args.run / "convert" / "model_int8.tflite"
    if not int8.is_file():
        raise SystemExit(f"{int8} is missing: run `python -m bench.zero_shot` first")
    paths = read_split_file(args.shared / "data/emotion6/sentiment_test.txt").paths
    labels = [a.dominant for a in affect_labels_for(paths)]
    semantic = head_embeddings(int8, paths)
    result: dict[str, Any] = {
        "image_to_image_map10": {
            "semantic_int8": map_at_10(semantic, labels),
            "imagenet_features": map_at_10(backbone_features(args, paths), labels),
        },
        "text_to_image_precision10": text_to_image(semantic, labels),
        "cost": cost(int8, args),
    }
    atomic_write_json(args.zero_shot / "semantic_search.json", result)
    i2i, t2i, c = result["image_to_image_map10"], result["text_to_image_precision10"], result["cost"]
    lines = [
        f"Image to image, Emotion6 test by dominant emotion: mAP@10 {i2i['semantic_int8']:.3f} (semantic head, int8) "
        f"against {i2i['imagenet_features']:.3f} (ImageNet pooled features); goal: >= 10 points above.",
        "Text to image, precision@10 per emotion word: " + ", ".join(f"{w} {p:.1f}" for w, p in t2i.items()) + ".",
        f"Cost: {c['size_bytes']['semantic'] - c['size_bytes']['sentiment']:,} bytes more "
        f"({c['size_bytes']['semantic'] / 1e6:.2f} vs {c['size_bytes']['sentiment'] / 1e6:.2f} MB; goal <= 0.3 MB); "
        f"invoke {c['latency_ms']['semantic']:.2f} vs {c['latency_ms']['sentiment']:.2f} ms median, interleaved "
        f"({100 * (c['latency_ms']['semantic'] / c['latency_ms']['sentiment'] - 1):+.1f} %; goal <= +5 %).",
    ]
    atomic_write_text(args.zero_shot / "semantic_search.md", "\n\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
