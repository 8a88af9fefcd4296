"""What one image gets from every head of a model: the record both classifiers return."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Reading:
    """One image read by every head of a model: sentiment probabilities, then the extra heads by
    name (a distribution over the head's labels, or values on its scale)."""

    sentiment: np.ndarray
    heads: dict[str, np.ndarray] = field(default_factory=dict)
