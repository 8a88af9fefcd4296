"""Drawing the annotated frame: label, one bar per class, frame-rate figures and timings.

Drawn in place on the frame: rectangles with OpenCV, text with a small bitmap font
(:mod:`camera_demo.font`, not ``cv2.putText``, whose TrueType engine in OpenCV 5 costs 8.5 MB),
and the two panels darkened by a bit shift of just their pixels; the whole overlay takes
about 0.1 ms on a 640x480 frame.

Layout (scaled with the frame size)::

    +-------------------------+
    | POSITIVE 87%            |
    | negative [##      ] 5%  |
    | neutral  [#       ] 8%  |
    | positive [######  ] 87% |
    +-------------------------+
    ...
    capture 30.0 fps   inference 270.3 fps   shown 29.9 fps
    latency 12.3 ms   dropped 3   duplicate 0
    mean ms: preprocess 1.02  inference 3.70  draw 0.21
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import cv2
import numpy as np

from sentilite.core.heads import Head

from .font import BitmapFont

#: BGR colour per well-known label; other labels cycle through PALETTE.
LABEL_COLOURS = {"negative": (70, 70, 235), "neutral": (200, 200, 200), "positive": (80, 210, 80)}
PALETTE = [(235, 160, 60), (60, 200, 235), (200, 90, 200), (120, 220, 180)]
TEXT = (255, 255, 255)
DIM = (150, 150, 150)
SOFT = (200, 200, 200)
EMOTION_COLOUR = (208, 111, 122)  # BGR of the serve pages' emotion purple


@dataclass
class Figures:
    """What the overlay shows besides the probabilities (running values)."""

    capture_fps: float = 0.0
    inference_fps: float = 0.0
    shown_fps: float = 0.0
    latency_ms: float = 0.0
    dropped: int = 0
    duplicates: int = 0
    preprocess_ms: float = 0.0
    inference_ms: float = 0.0
    draw_ms: float = 0.0


def _darken(img: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> None:
    roi = img[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)]
    if roi.size:
        np.right_shift(roi, 1, out=roi)  # halve the brightness: a cheap translucent panel


class Overlay:
    """Draws the demo's overlay for a fixed list of labels (layout cached per frame size)."""

    def __init__(self, labels: Sequence[str], heads: Sequence[Head] = ()) -> None:
        self.labels = list(labels)
        self.heads = tuple(heads)
        self.colours = [
            LABEL_COLOURS.get(name.lower(), PALETTE[i % len(PALETTE)]) for i, name in enumerate(self.labels)
        ]
        self._layouts: dict[tuple[int, int], dict] = {}

    def _layout(self, h: int, w: int) -> dict:
        key = (h, w)
        lay = self._layouts.get(key)
        if lay is None:
            s = max(0.5, min(h / 480.0, w / 640.0, 3.0))
            fs = max(1, int(round(s * 1.25)))  # text pixel scale: 1 up to ~540p, 2 at 720p/1080p
            small, title = BitmapFont(fs), BitmapFont(2 * fs, bold=True)
            px = lambda v: max(1, int(round(v * fs)))  # noqa: E731
            n = len(self.labels)
            name_w = max(small.text_size(name)[0] for name in self.labels)
            pad, row = px(6), small.height + px(6)
            bar_x0 = pad + px(6) + name_w + px(6)
            bar_w, bar_h = px(100), small.height
            title_h = title.height + px(6)
            panel = (
                pad,
                pad,
                bar_x0 + bar_w + px(6) + small.text_size("100%")[0] + px(6),
                pad + px(6) + title_h + n * row,
            )
            line = small.height + px(4)
            strip_y0 = h - 3 * line - px(6)
            lay = {
                "small": small,
                "title_font": title,
                "panel": panel,
                "title": (pad + px(6), pad + px(6)),
                "rows": [pad + px(6) + title_h + i * row for i in range(n)],
                "name_x": pad + px(6),
                "bar": (bar_x0, bar_w, bar_h),
                "pct_x": bar_x0 + bar_w + px(6),
                "strip": strip_y0,
                "lines": [strip_y0 + px(4) + i * line for i in range(3)],
                "text_x": pad,
            }
            self._layouts[key] = lay
        return lay

    def draw(
        self,
        img: np.ndarray,
        label: int,
        probs: Sequence[float],
        fig: Figures,
        heads: Optional[Mapping[str, np.ndarray]] = None,
    ) -> np.ndarray:
        """Annotate ``img`` (BGR uint8) in place and return it; ``heads``: a multi-head model's extra
        readings, drawn top right (emotion bars, the valence/arousal point)."""
        if heads:
            draw_heads(img, self.heads, heads, self._layout(*img.shape[:2])["small"])
        h, w = img.shape[:2]
        lay = self._layout(h, w)
        small: BitmapFont = lay["small"]
        x0, y0, x1, y1 = lay["panel"]
        _darken(img, x0, y0, x1, y1)
        lay["title_font"].put(
            img, f"{self.labels[label].upper()} {probs[label]:.0%}", lay["title"], self.colours[label]
        )
        bx, bw, bh = lay["bar"]
        for i, y in enumerate(lay["rows"]):
            p = float(probs[i])
            small.put(img, self.labels[i], (lay["name_x"], y), TEXT if i == label else DIM)
            cv2.rectangle(img, (bx, y), (bx + bw, y + bh - 1), DIM, 1, cv2.LINE_8)
            fill = int(round(bw * min(max(p, 0.0), 1.0)))
            if fill > 0:
                cv2.rectangle(img, (bx, y), (bx + fill, y + bh - 1), self.colours[i], -1, cv2.LINE_8)
            small.put(img, f"{p:4.0%}", (lay["pct_x"], y), TEXT)
        _darken(img, 0, lay["strip"], w, h)
        l1, l2, l3 = lay["lines"]
        tx = lay["text_x"]
        small.put(
            img,
            f"capture {fig.capture_fps:.1f} fps  inference {fig.inference_fps:.1f} fps  shown {fig.shown_fps:.1f} fps",
            (tx, l1),
            TEXT,
        )
        small.put(
            img, f"latency {fig.latency_ms:.1f} ms  dropped {fig.dropped}  duplicate {fig.duplicates}", (tx, l2), TEXT
        )
        small.put(
            img,
            f"mean ms: preprocess {fig.preprocess_ms:.2f}  inference {fig.inference_ms:.2f}  draw {fig.draw_ms:.2f}",
            (tx, l3),
            SOFT,
        )
        return img

    def regions(self, h: int, w: int) -> list[tuple[int, int, int, int]]:
        """(x0, y0, x1, y1) boxes the overlay draws into on an ``h x w`` frame (for tests)."""
        lay = self._layout(h, w)
        boxes = [lay["panel"], (0, lay["strip"], w, h)]
        return boxes + ([heads_panel(self.heads, lay["small"], w)] if self.heads else [])


