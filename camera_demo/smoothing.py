"""Temporal smoothing of class probabilities, with hysteresis on the shown label.

An exponential moving average (EMA) of the probabilities damps frame-to-frame noise; the
shown label then changes only when another class leads the current one by a margin, so a
scene sitting between two classes does not make the label flicker.
"""

from __future__ import annotations

from typing import Optional

import numpy as np


class SentimentSmoother:
    """``update(probs)`` -> (shown label index, smoothed probabilities).

    ``alpha`` is the weight of each new frame in the EMA: 1 = no smoothing, 0.3 (default)
    averages over roughly the last 1 / 0.3 ~ 3 frames' worth (a time constant of ~2.8
    frames), smaller is smoother. ``hysteresis`` is the lead (in probability) another class
    must have over the shown one before the label switches; 0 switches at once.
    """

    def __init__(self, num_classes: int, alpha: float = 0.3, hysteresis: float = 0.1) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"smoothing must be in (0, 1] (1 = off), got {alpha}")
        if not 0.0 <= hysteresis < 1.0:
            raise ValueError(f"hysteresis must be in [0, 1), got {hysteresis}")
        self.num_classes, self.alpha, self.hysteresis = num_classes, float(alpha), float(hysteresis)
        self.probs: Optional[np.ndarray] = None
        self.label: Optional[int] = None
        self.switches = 0

    def reset(self) -> None:
        self.probs, self.label = None, None

    def update(self, probs: np.ndarray) -> tuple[int, np.ndarray]:
        p = np.asarray(probs, dtype=np.float64).reshape(-1)
        if p.shape[0] != self.num_classes:
            raise ValueError(f"expected {self.num_classes} probabilities, got {p.shape[0]}")
        if self.probs is None:
            self.probs = p.copy()
        else:
            self.probs += self.alpha * (p - self.probs)
        best = int(self.probs.argmax())
        if self.label is None:
            self.label = best
        elif best != self.label and self.probs[best] - self.probs[self.label] > self.hysteresis:
            self.label = best
            self.switches += 1
        return self.label, self.probs
