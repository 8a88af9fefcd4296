"""Helpers for the train/ tests: tiny configs that train in about a second."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sentilite.train.config import TrainConfig


def tiny_config(splits: dict[str, Path], out: Path, cache: Path, **overrides: Any) -> TrainConfig:
    """The distillation student at 32 px on synthetic data, 2 epochs, quiet."""
    kw: dict[str, Any] = dict(
        data=[str(splits["train"])], val=str(splits["val"]), backbone="student", input_size=32, mode="ft-f",
        epochs=2, batch_size=16, out=str(out), cache_dir=str(cache), verbose=False, plots=False,
    )
    kw.update(overrides)
    return TrainConfig(**kw)


def write_bad_images(folder: Path) -> dict[str, Path]:
    """A truncated JPEG, a text file named .jpg and an empty file; returns name -> path."""
    import cv2
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".jpg", np.full((40, 50, 3), 128, np.uint8))
    assert ok
    paths = {
        "truncated": folder / "truncated.jpg",
        "text": folder / "notes.jpg",
        "empty": folder / "empty.jpg",
    }
    paths["truncated"].write_bytes(buf.tobytes()[: len(buf) // 3])
    paths["text"].write_text("this is not an image")
    paths["empty"].write_bytes(b"")
    return paths
