"""Does a converted file answer each class as often as the model it came from?

    python -m bench.class_rates runs/dm/mnv2-fta-all/model.keras runs/dm/convert/model_int8.tflite
    python -m bench.class_rates A.keras B.tflite --data ../shared/data/emotion6/sentiment_train.txt

On many images (labels are not used, so a training split serves), prints how often each model
answers each class after its own decision rule, and the mean shift of each class probability.
A decision rule fitted again on the converted file's answers (`sentilite calibrate --answers-of`)
is only worth it when these rates differ; on a small validation set, differences of a few images
are noise.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from sentilite.core.classifier import load_classifier
from sentilite.core.datasets import read_dataset
from sentilite.core.evaluation import predict_dataset
from sentilite.core.metrics import agreement

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SENTILITE_SHARED", ROOT.parent / "shared"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reference", type=Path, help="the model as trained (.keras) or any file")
    ap.add_argument("other", type=Path, help="a file converted from it")
    ap.add_argument("--data", type=Path, default=SHARED / "data/emotion6/sentiment_train.txt")
    args = ap.parse_args()
    ds = read_dataset(args.data)
    a, b = (load_classifier(m) for m in (args.reference, args.other))
    labels = list(a.contract.labels)
    pa = np.asarray(predict_dataset(a, ds, description=args.reference.name).probs)
    pb = np.asarray(predict_dataset(b, ds, description=args.other.name).probs)
    n = len(pa)
    ra, rb = (np.bincount(p.argmax(1), minlength=len(labels)) for p in (pa, pb))
    print(f"{n} images of {args.data}; top-1 agreement {100 * agreement(pa, pb)['top1_agreement']:.1f} %")
    print(f"{'class':10} {'answered by ' + args.reference.name:>28} {'by ' + args.other.name:>26} {'mean dp':>9}")
    for k, name in enumerate(labels):
        print(
            f"{name:10} {100 * ra[k] / n:>27.1f}% {100 * rb[k] / n:>25.1f}% "
            f"{float((pb[:, k] - pa[:, k]).mean()):>+9.4f}"
        )


if __name__ == "__main__":
    main()
