"""Benchmark inputs, made on the host: real images through each model's own contract, or random.

With ``--images DIR`` every image is decoded and encoded on the host exactly as inference
would (``TFLiteClassifier.encode`` for a .tflite: crop, resize, normalise and quantise with the
model's scale and zero point; ``sentilite.core.preprocess.prepare`` for a .keras) and saved as one
``.npy`` of ready model inputs, shape ``(N, 1, H, W, 3)``. The device runner only loads it, so
preprocessing lives in one place. Without images the runner draws random values in the range
:func:`device_bench.models.random_input_spec` gives.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from sentilite.core.errors import InputFileError

from .models import ModelEntry, random_input_spec

PathLike = Union[str, os.PathLike]

DEFAULT_MAX_IMAGES = 16


def list_images(folder: PathLike, limit: int = DEFAULT_MAX_IMAGES) -> list[Path]:
    """Up to ``limit`` image files from ``folder`` (sorted, recursive), or a clear error."""
    from sentilite.core.datasets import list_images as all_images

    try:
        return all_images(folder)[:limit]
    except InputFileError as exc:
        raise InputFileError(f"--images: {exc.problem}", "pass a folder of .jpg/.png images") from None


def encode_images(entry: ModelEntry, images: list[Path]) -> np.ndarray:
    """``(N, 1, H, W, 3)`` array of model inputs (the model's input dtype) for ``images``."""
    from sentilite.core.imageio import load_image

    decoded = [load_image(p) for p in images]
    if entry.kind == "tflite":
        from sentilite.core.classifier import TFLiteClassifier

        clf = TFLiteClassifier(entry.path, num_threads=1)
        return np.stack([clf.encode(im) for im in decoded])
    from sentilite.core.modelfile import require_contract
    from sentilite.core.preprocess import prepare

    contract = require_contract(entry.path)
    return np.stack([prepare(im, contract)[None] for im in decoded]).astype(np.float32)


def prepare_inputs(
    entries: list[ModelEntry], images: Optional[PathLike], folder: Path, max_images: int = DEFAULT_MAX_IMAGES
) -> tuple[dict[int, dict[str, Any]], dict[int, Path], str]:
    """Per model index: the runner's input spec and (for images) the .npy file written to ``folder``.

    Returns ``(specs, files, description)``; ``files`` maps the model index to its .npy.
    """
    specs: dict[int, dict[str, Any]] = {}
    files: dict[int, Path] = {}
    if images is None:
        for i, e in enumerate(entries):
            specs[i] = random_input_spec(e)
        return specs, files, "random values in each input's range"
    paths = list_images(images, max_images)
    folder.mkdir(parents=True, exist_ok=True)
    for i, e in enumerate(entries):
        arr = encode_images(e, paths)
        f = folder / f"in{i}.npy"
        np.save(f, arr)
        files[i] = f
        specs[i] = {"kind": "npy", "path": f.name}
    return specs, files, f"{len(paths)} images from {images}, encoded on the host through each model's contract"
