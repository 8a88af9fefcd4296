"""The readings a model gives besides sentiment: its extra output heads, declared in the contract.

Output 0 of every sentilite model is the sentiment head the contract's ``labels``, ``output`` and
``decision`` describe. A multi-head model (issue 30) has more outputs, each a :class:`Head`:

- ``distribution``: a probability distribution over ``labels`` (the seven emotions), trained
  against annotators' shares; ``output`` says whether the graph ends in a softmax or in logits;
- ``regression``: one value per name in ``labels`` (valence, arousal) on the ``scale`` given;
- ``embedding``: a unit-length vector of ``dims`` values in a word-vector space (issue 31's
  semantic head); what it means is read against the model's vocabulary (core.vocabulary).

The contract lists the heads in output order. A converter may reorder a file's outputs, so a
reader maps them back (:func:`match_outputs`): by name where the file names its outputs after the
heads, else by width where every head's width is unique, else it refuses the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from .affect import EMOTIONS, SCALE
from .errors import ContractError

HEAD_KINDS = ("distribution", "regression", "embedding")
SENTIMENT = "sentiment"


@dataclass(frozen=True)
class Head:
    """One extra output of a model: its name, what its values are, and their labels."""

    name: str
    kind: str
    labels: tuple[str, ...]
    output: str = "probabilities"  # distribution heads: "probabilities" or "logits"
    scale: Optional[tuple[float, float]] = None  # regression heads: the values' range
    dims: int = 0  # embedding heads: the vector's length

    def __post_init__(self) -> None:
        problems = []
        if not self.name or self.name == SENTIMENT:
            problems.append(f"name {self.name!r} (need a name other than {SENTIMENT!r})")
        if self.kind not in HEAD_KINDS:
            problems.append(f"kind {self.kind!r} (need one of {HEAD_KINDS})")
        if self.kind == "embedding":
            if self.dims < 2 or self.labels:
                problems.append(f"an embedding head needs dims >= 2 and no labels, got {self.dims} and {self.labels}")
        elif not self.labels or len(set(self.labels)) != len(self.labels):
            problems.append(f"labels {list(self.labels)} (need distinct names)")
        if self.kind == "distribution" and (len(self.labels) < 2 or self.output not in ("probabilities", "logits")):
            problems.append("a distribution head needs 2+ labels and output 'probabilities' or 'logits'")
        if self.kind == "regression" and (self.scale is None or not self.scale[0] < self.scale[1]):
            problems.append(f"a regression head needs a scale (low, high), got {self.scale!r}")
        if problems:
            raise ContractError(f"Invalid head {self.name!r}: " + "; ".join(problems) + ".")

    @property
    def width(self) -> int:
        return self.dims if self.kind == "embedding" else len(self.labels)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"name": self.name, "kind": self.kind, "labels": list(self.labels)}
        if self.kind == "distribution":
            out["output"] = self.output
        elif self.kind == "embedding":
            out["dims"] = self.dims
        else:
            out["scale"] = list(self.scale or ())
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Head:
        scale = data.get("scale")
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            labels=tuple(str(x) for x in data["labels"]),  # type: ignore[attr-defined]
            output=str(data.get("output", "probabilities")),
            scale=(float(scale[0]), float(scale[1])) if scale else None,  # type: ignore[index]
            dims=int(data.get("dims", 0)),  # type: ignore[call-overload]
        )


#: the seven-emotion head issue 30 defines (Emotion6's emotions, its column order)
EMOTION_HEAD = Head("emotions", "distribution", EMOTIONS)
#: valence and arousal on Emotion6's 1-9 scale (OASIS ratings are mapped onto it)
VALENCE_AROUSAL_HEAD = Head("valence_arousal", "regression", ("valence", "arousal"), scale=SCALE)
#: a photo in GloVe 6B's 50-d word space (issue 31), unit length
SEMANTIC_HEAD = Head("semantic", "embedding", (), dims=50)
#: the heads ``sentilite train --heads`` can add, by name
KNOWN_HEADS = {h.name: h for h in (EMOTION_HEAD, VALENCE_AROUSAL_HEAD, SEMANTIC_HEAD)}


def _names_match(output_name: str, head: str) -> bool:
    # A converter keeps a Keras output's name inside its own (e.g. "StatefulPartitionedCall:1" is
    # useless, "serving_default_emotions:0" is not); compare the words, not the decorations.
    return head in output_name.replace("/", " ").replace(":", " ").replace(";", " ").split() or output_name == head


def match_outputs(
    names: Sequence[str],
    widths: Sequence[int],
    sentiment_width: int,
    heads: Sequence[Head],
    path: object,
    declared: Optional[Sequence[str]] = None,
) -> list[int]:
    """For the sentiment head then each of ``heads``, the index of the file's output that holds it.

    ``names`` and ``widths`` describe the file's outputs in its own order; ``declared``, where the
    converter recorded it, is the head each output holds (``sentilite convert`` reads it off the
    signature, which names outputs in the Keras model's order). Raises :class:`ContractError` when
    the outputs cannot be told apart."""
    wanted = [(SENTIMENT, sentiment_width)] + [(h.name, h.width) for h in heads]
    if len(names) != len(wanted):
        raise ContractError(
            f"{path} has {len(names)} outputs but its contract names {len(wanted)} heads "
            f"({', '.join(n for n, _ in wanted)}).",
            "re-convert the model so its contract lists every output",
        )
    by_name = [next((i for i, n in enumerate(names) if _names_match(n, head)), None) for head, _ in wanted]
    if declared is not None and sorted(declared) == sorted(n for n, _ in wanted):
        order = [list(declared).index(head) for head, _ in wanted]
    elif None not in by_name and len(set(by_name)) == len(by_name):
        order = [int(i) for i in by_name if i is not None]
    elif len({w for _, w in wanted}) == len(wanted):
        order = [list(widths).index(w) if w in widths else -1 for _, w in wanted]
    else:
        raise ContractError(
            f"{path}: cannot tell its outputs apart (names {list(names)}, widths {list(widths)}).",
            "name each Keras output after its head (sentiment, emotions, valence_arousal) before converting",
        )
    for (head, width), i in zip(wanted, order):
        if i < 0 or widths[i] != width:
            raise ContractError(
                f"{path}: no output of width {width} for the {head} head (outputs are {list(widths)} wide).",
                "re-convert the model so its contract matches it",
            )
    return order


def output_order(
    details: Sequence[Mapping[str, Any]],
    sentiment_width: int,
    heads: Sequence[Head],
    path: object,
    declared: Optional[Sequence[str]] = None,
) -> list[int]:
    """:func:`match_outputs` for a .tflite's output details (dicts with ``name`` and ``shape``, as
    LiteRT's ``get_output_details`` gives them)."""
    widths = [int(d["shape"][-1]) for d in details]
    return match_outputs([str(d["name"]) for d in details], widths, sentiment_width, heads, path, declared)


def head_values(head: Head, y: np.ndarray) -> np.ndarray:
    """A head's float output (already dequantised) -> what it means: a distribution over its labels
    (softmax of logits; probabilities renormalised), or its values on its scale."""
    y = np.asarray(y, dtype=np.float32)
    if head.kind == "regression":
        return y
    if head.kind == "embedding":  # unit length again after (de)quantisation
        from .vocabulary import normalize_rows

        return normalize_rows(y)
    if head.output == "logits":
        e = np.exp(y - y.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    # uint8 outputs round each share; the shares of a distribution still sum to one
    return y / np.maximum(y.sum(axis=-1, keepdims=True), 1e-12)
