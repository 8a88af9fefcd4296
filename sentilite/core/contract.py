"""The preprocessing contract: how a decoded image becomes model input, and what the outputs mean.

Defined once here, recorded by training, embedded by conversion inside every .tflite (and in
the .keras zip), and read back by evaluate, bench, demo and info, so the parts cannot disagree.
The arithmetic that applies it lives in :mod:`sentilite.core.preprocess`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping, Optional, Sequence

from .decision import DecisionRule
from .errors import ContractError
from .heads import Head
from .labels import SENTIMENT_LABELS

CONTRACT_FORMAT = "sentilite-contract"
CONTRACT_VERSION = 1

RESIZE_POLICIES = ("center_crop", "stretch")
COLOR_ORDERS = ("RGB", "BGR")
#: How the kept region is resampled to the input size (every sentilite path follows it):
#: ``area``: OpenCV INTER_AREA (pixel-area average when shrinking, bilinear when enlarging);
#: ``linear``: OpenCV ``cv2.resize`` INTER_LINEAR (half-pixel centres, as tf.image.resize);
#: ``warp_linear``: bilinear sampling at ``left + i * crop / size`` (region corners onto tensor
#: corners), which is what MediaPipe Tasks' ImageToTensor does (OpenCV warp, INTER_LINEAR).
INTERPOLATIONS = ("area", "linear", "warp_linear")


@dataclass(frozen=True)
class Normalization:
    """``x = (pixel / 255 - mean) / std`` per channel, in the contract's colour order."""

    name: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def value_range(self) -> tuple[float, float]:
        """Smallest and largest normalised value a 0..255 pixel can take, over all channels."""
        lows = [(0.0 - m) / s for m, s in zip(self.mean, self.std)]
        highs = [(1.0 - m) / s for m, s in zip(self.mean, self.std)]
        return min(lows), max(highs)


