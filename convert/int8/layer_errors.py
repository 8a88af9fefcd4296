"""Which layer hurts the int8 model: a per-layer error report, built on TensorFlow Lite's
``QuantizationDebugger``.

For every quantised tensor the debugger runs the float model and the int8 model on the same
images and hands both outputs to our metrics (its ``layer_direct_compare_metrics``):

- ``rmse_over_std``: RMSE of the dequantised int8 output against the float output, over the
  spread (standard deviation) of the float output. A layer whose int8 scale is large for the
  values it carries scores high. This ranking finds MobileNetV2's 160-channel residual stream at
  7x7 (b13p-b16p, b15/b16_add), where a raw RMSE or RMSE-over-scale ranking points at the final
  dense layer, which changes nothing when kept in float;
- ``snr_db``: signal-to-noise ratio of the same pair, in dB.

It is computed on the calibration images and on the evaluation images. The debugger also
makes the *mixed* model (:func:`mixed_model`): the worst layers kept in float, the rest int8.
"""

from __future__ import annotations

import csv
import io
from types import ModuleType
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..records import LayerError

Dataset = Callable[[], Iterable[Sequence[np.ndarray]]]


def _dequantized(q: Any, scale: float, zero_point: int) -> np.ndarray:
    return (np.asarray(q, np.float64) - zero_point) * scale


def rmse_over_std(float_values: Any, quant_values: Any, scale: float, zero_point: int) -> float:
    """Per channel (last axis): RMSE over the float output's standard deviation; their mean.

    Per channel, because a tensor whose range one channel takes over (an outlier channel sets
    the one int8 scale) crushes the other channels while the tensor-wide spread hides it."""
    f = np.asarray(float_values, np.float64)
    err = _dequantized(quant_values, scale, zero_point) - f
    f2, e2 = f.reshape(-1, f.shape[-1]), err.reshape(-1, f.shape[-1])
    std = f2.std(axis=0)
    live = std > 1e-6 * (np.abs(f2).max() + 1e-12)  # constant channels carry nothing to lose
    if not live.any():
        return 0.0
    return float(np.mean(np.sqrt(np.mean(e2[:, live] ** 2, axis=0)) / std[live]))


def snr_db(float_values: Any, quant_values: Any, scale: float, zero_point: int) -> float:
    f = np.asarray(float_values, np.float64)
    noise = np.mean((_dequantized(quant_values, scale, zero_point) - f) ** 2)
    return float(10.0 * np.log10((np.mean(f**2) + 1e-20) / (noise + 1e-20)))


METRICS = {"rmse_over_std": rmse_over_std, "snr_db": snr_db}


def _debugger(tf: ModuleType, converter: Any, dataset: Dataset, denylisted: Sequence[str] = ()) -> Any:
    options = tf.lite.experimental.QuantizationDebugOptions(
        layer_direct_compare_metrics=METRICS if not denylisted else None, denylisted_nodes=list(denylisted) or None
    )
    return tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=dataset, debug_options=options)


def _rows(debugger: Any) -> list[LayerError]:
    buf = io.StringIO()
    debugger.layer_statistics_dump(buf)
    out = []
    for position, r in enumerate(csv.DictReader(io.StringIO(buf.getvalue()))):
        out.append(
            {
                "position": position,
                "op": r["op_name"],
                "tensor": r["tensor_name"],
                "scale": float(r["scale"]),
                "rmse_over_std": float(r["rmse_over_std"]),
                "snr_db": float(r["snr_db"]),
            }
        )
    return out


def layer_errors(
    tf: ModuleType, make_converter: Callable[[], Any], calibration: Dataset, evaluation: Dataset
) -> list[LayerError]:
    """Every quantised layer in graph order, with its metrics on the calibration and the evaluation images.

    ``make_converter`` returns a fresh full-integer TFLiteConverter (the debugger changes the
    one it is given).
    """
    runs = {}
    dbg = _debugger(tf, make_converter(), calibration)
    dbg.run()
    runs["calibration"] = _rows(dbg)
    if hasattr(dbg, "_data_gen"):
        # The debugger calibrates and converts once (half of this step's time); its debug model
        # reads a new dataset through this attribute (TF 2.x), so the evaluation images reuse it.
        dbg._data_gen = evaluation
    else:  # a TensorFlow that renamed it: a second debugger, converted again
        dbg = _debugger(tf, make_converter(), evaluation)
    dbg.run()
    runs["evaluation"] = _rows(dbg)
    merged = []
    for c, e in zip(runs["calibration"], runs["evaluation"]):
        merged.append(
            {
                "position": c["position"],
                "op": c["op"],
                "tensor": c["tensor"],
                "scale": c["scale"],
                "rmse_over_std": e["rmse_over_std"],
                "snr_db": e["snr_db"],
                "rmse_over_std_calibration": c["rmse_over_std"],
                "snr_db_calibration": c["snr_db"],
            }
        )
    return merged


def worst(layers: list[LayerError], k: int) -> list[LayerError]:
    """The ``k`` layers with the largest error on the evaluation images."""
    return sorted(layers, key=lambda r: -r["rmse_over_std"])[:k]


def short_name(tensor: str) -> str:
    """``.../backbone_1/b16p_bn_1/batchnorm/sub1`` -> ``b16p_bn``: the Keras layer, for tables and plots."""
    parts = [p for p in tensor.split(";")[0].split("/") if p]
    for part in reversed(parts[:-1] or parts):
        name = part[:-2] if part.endswith("_1") else part
        if name not in ("batchnorm", "BiasAdd", "Relu6", "Add", "add", "Conv2D", "depthwise") and not name.startswith(
            "sub"
        ):
            return name
    return parts[-1] if parts else tensor


def mixed_model(
    tf: ModuleType, make_converter: Callable[[], Any], calibration: Dataset, tensors: Sequence[str]
) -> bytes:
    """The int8 model with the layers producing ``tensors`` kept in float (a *mixed* model: it
    needs float kernels, so integer-only NPUs and Edge TPUs cannot run it)."""
    dbg = _debugger(tf, make_converter(), calibration, denylisted=tensors)
    return bytes(dbg.get_nondebug_quantized_model())
