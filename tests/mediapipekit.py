"""Helpers shared by the tests that run the real MediaPipe Tasks in its own virtualenv: the
conversion they check, the photos handed over losslessly with the region an app passes, and the
client run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from conftest import EMOTION6


def convert_for_mediapipe(keras_path: Path, out: Path) -> dict[str, Path]:
    """float32 and int8 (uint8 I/O) files as `sentilite convert` writes them (pixel-in, its default)."""
    from sentilite.convert.api import convert_model

    result = convert_model(
        keras_path,
        calib=EMOTION6 / "sentiment_train.txt",
        eval=EMOTION6 / "sentiment_val.txt",
        out=out,
        variants="float32,int8",
        calib_size=100,
        latency_runs=2,
        kernel_check_images=0,
        repair="never",
        layer_report=False,
    )
    return result.variants


def centred_square_photos(paths: Sequence[Path], folder: Path) -> tuple[list[Path], Path, list[np.ndarray]]:
    """Each photo decoded once (PIL, as sentilite does) and written as a lossless PNG, with the
    centred square as MediaPipe's region of interest (``left = (w - s) / 2``, no rounding).
    Returns (the PNGs, the JSON file of their regions, the decoded RGB images)."""
    import cv2

    from sentilite.core.imageio import load_image

    files, rois, rgbs = [], {}, []
    for i, path in enumerate(paths):
        rgb = load_image(path)
        png = folder / f"photo{i}.png"
        cv2.imwrite(str(png), rgb[..., ::-1])
        h, w = rgb.shape[:2]
        s = min(h, w)
        left, top = (w - s) / 2, (h - s) / 2
        rois[str(png)] = [left / w, top / h, (left + s) / w, (top + s) / h]
        files.append(png)
        rgbs.append(rgb)
    roi_file = folder / "rois.json"
    roi_file.write_text(json.dumps(rois))
    return files, roi_file, rgbs


def run_client(python: Path, script: str, *args: Any) -> Any:
    """The client script's last JSON line (a list of per-image results, or an error object)."""
    proc = subprocess.run([str(python), "-c", script, *map(str, args)], capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(("[", "{"))]
    assert lines, proc.stderr[-2000:]
    return json.loads(lines[-1])