#: Named normalisations. ``imagenet`` is torchvision's (also keras.applications' "torch" mode).
NORMALIZATIONS: dict[str, Normalization] = {
    "unit": Normalization("unit", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),  # [0, 1]
    "symmetric": Normalization("symmetric", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),  # [-1, 1]
    "imagenet": Normalization("imagenet", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "raw": Normalization("raw", (0.0, 0.0, 0.0), (1 / 255, 1 / 255, 1 / 255)),  # 0..255 as float
    # Caffe / keras.applications "caffe" mode (VGG19): BGR order, ImageNet mean subtracted from
    # 0..255 pixels, no scaling. The means are in BGR order: use it with color_order "BGR".
    "caffe": Normalization("caffe", (103.939 / 255, 116.779 / 255, 123.68 / 255), (1 / 255, 1 / 255, 1 / 255)),
}


def normalization(name_or_obj: str | Normalization | Mapping[str, Any]) -> Normalization:
    """Look up a named normalisation, or build one from a mapping with name/mean/std."""
    if isinstance(name_or_obj, Normalization):
        return name_or_obj
    if isinstance(name_or_obj, str):
        try:
            return NORMALIZATIONS[name_or_obj]
        except KeyError:
            raise ContractError(
                f"Unknown normalisation {name_or_obj!r}.", f"use one of {', '.join(NORMALIZATIONS)}"
            ) from None
    try:
        mean = tuple(float(v) for v in name_or_obj["mean"])
        std = tuple(float(v) for v in name_or_obj["std"])
        name = str(name_or_obj.get("name", "custom"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ContractError(f"Invalid normalisation {name_or_obj!r}: {exc}.") from None
    if len(mean) != 3 or len(std) != 3 or any(s == 0 for s in std):
        raise ContractError(f"Normalisation needs 3 means and 3 non-zero stds, got {name_or_obj!r}.")
    return Normalization(name, mean, std)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PreprocessContract:
    """Input size, colour order, resize policy, normalisation and label names of one model."""

    height: int = 224
    width: int = 224
    color_order: str = "RGB"
    resize: str = "center_crop"
    norm: Normalization = field(default_factory=lambda: NORMALIZATIONS["imagenet"])
    labels: tuple[str, ...] = SENTIMENT_LABELS
    output: str = "probabilities"
    interpolation: str = "area"
    #: Where a centre crop starts: "exact" (``(w - crop) / 2``, half pixels kept: the region an app
    #: naturally passes to MediaPipe, sampled as such by warp_linear) or "floor" (whole pixels,
    #: what every file written before the field existed used). Area and linear resizing cut whole
    #: pixels, so they floor either way.
    crop_offsets: str = "exact"
    #: Set on pixel-in models: the normalisation the graph applies itself (``norm`` is then "raw").
    norm_in_graph: Optional[Normalization] = None
    #: Calibration and the neutral decision rule every classifier applies to the outputs.
    decision: DecisionRule = field(default_factory=DecisionRule)
    #: Free-form facts about where the model came from (backbone, training data, variant...).
    provenance: Mapping[str, Any] = field(default_factory=dict)
    #: Outputs after the sentiment head (seven emotions, valence/arousal...), in output order.
    heads: tuple[Head, ...] = ()

    def __post_init__(self) -> None:
        problems = []
        if not (isinstance(self.height, int) and isinstance(self.width, int)) or min(self.height, self.width) < 8:
            problems.append(f"input size {self.height}x{self.width} (need integers >= 8)")
        if self.color_order not in COLOR_ORDERS:
            problems.append(f"colour order {self.color_order!r} (need one of {COLOR_ORDERS})")
        if self.resize not in RESIZE_POLICIES:
            problems.append(f"resize policy {self.resize!r} (need one of {RESIZE_POLICIES})")
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            problems.append(f"labels {list(self.labels)} (need at least 2 distinct names)")
        if self.interpolation not in INTERPOLATIONS:
            problems.append(f"interpolation {self.interpolation!r} (need one of {INTERPOLATIONS})")
        if self.crop_offsets not in ("exact", "floor"):
            problems.append(f"crop offsets {self.crop_offsets!r} (need 'exact' or 'floor')")
        if self.norm_in_graph is not None and self.norm.name != "raw":
            problems.append(f"normalisation {self.norm.name!r} outside a graph that normalises itself (need 'raw')")
        if self.output not in ("probabilities", "logits"):
            problems.append(f"output {self.output!r} (need 'probabilities' or 'logits')")
        if len({h.name for h in self.heads}) != len(self.heads):
            problems.append(f"heads {[h.name for h in self.heads]} (need distinct names)")
        if problems:
            raise ContractError("Invalid preprocessing contract: " + "; ".join(problems) + ".")

    @classmethod
    def create(
        cls,
        size: int | Sequence[int] = 224,
        norm: str | Normalization | Mapping[str, Any] = "imagenet",
        labels: Sequence[str] = SENTIMENT_LABELS,
        **kwargs: Any,
    ) -> PreprocessContract:
        """Convenience constructor: ``size`` is an int (square) or (height, width)."""
        h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
        return cls(height=h, width=w, norm=normalization(norm), labels=tuple(labels), **kwargs)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, 3)

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def pixel_in(self) -> bool:
        """True when the model takes raw pixels and normalises inside its graph."""
        return self.norm_in_graph is not None

    @property
    def floors_crop(self) -> bool:
        """Whether the centre crop starts at floored offsets (not where an app centres it)."""
        return self.crop_offsets == "floor" or self.interpolation != "warp_linear"

    @property
    def model_norm(self) -> Normalization:
        """The normalisation the network was trained with, wherever it is applied."""
        return self.norm_in_graph or self.norm

    def as_pixel_in(self) -> PreprocessContract:
        """The contract of the same network with its normalisation moved inside the graph."""
        if self.pixel_in:
            return self
        return replace(self, norm=NORMALIZATIONS["raw"], norm_in_graph=self.norm)

    def with_provenance(self, **facts: Any) -> PreprocessContract:
        """A copy with ``facts`` merged into the provenance."""
        return replace(self, provenance={**dict(self.provenance), **facts})

    def same_preprocessing(self, other: PreprocessContract, tol: float = 1e-6) -> bool:
        """True when both turn any image into the same input and use the same labels and heads."""
        return (
            self.height,
            self.width,
            self.color_order,
            self.resize,
            self.interpolation,
            self.crop_offsets,
            self.labels,
            self.output,
            self.pixel_in,
            self.heads,
        ) == (
            other.height,
            other.width,
            other.color_order,
            other.resize,
            other.interpolation,
            other.crop_offsets,
            other.labels,
            other.output,
            other.pixel_in,
            other.heads,
        ) and all(abs(a - b) <= tol for a, b in zip(self.norm.mean + self.norm.std, other.norm.mean + other.norm.std))

    # -- serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": CONTRACT_FORMAT,
            "version": CONTRACT_VERSION,
            "input": {
                "height": self.height,
                "width": self.width,
                "channels": 3,
                "color_order": self.color_order,
                "resize": self.resize,
                "interpolation": self.interpolation,
                "crop_offsets": self.crop_offsets,
            },
            "normalization": {**asdict(self.norm), "formula": "(pixel / 255 - mean) / std"},
            **({"normalization_in_graph": asdict(self.norm_in_graph)} if self.norm_in_graph else {}),
            **({"decision": self.decision.to_dict()} if not self.decision.identity else {}),
            "labels": list(self.labels),
            "output": self.output,
            **({"heads": [h.to_dict() for h in self.heads]} if self.heads else {}),
            "provenance": dict(self.provenance),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PreprocessContract:
        if not isinstance(data, Mapping) or data.get("format") != CONTRACT_FORMAT:
            raise ContractError("This is not a sentilite preprocessing contract.")
        if int(data.get("version", 0)) > CONTRACT_VERSION:
            raise ContractError(
                f"Contract version {data.get('version')} is newer than this sentilite understands.",
                "upgrade sentilite (pip install -U sentilite)",
            )
        try:
            inp = data["input"]
            return cls(
                height=int(inp["height"]),
                width=int(inp["width"]),
                color_order=str(inp.get("color_order", "RGB")),
                resize=str(inp.get("resize", "center_crop")),
                # files written before the field existed were all resized with INTER_AREA
                interpolation=str(inp.get("interpolation", "area")),
                # and cropped at whole-pixel (floored) offsets
                crop_offsets=str(inp.get("crop_offsets", "floor")),
                norm=normalization({k: data["normalization"][k] for k in ("name", "mean", "std")}),
                norm_in_graph=normalization(data["normalization_in_graph"])
                if data.get("normalization_in_graph")
                else None,
                decision=DecisionRule.from_dict(data.get("decision")),
                labels=tuple(str(x) for x in data["labels"]),
                output=str(data.get("output", "probabilities")),
                provenance=dict(data.get("provenance") or {}),
                heads=tuple(Head.from_dict(h) for h in data.get("heads") or ()),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ContractError(f"Malformed preprocessing contract ({exc!r}).") from None

    @classmethod
    def from_json(cls, text: str | bytes) -> PreprocessContract:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than any contract has
            raise ContractError(
                f"Preprocessing contract is not valid JSON ({exc}).", "re-convert the model with `sentilite convert`"
            ) from None
        return cls.from_dict(data)

    def describe(self) -> str:
        """One human line, e.g. ``224x224 RGB, center_crop, imagenet (mean .. std ..)``."""
        n = self.model_norm
        mean = ", ".join(f"{v:g}" for v in n.mean)
        std = ", ".join(f"{v:g}" for v in n.std)
        where = " inside the model: it takes raw 0-255 pixels" if self.pixel_in else ""
        d = self.decision
        rule = (
            ""
            if d.identity
            else (
                f"; outputs calibrated (temperature {d.temperature:g}) with class log-offsets "
                f"{[round(b, 3) for b in d.class_log_bias]}"
            )
        )
        floored = " (offsets floored to whole pixels)" if self.resize == "center_crop" and self.floors_crop else ""
        return (
            f"{self.height}x{self.width} {self.color_order}, {self.resize}{floored}, {self.interpolation} resize, "
            f"{n.name} normalisation ((pixel/255 - [{mean}]) / [{std}]){where}{rule}"
        )
