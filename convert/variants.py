"""The conversion variants, as one declarative table (like MediaPipe Model Maker's QuantizationConfig).

Each :class:`VariantSpec` says what the TFLite converter must be told for that variant; adding a
variant is adding a row, not another ``elif``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any, Callable, Iterable, Optional, Sequence, Union

import numpy as np

from sentilite.core.errors import ConversionError

Representative = Callable[[], Iterable[Sequence[np.ndarray]]]
IO_TYPES = ("uint8", "int8", "float32")


@dataclass(frozen=True)
class QuantizerOptions:
    """Knobs of the full-integer quantiser (defaults: what measured best, see convert/README.md).

    ``per_channel``: per-output-channel weight scales for conv/depthwise/dense kernels (False:
    one scale per tensor, the pre-2019 scheme some old accelerators want; measured worse).
    ``bias_correction``: after conversion, remove the mean logit shift int8 noise adds
    (:mod:`sentilite.convert.bias_correction`); applied by :func:`sentilite.convert.api.convert_model`.
    """

    per_channel: bool = True
    bias_correction: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_QUANTIZER = QuantizerOptions()


@dataclass(frozen=True)
class VariantSpec:
    """One TFLite variant: its name, what it is, and the converter settings that make it."""

    name: str
    description: str
    optimize: bool = False  # tf.lite.Optimize.DEFAULT
    float16_weights: bool = False
    full_integer: bool = False  # calibrated on a representative set, integer ops only, I/O type applies
    #: after conversion, hybrid depthwise weights go through DEQUANTIZE so XNNPACK runs the whole graph
    dequantize_depthwise: bool = False

    @classmethod
    def for_float32(cls) -> VariantSpec:
        return cls("float32", "float32 weights and activations")

    @classmethod
    def for_float16(cls) -> VariantSpec:
        return cls("float16", "float16 weights, float32 compute", optimize=True, float16_weights=True)

    @classmethod
    def for_dynamic(cls) -> VariantSpec:
        return cls(
            "dynamic-int8",
            "int8 weights, activations quantised on the fly (dynamic range)",
            optimize=True,
            dequantize_depthwise=True,
        )

    @classmethod
    def for_int8(cls) -> VariantSpec:
        return cls(
            "int8",
            "full integer: int8 weights and activations, calibrated on a representative set",
            optimize=True,
            full_integer=True,
        )

    def describe(self, io_type: str) -> str:
        return self.description + (f", {io_type} I/O" if self.full_integer else "")

    def configure(
        self,
        conv: Any,
        tf: ModuleType,
        representative: Optional[Representative],
        io_type: str,
        quantizer: QuantizerOptions,
    ) -> list[Any]:
        """Set ``conv`` (a TFLiteConverter) up for this variant; returns the op sets it allows."""
        if self.optimize:
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
        if self.float16_weights:
            conv.target_spec.supported_types = [tf.float16]
        if not self.full_integer:
            return [tf.lite.OpsSet.TFLITE_BUILTINS]
        if representative is None:
            raise ConversionError("Full-integer int8 needs a representative dataset.", "pass --calib SPLIT")
        conv.representative_dataset = representative
        if io_type != "float32":
            conv.inference_input_type = getattr(tf, io_type)
            conv.inference_output_type = getattr(tf, io_type)
        if not quantizer.per_channel:
            conv._experimental_disable_per_channel = True
        return [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]


#: every variant, in the order they are converted and reported
VARIANT_SPECS: dict[str, VariantSpec] = {
    s.name: s
    for s in (VariantSpec.for_float32(), VariantSpec.for_float16(), VariantSpec.for_dynamic(), VariantSpec.for_int8())
}
#: variant name -> one-line description
VARIANTS: dict[str, str] = {name: s.description for name, s in VARIANT_SPECS.items()}


def variant_spec(name: str) -> VariantSpec:
    try:
        return VARIANT_SPECS[name]
    except KeyError:
        raise ConversionError(f"Unknown variant {name!r}.", f"choose from {', '.join(VARIANT_SPECS)}") from None


def parse_variants(text: Union[str, Sequence[str]]) -> list[str]:
    names = [v.strip() for v in (text.split(",") if isinstance(text, str) else text) if v.strip()]
    unknown = [v for v in names if v not in VARIANT_SPECS]
    if unknown or not names:
        raise ConversionError(
            f"Unknown variant(s) {', '.join(unknown) or '(none)'}.", f"choose from {', '.join(VARIANT_SPECS)}"
        )
    return list(dict.fromkeys(names))
