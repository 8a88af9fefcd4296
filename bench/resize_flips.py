"""How many answers change when an app resizes differently from the model's contract.

    python -m bench.resize_flips                                    # the bundled model, Emotion6 val
    python -m bench.resize_flips --model old.tflite --model new.tflite --data ../shared/data/emotion6/sentiment_val.txt

For every image: the contract's crop, resized with the contract's method and with each other
method sentilite knows (warp_linear = MediaPipe's, OpenCV INTER_LINEAR, INTER_AREA); the model
answers each. Prints, per model and method, the share of top-1 answers that differ from the
contract's and the mean |dp|. A .tflite needs no TensorFlow; a .keras is read through Keras.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from sentilite.core.classifier import load_classifier
from sentilite.core.contract import INTERPOLATIONS
from sentilite.core.datasets import read_dataset
from sentilite.core.default_model import DEFAULT_MODEL_PATH
from sentilite.core.imageio import load_image
from sentilite.core.preprocess import resize_to_contract

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SENTILITE_SHARED", ROOT.parent / "shared"))


def flips(model: Path, images: list[np.ndarray]) -> dict[str, tuple[float, float]]:
    """method -> (share of answers that differ from the contract's method, mean |dp|)."""
    clf = load_classifier(model, num_threads=1)
    own = clf.contract.interpolation
    probs = {}
    for method in INTERPOLATIONS:
        c = replace(clf.contract, interpolation=method)
        probs[method] = np.stack([clf.predict(resize_to_contract(im, c)) for im in images])
    ref = probs[own]
    return {
        m: (float((p.argmax(1) != ref.argmax(1)).mean()), float(np.abs(p - ref).mean()))
        for m, p in probs.items()
        if m != own
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--model", type=Path, action="append", help="a .tflite or .keras (repeatable; default: the bundled model)"
    )
    ap.add_argument("--data", type=Path, default=SHARED / "data/emotion6/sentiment_val.txt")
    args = ap.parse_args()
    dataset = read_dataset(args.data)
    images = [load_image(s.path) for s in dataset.samples]
    print(f"{len(images)} images of {args.data}")
    for model in args.model or [DEFAULT_MODEL_PATH]:
        own = load_classifier(model).contract.interpolation
        for method, (rate, dp) in flips(model, images).items():
            print(
                f"{model.parent.name}/{model.name}: contract {own}, app resizes with {method}: {100 * rate:.1f} % of "
                f"answers change, "
                f"mean |dp| {dp:.4f}"
            )


if __name__ == "__main__":
    main()
