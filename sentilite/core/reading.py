"""What one image gets from every head of a model: the record both classifiers return."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .heads import Head


@dataclass(frozen=True)
class Reading:
    """One image read by every head of a model: sentiment probabilities, then the extra heads by
    name (a distribution over the head's labels, or values on its scale)."""

    sentiment: np.ndarray
    heads: dict[str, np.ndarray] = field(default_factory=dict)


def reading_fields(values: Mapping[str, np.ndarray], heads: Sequence[Head]) -> dict[str, Any]:
    """The extra heads' ``values`` (a :class:`Reading`'s ``heads``) as the fields of a record
    (``sentilite predict``, ``/api/predict``, the demo's log): a distribution by its head's name
    (``"emotions": {emotion: p}``), each regression value by its label (``"valence": v,
    "arousal": a``), moved onto Emotion6's 1-9 scale (:data:`sentilite.core.affect.SCALE`)."""
    from .affect import SCALE, to_common_scale

    out: dict[str, Any] = {}
    for h in heads:
        v = values[h.name]
        if h.kind == "embedding":  # a vector in word space: read by `sentilite tag`, not a field
            continue
        if h.kind == "distribution":
            out[h.name] = {n: round(float(p), 6) for n, p in zip(h.labels, v)}
        else:
            lo, hi = h.scale or SCALE
            out.update({n: round(to_common_scale(float(x), lo, hi), 4) for n, x in zip(h.labels, v)})
    return out
