"""How often the real MediaPipe ImageClassifier gives sentilite's answer, on a model file and real photos.

    python -m bench.mediapipe_agreement                          # the bundled model, Emotion6 test (199)
    python -m bench.mediapipe_agreement --model m.tflite --split other.txt

MediaPipe (1.2.3) runs in a virtualenv of its own (made once under ~/.cache/sentilite, as the
tests do: its opencv-contrib-python collides with opencv-python-headless). Each photo is
classified twice by MediaPipe, with the contract's centre crop as region of interest: from the
pixels sentilite decoded (handed over losslessly as PNG), and from the JPEG file itself
(MediaPipe's own decoder). Prints top-1 agreement with sentilite and the mean largest |dp|.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.mediapipe_client import CLIENT, mediapipe_venv_python

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SENTILITE_SHARED", REPO.parent / "shared"))


def main() -> None:
    import cv2

    from sentilite.core.classifier import TFLiteClassifier
    from sentilite.core.datasets import read_split_file
    from sentilite.core.default_model import DEFAULT_MODEL_PATH
    from sentilite.core.imageio import load_image
    from sentilite.core.preprocess import crop_box, crop_region

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    ap.add_argument("--split", type=Path, default=SHARED / "data" / "emotion6" / "sentiment_test.txt")
    args = ap.parse_args()
    python, why = mediapipe_venv_python()
    if why:
        sys.exit(why)
    clf = TFLiteClassifier(args.model)
    samples = read_split_file(args.split).samples
    ours, rois, pngs = [], {}, []
    with tempfile.TemporaryDirectory() as tmp:
        for i, s in enumerate(samples):
            rgb = load_image(s.path)
            h, w = rgb.shape[:2]
            # the region the contract samples: an app's natural centred ROI, unless the file floors it
            top, left, ch, cw = (crop_box if clf.contract.floors_crop else crop_region)(h, w, clf.contract)
            roi = [left / w, top / h, (left + cw) / w, (top + ch) / h]
            png = Path(tmp) / f"{i}.png"
            cv2.imwrite(str(png), rgb[..., ::-1])
            rois[str(png)] = rois[str(s.path)] = roi
            pngs.append(png)
            ours.append(clf.read(rgb))
        (Path(tmp) / "rois.json").write_text(json.dumps(rois))
        print(f"model {args.model.name} ({clf.contract.describe()}); {len(samples)} photos from {args.split}")
        for name, files in (("sentilite's decoded pixels", pngs), ("the JPEG files", [s.path for s in samples])):
            proc = subprocess.run(
                [str(python), "-c", CLIENT, str(args.model), "--all-heads", f"--rois={Path(tmp) / 'rois.json'}"]
                + list(map(str, files)),
                capture_output=True,
                text=True,
            )
            theirs = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith(("[", "{"))][-1])
            if isinstance(theirs, dict):
                sys.exit(f"MediaPipe refused the model: {theirs['error']}")
            print(f"MediaPipe on {name}: " + "; ".join(agreement(clf, ours, theirs)))


def agreement(clf: Any, ours: list[Any], theirs: list[dict[str, dict[str, float]]]) -> list[str]:
    """Top-1 agreement per class head MediaPipe reads by name (sentiment; the emotions where the
    model has them): a tie (int8 outputs come in steps of 1/256) counts as agreement."""
    one = len(theirs[0]) == 1  # a single-output file: its one head, whatever its name
    heads = [("sentiment", clf.contract.labels, [o.sentiment for o in ours])]
    heads += [
        (h.name, h.labels, [o.heads[h.name] for o in ours]) for h in clf.contract.heads if h.kind == "distribution"
    ]
    lines = []
    for head, labels, mine in heads:
        key = next(iter(theirs[0])) if one else head
        if key not in theirs[0]:
            lines.append(f"{head}: not read by MediaPipe (heads {sorted(theirs[0])})")
            continue
        t = [x[key] for x in theirs]
        same = np.mean([p[labels.index(max(s, key=s.get))] == p.max() for p, s in zip(mine, t)])
        delta = np.mean([np.abs(p - np.array([s[n] for n in labels])).max() for p, s in zip(mine, t)])
        lines.append(f"{head}: same top-1 as sentilite on {same:.1%}, mean max |dp| {delta:.4f}")
    return lines


if __name__ == "__main__":
    main()
