"""Test-time augmentation (horizontal flip): what it buys on validation images, and what it costs.

    python -m bench.tta                                  # the bundled model, Emotion6 val
    python -m bench.tta --model runs/x/model_int8.tflite --data ../shared/data/emotion6/sentiment_val.txt

Each image is answered twice, as the contract prepares it and mirrored, and the two probability
vectors (after the model's own decision rule, as an app gets them) are averaged. Prints accuracy,
macro-F1, neutral recall and the 2-class reading with and without TTA, and the per-image latency
of one and of two passes (preprocessing + invoke, 1 thread, interleaved in the same run, median).
Validation data only: TTA is a product choice, not a way to look at test figures.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from sentilite.core.classifier import load_classifier
from sentilite.core.datasets import read_dataset
from sentilite.core.default_model import DEFAULT_MODEL_PATH
from sentilite.core.imageio import load_image
from sentilite.core.metrics import agreement, classification_metrics

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SENTILITE_SHARED", ROOT.parent / "shared"))


def scores(y: np.ndarray, probs: np.ndarray, labels: list[str]) -> dict[str, float]:
    m = classification_metrics(y, probs, labels)
    return {
        "accuracy": m["accuracy"],
        "macro_f1": m["macro_f1"],
        "neutral_recall": m["per_class"]["neutral"]["recall"] if "neutral" in labels else float("nan"),
        "polar_accuracy": (m["polar"] or {}).get("accuracy", float("nan")),
    }


def latency(clf, images: list[np.ndarray], rounds: int) -> tuple[float, float]:
    """(median ms of one pass, of two passes with the mirror), interleaved image by image."""
    one, two = [], []
    for r in range(rounds):
        im = images[r % len(images)]
        t0 = time.perf_counter()
        clf.predict(im)
        t1 = time.perf_counter()
        clf.predict(im)
        clf.predict(np.ascontiguousarray(im[:, ::-1]))
        t2 = time.perf_counter()
        one.append(t1 - t0)
        two.append(t2 - t1)
    return 1e3 * float(np.median(one)), 1e3 * float(np.median(two))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--model", type=Path, action="append", help="a .tflite or .keras (repeatable; default: the bundled model)"
    )
    ap.add_argument("--data", type=Path, default=SHARED / "data/emotion6/sentiment_val.txt")
    ap.add_argument("--rounds", type=int, default=300, help="timed images per model")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    dataset = read_dataset(args.data)
    images = [load_image(s.path) for s in dataset.samples]
    y = np.array([s.label for s in dataset.samples])
    print(f"{len(images)} images of {args.data}")
    out = []
    for model in args.model or [DEFAULT_MODEL_PATH]:
        clf = load_classifier(model, num_threads=1)
        labels = list(clf.contract.labels)
        plain = clf.predict_many(images)
        mirrored = clf.predict_many(np.ascontiguousarray(im[:, ::-1]) for im in images)
        averaged = (plain + mirrored) / 2
        a, b = scores(y, plain, labels), scores(y, averaged, labels)
        ms1, ms2 = latency(clf, images, args.rounds)
        flips = 1.0 - agreement(plain, averaged)["top1_agreement"]
        row = {
            "model": str(model),
            "n": len(images),
            "plain": a,
            "tta_flip": b,
            "ms_plain": ms1,
            "ms_tta": ms2,
            "answers_changed": flips,
        }
        out.append(row)
        print(f"\n{model}")
        print(f"{'':10} {'acc':>6} {'macroF1':>8} {'neutral':>8} {'2-class':>8} {'ms/image':>9}")
        for name, s, ms in (("plain", a, ms1), ("TTA flip", b, ms2)):
            print(
                f"{name:10} {s['accuracy']:6.3f} {s['macro_f1']:8.3f} {s['neutral_recall']:8.3f} "
                f"{s['polar_accuracy']:8.3f} {ms:9.2f}"
            )
        print(f"TTA changes {100 * flips:.1f} % of the answers and costs {ms2 / ms1:.2f}x the latency")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
