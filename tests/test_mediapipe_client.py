"""The real MediaPipe Tasks ImageClassifier reads the standard metadata sentilite writes.

MediaPipe pulls in opencv-contrib-python, which collides with opencv-python-headless, so it
lives in a virtualenv of its own (made once, cached under ~/.cache/sentilite/); the test talks to
it through a small script. Checked: the labels file gives category names; the NormalizationOptions
are applied (a uniform image, which every resize method leaves unchanged, gets the scores
sentilite computes); and per-channel normalisation, which MediaPipe 1.2.3 refuses, is flagged by
``sentilite info``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from sentilite.core.classifier import TFLiteClassifier

pytestmark = pytest.mark.mediapipe
MEDIAPIPE = "mediapipe==1.2.3"

CLIENT = textwrap.dedent("""
    import json, sys
    import mediapipe as mp
    from mediapipe.tasks import python as mpt
    from mediapipe.tasks.python import vision
    model, images = sys.argv[1], sys.argv[2:]
    opts = vision.ImageClassifierOptions(base_options=mpt.BaseOptions(model_asset_path=model), max_results=10)
    try:
        clf = vision.ImageClassifier.create_from_options(opts)
    except Exception as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        sys.exit(0)
    out = []
    for path in images:
        res = clf.classify(mp.Image.create_from_file(path))
        out.append({c.category_name: c.score for c in res.classifications[0].categories})
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def mediapipe_python():
    venv = Path(os.environ.get("SENTILITE_CACHE", Path.home() / ".cache" / "sentilite")) / f"venv-{MEDIAPIPE.replace('==', '-')}"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        proc = subprocess.run([str(python), "-m", "pip", "install", "--quiet", MEDIAPIPE], capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            pytest.skip(f"cannot install {MEDIAPIPE} into {venv}: {proc.stderr.strip().splitlines()[-1:]}")
    return python


def classify(python: Path, model: Path, images: list[Path]):
    proc = subprocess.run([str(python), "-c", CLIENT, str(model), *map(str, images)], capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(("[", "{"))]
    assert lines, proc.stderr[-2000:]
    return json.loads(lines[-1])


def uniform_images(folder: Path) -> list[Path]:
    import cv2

    out = []
    for i, bgr in enumerate([(40, 80, 200), (200, 180, 30), (128, 128, 128), (10, 220, 90)]):
        path = folder / f"uniform{i}.png"
        cv2.imwrite(str(path), np.full((90, 120, 3), bgr, np.uint8))
        out.append(path)
    return out


def test_mediapipe_names_the_categories_from_the_labels_file(mediapipe_python, tiny_variants, tmp_path):
    for variant in ("float32", "int8"):
        results = classify(mediapipe_python, tiny_variants[variant], uniform_images(tmp_path))
        assert isinstance(results, list), results
        for scores in results:
            assert sorted(scores) == ["negative", "neutral", "positive"], (variant, scores)


def test_mediapipe_applies_the_normalisation_sentilite_wrote(mediapipe_python, tiny_variants, tmp_path):
    """A uniform image is the same after any crop or resize: MediaPipe's scores must be sentilite's."""
    import cv2

    images = uniform_images(tmp_path)
    results = classify(mediapipe_python, tiny_variants["float32"], images)
    clf = TFLiteClassifier(tiny_variants["float32"])
    for path, scores in zip(images, results):
        ours = clf.predict(cv2.imread(str(path))[..., ::-1])
        theirs = np.array([scores[n] for n in clf.contract.labels])
        assert np.abs(ours - theirs).max() < 2e-3, (path.name, ours, theirs)


def test_per_channel_normalisation_is_refused_by_mediapipe_and_flagged_by_info(mediapipe_python, tiny_variants, tmp_path):
    from sentilite.core.contract import PreprocessContract
    from sentilite.core.model_info import model_info
    from sentilite.core.modelfile import write_tflite

    imagenet = write_tflite(tmp_path / "imagenet.tflite", tiny_variants["float32"].read_bytes(), PreprocessContract.create(32, "imagenet"))
    result = classify(mediapipe_python, imagenet, uniform_images(tmp_path))
    assert "Per-channel image normalization is not available" in result.get("error", ""), result
    assert any("MediaPipe" in w and "per-channel" in w for w in model_info(imagenet)["warnings"])
