"""The real MediaPipe Tasks ImageClassifier reads the standard metadata sentilite writes, and
gives sentilite's answers on real photos.

MediaPipe pulls in opencv-contrib-python, which collides with opencv-python-headless, so it
lives in a virtualenv of its own (made once, cached under ~/.cache/sentilite/); the test talks to
it through a small script. Checked: the labels file gives category names; the NormalizationOptions
are applied (a uniform image, which every resize method leaves unchanged, gets the scores
sentilite computes); per-channel normalisation, which MediaPipe 1.2.3 refuses, is flagged by
``sentilite info``; and on 60 Emotion6 test photos, the pixel-in float32 and int8 files
`sentilite convert` writes give sentilite's top-1 (the natural centred square, ``left = (w - s) / 2``,
passed as MediaPipe's region of interest: the contract crops at the exact centre and its
warp_linear resize is MediaPipe's own).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from mediapipekit import convert_for_mediapipe

from bench.mediapipe_client import CLIENT, mediapipe_venv_python
from sentilite.core.classifier import TFLiteClassifier

pytestmark = pytest.mark.mediapipe


@pytest.fixture(scope="module")
def mediapipe_python():
    python, why = mediapipe_venv_python()
    if why:
        pytest.skip(why)
    return python


def classify(python: Path, model: Path, images: list[Path], rois: Path | None = None):
    extra = [f"--rois={rois}"] if rois else []
    proc = subprocess.run(
        [str(python), "-c", CLIENT, str(model), *extra, *map(str, images)], capture_output=True, text=True, timeout=300
    )
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


def test_per_channel_normalisation_is_refused_by_mediapipe_and_flagged_by_info(
    mediapipe_python, tiny_variants, tmp_path
):
    from sentilite.core.contract import PreprocessContract
    from sentilite.core.model_info import model_info
    from sentilite.core.modelfile import write_tflite

    imagenet = write_tflite(
        tmp_path / "imagenet.tflite", tiny_variants["float32"].read_bytes(), PreprocessContract.create(32, "imagenet")
    )
    result = classify(mediapipe_python, imagenet, uniform_images(tmp_path))
    assert "Per-channel image normalization is not available" in result.get("error", ""), result
    assert any("MediaPipe" in w and "per-channel" in w for w in model_info(imagenet)["warnings"])


@pytest.fixture(scope="module")
def converted_mobilenet(mobilenet_sentiment, tmp_path_factory):
    """float32 and int8 (uint8 I/O) files written by `sentilite convert` (pixel-in, its default)."""
    out = tmp_path_factory.mktemp("mp_convert")
    return convert_for_mediapipe(mobilenet_sentiment["keras"], out / "convert")


def _agreement(
    python: Path,
    model: Path,
    files: list[Path],
    rois: dict[str, list[float]],
    ours: list[np.ndarray],
    labels: tuple[str, ...],
    roi_file: Path,
) -> tuple[float, float]:
    roi_file.write_text(json.dumps(rois))
    theirs = classify(python, model, files, roi_file)
    assert isinstance(theirs, list), theirs  # an error dict says why MediaPipe refused the model
    assert all(sorted(t) == sorted(labels) for t in theirs)
    # a tie (int8 outputs come in steps of 1/256) counts as agreement: either answer is the model's
    same = np.mean([p[labels.index(max(t, key=t.get))] == p.max() for p, t in zip(ours, theirs)])
    delta = np.mean([np.abs(p - np.array([t[n] for n in labels])).max() for p, t in zip(ours, theirs)])
    return float(same), float(delta)


@pytest.mark.shared
def test_mediapipe_gives_sentilites_answers_on_real_photos(mediapipe_python, converted_mobilenet, tmp_path):
    """Same pixels in, same answers out: the photos are decoded once (PIL, as sentilite does) and
    handed to MediaPipe losslessly, so what is compared is the model file, the crop and the resize.
    The JPEG files themselves are also classified and their agreement printed: MediaPipe's JPEG
    decoder differs from PIL's by a level or two on some pixels, which int8 notices."""
    import cv2
    from conftest import EMOTION6

    from sentilite.core.datasets import read_split_file
    from sentilite.core.imageio import load_image

    samples = read_split_file(EMOTION6 / "sentiment_test.txt").balanced_sample(60, seed=3).samples
    decoded = {}
    for i, s in enumerate(samples):
        rgb = load_image(s.path)
        png = tmp_path / f"photo{i}.png"
        cv2.imwrite(str(png), rgb[..., ::-1])
        decoded[png] = (Path(s.path), rgb)
    for variant, floor in {"float32": 0.99, "int8": 0.98}.items():
        clf = TFLiteClassifier(converted_mobilenet[variant])
        assert clf.contract.pixel_in and clf.contract.interpolation == "warp_linear"
        ours, rois_png, rois_jpeg = [], {}, {}
        for png, (jpeg, rgb) in decoded.items():
            h, w = rgb.shape[:2]
            s = min(h, w)  # the square centre crop, centred the way an app writes it: no rounding
            left, top = (w - s) / 2, (h - s) / 2
            rois_png[str(png)] = rois_jpeg[str(jpeg)] = [left / w, top / h, (left + s) / w, (top + s) / h]
            ours.append(clf.predict(rgb))
        labels = clf.contract.labels
        same, delta = _agreement(
            mediapipe_python,
            converted_mobilenet[variant],
            list(decoded),
            rois_png,
            ours,
            labels,
            tmp_path / "rois.json",
        )
        same_j, delta_j = _agreement(
            mediapipe_python,
            converted_mobilenet[variant],
            [j for j, _ in decoded.values()],
            rois_jpeg,
            ours,
            labels,
            tmp_path / "rois_jpeg.json",
        )
        print(
            f"{variant}: MediaPipe top-1 = sentilite's on {same:.1%} of {len(decoded)} photos (mean max|dp| "
            f"{delta:.4f}); "
            f"from the JPEG files, decoded by MediaPipe: {same_j:.1%} ({delta_j:.4f})"
        )
        assert same >= floor, (variant, same, delta)
        assert delta < 1e-4, (variant, delta)  # the same pixels reach the model: the same probabilities, bit for bit
