"""The real MediaPipe Tasks ImageClassifier as a client of sentilite's files: the pinned version,
the virtualenv it lives in (MediaPipe pulls in opencv-contrib-python, which collides with
opencv-python-headless) and the small script that classifies images with it. Shared by
``tests/app/test_mediapipe_client.py`` and ``python -m bench.mediapipe_agreement``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

MEDIAPIPE = "mediapipe==1.2.3"

CLIENT = textwrap.dedent("""
    import json, sys
    import mediapipe as mp
    from mediapipe.tasks import python as mpt
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.components.containers.rect import RectF
    from mediapipe.tasks.python.vision.core.image_processing_options import ImageProcessingOptions
    model, images = sys.argv[1], sys.argv[2:]
    every_head = bool(images) and images[0] == "--all-heads"  # {head name: {category: score}} per image
    if every_head:
        images.pop(0)
    rois = {}
    if images and images[0].startswith("--rois="):  # JSON file: {path: [left, top, right, bottom]} (normalised)
        rois = json.load(open(images.pop(0)[len("--rois="):]))
    opts = vision.ImageClassifierOptions(base_options=mpt.BaseOptions(model_asset_path=model), max_results=10)
    try:
        clf = vision.ImageClassifier.create_from_options(opts)
    except Exception as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        sys.exit(0)
    out = []
    for path in images:
        roi = rois.get(path)
        # keywords: RectF's fields are (left, top, bottom, right), in that order
        box = dict(zip(("left", "top", "right", "bottom"), roi)) if roi else None
        options = ImageProcessingOptions(region_of_interest=RectF(**box)) if box else None
        res = clf.classify(mp.Image.create_from_file(path), options)
        if every_head:  # a category without a name (valence/arousal) is keyed by its index
            out.append({h.head_name: {c.category_name or str(c.index): c.score for c in h.categories}
                        for h in res.classifications})
        else:
            out.append({c.category_name: c.score for c in res.classifications[0].categories})
    print(json.dumps(out))
""")


#: MediaPipe's ImageEmbedder: per image {head name: embedding (floats)}, or {"error": ...}
EMBEDDER = textwrap.dedent("""
    import json, sys
    import mediapipe as mp
    from mediapipe.tasks import python as mpt
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.components.containers.rect import RectF
    from mediapipe.tasks.python.vision.core.image_processing_options import ImageProcessingOptions
    model, images = sys.argv[1], sys.argv[2:]
    rois = {}
    if images and images[0].startswith("--rois="):
        rois = json.load(open(images.pop(0)[len("--rois="):]))
    opts = vision.ImageEmbedderOptions(base_options=mpt.BaseOptions(model_asset_path=model), l2_normalize=True)
    try:
        emb = vision.ImageEmbedder.create_from_options(opts)
    except Exception as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        sys.exit(0)
    out = []
    for path in images:
        roi = rois.get(path)
        box = dict(zip(("left", "top", "right", "bottom"), roi)) if roi else None
        options = ImageProcessingOptions(region_of_interest=RectF(**box)) if box else None
        res = emb.embed(mp.Image.create_from_file(path), options)
        out.append({e.head_name: [float(v) for v in e.embedding] for e in res.embeddings})
    print(json.dumps(out))
""")


def mediapipe_venv_python(timeout: float = 900) -> tuple[Path, str]:
    """(the venv's python, "" or why it could not be made): made once, cached under
    ``$SENTILITE_CACHE`` (default ``~/.cache/sentilite``)."""
    venv = (
        Path(os.environ.get("SENTILITE_CACHE", Path.home() / ".cache" / "sentilite"))
        / f"venv-{MEDIAPIPE.replace('==', '-')}"
    )
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        proc = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", MEDIAPIPE], capture_output=True, text=True, timeout=timeout
        )
        if proc.returncode != 0:
            return python, f"cannot install {MEDIAPIPE} into {venv}: {proc.stderr.strip().splitlines()[-1:]}"
    return python, ""