def heads_panel(heads: Sequence[Head], font: BitmapFont, w: int) -> tuple[int, int, int, int]:
    """The top-right box the extra heads are drawn into."""
    dist = next((h for h in heads if h.kind == "distribution"), None)
    rows = len(dist.labels) if dist else 0
    name_w = max([font.text_size(n)[0] for n in dist.labels] if dist else [0])
    width = max(name_w + 6 + 60, 64) + 12
    height = 8 + rows * (font.height + 3) + (64 + 8 if any(h.kind == "regression" for h in heads) else 0)
    return (w - width - 6, 6, w - 6, 6 + height)


def draw_heads(img: np.ndarray, heads: Sequence[Head], values: Mapping[str, np.ndarray], font: BitmapFont) -> None:
    """The emotion bars (the top one highlighted) and a valence (x) / arousal (y) square with its point."""
    x0, y0, x1, y1 = heads_panel(heads, font, img.shape[1])
    _darken(img, x0, y0, x1, y1)
    y = y0 + 4
    for h in heads:
        v = values.get(h.name)
        if v is None:
            continue
        if h.kind == "distribution":
            top = int(np.argmax(v))
            name_w = max(font.text_size(n)[0] for n in h.labels)
            for i, name in enumerate(h.labels):
                font.put(img, name, (x0 + 6, y), TEXT if i == top else DIM)
                bx = x0 + 6 + name_w + 6
                cv2.rectangle(img, (bx, y), (bx + 60, y + font.height - 1), DIM, 1, cv2.LINE_8)
                fill = int(round(60 * min(max(float(v[i]), 0.0), 1.0)))
                if fill > 0:
                    cv2.rectangle(img, (bx, y), (bx + fill, y + font.height - 1), EMOTION_COLOUR, -1, cv2.LINE_8)
                y += font.height + 3
        elif h.scale is not None and len(v) >= 2:
            lo, hi = h.scale
            sx, sy = x0 + 6, y + 4
            cv2.rectangle(img, (sx, sy), (sx + 60, sy + 60), DIM, 1, cv2.LINE_8)
            cv2.line(img, (sx + 30, sy), (sx + 30, sy + 60), DIM, 1, cv2.LINE_8)
            cv2.line(img, (sx, sy + 30), (sx + 60, sy + 30), DIM, 1, cv2.LINE_8)
            fx = (float(v[0]) - lo) / (hi - lo)
            fy = (float(v[1]) - lo) / (hi - lo)
            cx, cy = sx + int(round(60 * min(max(fx, 0.0), 1.0))), sy + 60 - int(round(60 * min(max(fy, 0.0), 1.0)))
            cv2.circle(img, (cx, cy), 4, EMOTION_COLOUR, -1, cv2.LINE_AA)
            font.put(img, f"V {float(v[0]):.1f}", (sx + 66, sy + 4), TEXT)
            font.put(img, f"A {float(v[1]):.1f}", (sx + 66, sy + 4 + font.height + 3), TEXT)
            y = sy + 68


def render_example(path: Union[str, os.PathLike], labels: Sequence[str] = ("negative", "neutral", "positive")) -> Path:
    """Write one annotated synthetic 640x480 frame (made-up figures) to ``path`` (PNG/JPEG)."""
    from sentilite.core.synthetic import synthetic_image

    frame = synthetic_image(2, np.random.default_rng(3), (480, 640))
    probs = np.array([0.06, 0.13, 0.81])[: len(labels)]
    fig = Figures(29.9, 268.4, 29.9, 38.2, 3, 0, 1.02, 3.73, 0.24)
    Overlay(labels).draw(frame, int(np.argmax(probs)), probs, fig)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), frame):
        raise OSError(f"cannot write {out}")
    return out
