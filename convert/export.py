"""Keras 3 model -> TFLite flatbuffer bytes, one quantisation variant at a time.

Goes through ``model.export`` (a SavedModel) rather than ``from_keras_model``, which has broken
on Keras 3 models over several TF releases, especially with a nested backbone (a Functional
model used as a layer, as transfer learning produces). One SavedModel export is shared by all
variants.

The converter writes pages of MLIR diagnostics to the process's native stderr; they are held
back here and, when a conversion fails, turned into one :class:`ConversionError` naming the
op TFLite cannot handle (and the ``--allow-select-tf-ops`` way out).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence, Union

from sentilite.core.errors import ConversionError
from sentilite.core.probe import CaptureStderr
from sentilite.core.tf_import import import_tensorflow

from .dynamic_xnnpack import dequantize_depthwise_weights
from .variants import (  # noqa: F401 - re-exported: the converter's vocabulary
    DEFAULT_QUANTIZER,
    IO_TYPES,
    VARIANTS,
    QuantizerOptions,
    Representative,
    parse_variants,
    variant_spec,
)

if TYPE_CHECKING:
    import keras

PathLike = Union[str, os.PathLike]

FLEX_WARNING = (
    "--allow-select-tf-ops: the model may contain TensorFlow (Flex) ops; a device then needs the "
    "Flex delegate (the full TensorFlow Lite runtime with select TF ops), which ai-edge-litert / "
    "tflite-runtime wheels do not include and which adds several MB to an app"
)


def tensorflow_version() -> str:
    return str(import_tensorflow("conversion").__version__)


@contextlib.contextmanager
def captured_native_stderr() -> Iterator[list[str]]:
    """Hold back what C++ code writes to fd 2 (converter diagnostics); yields a one-item list
    that receives the captured text when the block ends. ``SENTILITE_DEBUG`` lets it through."""
    box: list[str] = []
    cap = CaptureStderr(passthrough=bool(os.environ.get("SENTILITE_DEBUG")))
    try:
        with cap:
            yield box
    finally:
        if not cap.passthrough:
            box.append(cap.text)


_OP_PATTERNS = (
    re.compile(r"'tf\.(\w+)' op is neither a custom op nor a flex op"),
    re.compile(r"'tf\.(\w+)' op is not supported"),
    re.compile(r"failed to legalize operation 'tf\.(\w+)'"),
    re.compile(r"(?:Custom|Flex) ops: ([\w, ]+)"),
)


def unsupported_ops(message: str) -> list[str]:
    """TensorFlow op names (``Svd``, ``Erfinv``...) a converter error message says it cannot convert."""
    found: list[str] = []
    for pattern in _OP_PATTERNS:
        for match in pattern.finditer(message):
            found.extend(op.strip() for op in match.group(1).split(",") if op.strip())
    return list(dict.fromkeys(found))


def flex_ops(data: bytes) -> list[str]:
    """Names of the Flex (select TF) custom ops a converted flatbuffer uses; [] when none."""
    from sentilite.core.modelfile import _schema

    schema = _schema()
    if schema is None:
        return []
    model = schema.Model.GetRootAsModel(data, 0)
    names = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i).CustomCode()
        if code and code.decode("utf-8", "replace").startswith("Flex"):
            names.append(code.decode("utf-8", "replace")[4:])
    return sorted(set(names))


def export_saved_model(model: keras.Model, directory: PathLike) -> Path:
    """Write ``model`` as a SavedModel with one serving signature (Keras 3 ``model.export``)."""
    with captured_native_stderr():
        model.export(os.fspath(directory), format="tf_saved_model", verbose=False)
    return Path(directory)


def _conversion_failure(variant: str, exc: BaseException, native: str, allow_select_tf_ops: bool) -> ConversionError:
    text = f"{exc}\n{native}"
    if "Select TensorFlow op" in text and "not supported by this interpreter" in text:
        return ConversionError(
            f"The {variant} variant cannot be calibrated: the model uses TensorFlow (Flex) ops and the "
            "converter's calibration interpreter cannot run them.",
            "leave int8 out of --variants (float32, float16 and dynamic-int8 work with --allow-select-tf-ops), "
            "or replace the layer that needs the Flex ops",
        )
    ops = unsupported_ops(text)
    if ops:
        names = ", ".join(f"tf.{op}" for op in ops)
        if allow_select_tf_ops:
            return ConversionError(
                f"TFLite cannot convert the TensorFlow op(s) {names}, not even as select TF (Flex) ops.",
                "replace the layer that uses them with TFLite-supported ops",
            )
        return ConversionError(
            f"TFLite cannot convert the TensorFlow op(s) {names} used by this model (conversion to {variant}).",
            "re-run with --allow-select-tf-ops (the device then needs the Flex delegate), "
            "or replace the layer that uses them with TFLite-supported ops",
        )
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()] or lines or [repr(exc)]
    detail = re.sub(r"loc\(.*?\)\)*:\s*", "", errors[0])[:400]
    return ConversionError(
        f"TFLite conversion to {variant} failed: {detail}",
        "run with `sentilite --debug convert ...` for the converter's full output",
    )


@dataclass(frozen=True)
class ConversionRequest:
    """What the TFLite converter is asked for one variant, in one typed record.

    Attributes:
        saved_model: the SavedModel folder (:func:`export_saved_model`).
        variant: a name of :data:`~convert.variants.VARIANT_SPECS` (float32, float16, dynamic-int8, int8).
        representative: calibration inputs, needed by the full-integer variant.
        io_type: input/output type of the full-integer variant (uint8, int8, or float32 around an
            int8 body); the other variants keep float32 I/O.
        allow_select_tf_ops: let TensorFlow ops through as Flex ops.
        quantizer: per-channel weights, bias correction.
        int16_activations: 16-bit activations and 8-bit weights (the int16x8 repair).
    """

    saved_model: Path
    variant: str
    representative: Optional[Representative] = None
    io_type: str = "uint8"
    allow_select_tf_ops: bool = False
    quantizer: QuantizerOptions = DEFAULT_QUANTIZER
    int16_activations: bool = False


def build_converter(req: ConversionRequest) -> Any:
    """A TFLiteConverter set up for one variant (not yet run): what :func:`convert_saved_model`
    runs, and what the int8 debugger (:mod:`convert.int8.layer_errors`) is given."""
    tf = import_tensorflow("conversion")
    spec = variant_spec(req.variant)
    if req.io_type not in IO_TYPES:
        raise ConversionError(f"Unknown I/O type {req.io_type!r}.", f"choose from {', '.join(IO_TYPES)}")
    conv = tf.lite.TFLiteConverter.from_saved_model(os.fspath(req.saved_model))
    ops = spec.configure(conv, tf, req.representative, req.io_type, req.quantizer)
    if req.int16_activations:  # 16-bit activations, 8-bit weights: no XNNPACK kernels, much slower on CPUs
        ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.float32
    if req.allow_select_tf_ops:
        ops = ops + [tf.lite.OpsSet.SELECT_TF_OPS]
    conv.target_spec.supported_ops = ops
    return conv


def convert_saved_model(req: ConversionRequest) -> bytes:
    """Convert a SavedModel into one TFLite variant; returns the flatbuffer bytes.

    Raises:
        ConversionError: one line naming the variant, the converter's reason and the fix.
    """
    conv = build_converter(req)
    native: list[str] = []
    try:
        with captured_native_stderr() as native:
            data = bytes(conv.convert())
    except Exception as exc:  # the converter raises ConverterError, RuntimeError, ValueError...
        raise _conversion_failure(req.variant, exc, "".join(native), req.allow_select_tf_ops) from exc
    if variant_spec(req.variant).dequantize_depthwise:
        data = dequantize_depthwise_weights(data)[0]
    return data


def convert_keras_model(
    model: keras.Model,
    variants: Sequence[str],
    representative: Optional[Representative] = None,
    io_type: str = "uint8",
    allow_select_tf_ops: bool = False,
    quantizer: QuantizerOptions = DEFAULT_QUANTIZER,
) -> dict[str, bytes]:
    """Convert a loaded Keras model into each variant (one SavedModel export shared by all)."""
    with tempfile.TemporaryDirectory(prefix="sentilite-export-") as tmp:
        sm = export_saved_model(model, Path(tmp) / "saved_model")
        return {
            v: convert_saved_model(ConversionRequest(sm, v, representative, io_type, allow_select_tf_ops, quantizer))
            for v in variants
        }
