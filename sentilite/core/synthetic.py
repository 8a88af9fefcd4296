"""Synthetic demo data: labelled images and a video clip, generated on the spot.

Used by ``sentilite quickstart`` (when no data is given) and by the tests. The classes differ
in colour and shape only — a model trained on them learns nothing about real sentiment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence, Union

import cv2
import numpy as np

from .labels import SENTIMENT_LABELS

PathLike = Union[str, os.PathLike]

SYNTHETIC_NOTICE = (
    "synthetic demo data: coloured shapes standing in for photos; the model learns nothing about real sentiment"
)

# Per class: (base BGR colour, shape). Negative: dark blue + triangles; neutral: grey +
# rectangles; positive: warm yellow + circles.
_STYLE = {0: ((120, 60, 40), "triangle"), 1: ((128, 128, 128), "rect"), 2: ((40, 170, 230), "circle")}


def synthetic_image(label: int, rng: np.random.Generator, size: tuple[int, int] = (120, 160)) -> np.ndarray:
    """One BGR uint8 image of class ``label`` (0 negative, 1 neutral, 2 positive) with noise."""
    h, w = size
    base, shape = _STYLE[label % 3]
    jitter = rng.integers(-35, 36, size=3)
    img = np.clip(np.array(base) + jitter, 0, 255).astype(np.uint8)
    img = np.broadcast_to(img, (h, w, 3)).copy()
    img = cv2.add(img, rng.integers(0, 30, size=(h, w, 3), dtype=np.uint8))
    for _ in range(int(rng.integers(1, 4))):
        colour = tuple(int(c) for c in np.clip(np.array(base)[::-1] + rng.integers(-40, 41, 3), 0, 255))
        cx, cy = int(rng.integers(w // 5, 4 * w // 5)), int(rng.integers(h // 5, 4 * h // 5))
        r = int(rng.integers(min(h, w) // 8, min(h, w) // 3))
        if shape == "circle":
            cv2.circle(img, (cx, cy), r, colour, -1)
        elif shape == "rect":
            cv2.rectangle(img, (cx - r, cy - r // 2), (cx + r, cy + r // 2), colour, -1)
        else:
            pts = np.array([[cx, cy - r], [cx - r, cy + r], [cx + r, cy + r]], np.int32)
            cv2.fillPoly(img, [pts], colour)
    return img


def make_synthetic_dataset(
    root: PathLike,
    per_class: Sequence[int] = (40, 40, 40),
    splits: Sequence[tuple[str, float]] = (("train", 0.7), ("val", 0.15), ("test", 0.15)),
    size: tuple[int, int] = (120, 160),
    seed: int = 0,
) -> dict[str, Path]:
    """Write JPEGs under ``root/images/<label>/`` and B-T4SA split files ``sentiment_<split>.txt``.

    Returns split name -> split file path.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    lines: dict[str, list[str]] = {name: [] for name, _ in splits}
    for label, n in enumerate(per_class):
        folder = root / "images" / SENTIMENT_LABELS[label]
        folder.mkdir(parents=True, exist_ok=True)
        order = rng.permutation(n)
        bounds = np.cumsum([0] + [round(frac * n) for _, frac in splits])
        bounds[-1] = n
        for i in range(n):
            rel = f"images/{SENTIMENT_LABELS[label]}/{i:04d}.jpg"
            cv2.imwrite(str(root / rel), synthetic_image(label, rng, size), [cv2.IMWRITE_JPEG_QUALITY, 90])
            pos = int(np.searchsorted(bounds, order[i], side="right") - 1)
            lines[splits[pos][0]].append(f"{rel} {label}")
    out = {}
    for name, _ in splits:
        path = root / f"sentiment_{name}.txt"
        path.write_text("\n".join(sorted(lines[name])) + "\n")
        out[name] = path
    (root / "README.txt").write_text(SYNTHETIC_NOTICE + "\n")
    return out


def make_synthetic_video(
    path: PathLike, frames: int = 90, size: tuple[int, int] = (480, 640), fps: float = 30.0, seed: int = 0
) -> Path:
    """Write a clip whose scene changes class every ``frames // 3`` frames (MJPG .avi or mp4v .mp4)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if path.suffix.lower() == ".mp4" else "MJPG"))
    h, w = size
    writer = cv2.VideoWriter(str(path), fourcc, fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write video to {path}")
    rng = np.random.default_rng(seed)
    per_scene = max(1, frames // 3)
    scene = None
    try:
        for i in range(frames):
            label = min(i // per_scene, 2)
            if scene is None or i % per_scene == 0:
                scene = synthetic_image(label, rng, size)
            # A slow pan keeps consecutive frames different, as a real camera would.
            writer.write(np.roll(scene, shift=(i % per_scene) * 2, axis=1))
    finally:
        writer.release()
    return path
