"""Keras 3 model -> TFLite flatbuffer bytes, one quantisation variant at a time.

Goes through ``model.export`` (a SavedModel) rather than ``from_keras_model``, which has broken
on Keras 3 models over several TF releases, especially with a nested backbone.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence, Union

import numpy as np

from sentilite.errors import ConversionError
from sentilite.tf_import import import_tensorflow

PathLike = Union[str, os.PathLike]

#: Variant name -> one-line description.
VARIANTS: dict[str, str] = {
    "float32": "float32 weights and activations",
    "float16": "float16 weights, float32 compute",
    "dynamic-int8": "int8 weights, activations quantised on the fly (dynamic range)",
    "int8": "full integer: int8 weights and activations, calibrated on a representative set",
}
IO_TYPES = ("uint8", "int8", "float32")


def parse_variants(text: Union[str, Sequence[str]]) -> list[str]:
    names = [v.strip() for v in (text.split(",") if isinstance(text, str) else text) if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown or not names:
        raise ConversionError(f"Unknown variant(s) {', '.join(unknown) or '(none)'}.", f"choose from {', '.join(VARIANTS)}")
    return list(dict.fromkeys(names))


def export_saved_model(model: Any, directory: PathLike) -> Path:
    """Write ``model`` as a SavedModel with one serving signature (Keras 3 ``model.export``)."""
    model.export(os.fspath(directory), format="tf_saved_model", verbose=False)
    return Path(directory)


def convert_saved_model(
    saved_model_dir: PathLike,
    variant: str,
    representative: Optional[Callable[[], Iterable[Sequence[np.ndarray]]]] = None,
    io_type: str = "uint8",
    allow_select_tf_ops: bool = False,
) -> bytes:
    """Convert a SavedModel into one TFLite variant; returns the flatbuffer bytes."""
    tf = import_tensorflow("conversion")
    if variant not in VARIANTS:
        raise ConversionError(f"Unknown variant {variant!r}.", f"choose from {', '.join(VARIANTS)}")
    if io_type not in IO_TYPES:
        raise ConversionError(f"Unknown I/O type {io_type!r}.", f"choose from {', '.join(IO_TYPES)}")
    conv = tf.lite.TFLiteConverter.from_saved_model(os.fspath(saved_model_dir))
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if variant == "float16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif variant == "dynamic-int8":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif variant == "int8":
        if representative is None:
            raise ConversionError("Full-integer int8 needs a representative dataset.", "pass --calib SPLIT")
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if io_type != "float32":
            conv.inference_input_type = getattr(tf, io_type)
            conv.inference_output_type = getattr(tf, io_type)
    if allow_select_tf_ops:
        ops = ops + [tf.lite.OpsSet.SELECT_TF_OPS]
    conv.target_spec.supported_ops = ops
    try:
        return bytes(conv.convert())
    except Exception as exc:  # the converter raises ConverterError, RuntimeError, ValueError...
        raise ConversionError(f"TFLite conversion to {variant} failed: {str(exc).strip()[:2000]}") from exc


def convert_keras_model(
    model: Any,
    variants: Sequence[str],
    representative: Optional[Callable[[], Iterable[Sequence[np.ndarray]]]] = None,
    io_type: str = "uint8",
    allow_select_tf_ops: bool = False,
) -> dict[str, bytes]:
    """Convert a loaded Keras model into each variant (one SavedModel export shared by all)."""
    with tempfile.TemporaryDirectory(prefix="sentilite-export-") as tmp:
        sm = export_saved_model(model, Path(tmp) / "saved_model")
        return {
            v: convert_saved_model(sm, v, representative, io_type, allow_select_tf_ops) for v in variants
        }
