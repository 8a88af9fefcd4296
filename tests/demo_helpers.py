"""Helpers for the camera-demo tests: clips, fake cameras, a slow model wrapper."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from sentilite.camera_demo.errors import SourceError
from sentilite.camera_demo.sources import Source


def read_frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def read_log(path: Path) -> list[dict]:
    """Every line must parse; returns the records."""
    text = Path(path).read_text()
    assert text == "" or text.endswith("\n"), "the last line is cut short"
    return [json.loads(line) for line in text.splitlines()]


class FlakyCamera(Source):
    """A live 'camera' replaying ``frames``; it stops delivering after ``fail_after`` reads and
    comes back on reopen attempt ``back_on_attempt`` (None = never)."""

    kind = "camera"
    live = True

    def __init__(self, frames: list[np.ndarray], fail_after: int, back_on_attempt: Optional[int] = None) -> None:
        super().__init__()
        self.frames, self.fail_after, self.back_on_attempt = frames, fail_after, back_on_attempt
        self.opens = 0
        self.reads = 0
        self.is_open = False
        self.fps = 30.0

    @property
    def description(self) -> str:
        return "fake camera"

    def open(self) -> None:
        self.opens += 1
        reopen = self.opens - 1
        if reopen and (self.back_on_attempt is None or reopen < self.back_on_attempt):
            raise SourceError("fake camera: device is gone")
        self.is_open = True
        if reopen:
            self.fail_after = float("inf")
        self.frame_size = (self.frames[0].shape[1], self.frames[0].shape[0])

    def read(self) -> Optional[np.ndarray]:
        if not self.is_open or self.reads >= self.fail_after:
            return None
        frame = self.frames[self.reads % len(self.frames)].copy()
        self.reads += 1
        time.sleep(1 / 200)  # a camera delivers at its own pace
        return frame

    def release(self) -> None:
        self.is_open = False


class SlowClassifier:
    """Wraps a classifier; every run() takes at least ``seconds`` longer (a slow model)."""

    def __init__(self, inner, seconds: float) -> None:
        self.inner, self.seconds = inner, seconds
        self.contract, self.warnings, self.path, self.runtime = inner.contract, [], inner.path, inner.runtime

    def encode(self, image, order="RGB"):
        return self.inner.encode(image, order)

    def run(self, x):
        time.sleep(self.seconds)
        return self.inner.run(x)
