"""Full-int8 accuracy against the size of the representative (calibration) set."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from sentilite.core.modelfile import write_tflite

from .bias_correction import correct_classifier_bias
from .calibration import CalibrationSet
from .export import DEFAULT_QUANTIZER, ConversionRequest, QuantizerOptions, convert_saved_model
from .validation import EvalSet, open_tflite, score, tflite_probs


def parse_sizes(text: str | Sequence[int] | None) -> list[int]:
    """``"10,50,200"`` -> ``[10, 50, 200]`` (sorted, unique, positive)."""
    from sentilite.core.errors import ConversionError

    if text is None or text == "":
        return []
    items = text.split(",") if isinstance(text, str) else list(text)
    try:
        sizes = sorted({int(str(v).strip()) for v in items if str(v).strip()})
    except ValueError:
        raise ConversionError(
            f"--calib-sizes must be comma-separated integers, got {text!r}.", "e.g. --calib-sizes 10,50,200,500"
        ) from None
    if any(s < 1 for s in sizes):
        raise ConversionError(f"--calib-sizes must be positive, got {text!r}.", "e.g. --calib-sizes 10,50,200,500")
    return sizes


def calibration_sweep(
    saved_model_dir: Path,
    calib: CalibrationSet,
    sizes: Sequence[int],
    ev: EvalSet,
    reference: Optional[np.ndarray],
    keras_accuracy: Optional[float],
    io_type: str = "uint8",
    quantizer: QuantizerOptions = DEFAULT_QUANTIZER,
    threads: int = 1,
    log: Callable[[str], None] = lambda s: None,
    float_data: Optional[bytes] = None,
) -> list[dict[str, Any]]:
    """One row per calibration size: the int8 variant's accuracy and agreement with Keras.

    With ``float_data`` (the float32 flatbuffer) each int8 model gets the same classifier bias
    correction as the main int8 variant, estimated on the same N images.
    """
    rows = []
    usable = sorted({min(int(s), len(calib)) for s in sizes if int(s) > 0})
    with tempfile.TemporaryDirectory(prefix="sentilite-sweep-") as tmp:
        for n in usable:
            log(f"calibration sweep: int8 with {n} image(s)")
            t0 = time.perf_counter()
            data = convert_saved_model(
                ConversionRequest(Path(saved_model_dir), "int8", calib.representative(n), io_type, quantizer=quantizer)
            )
            if float_data is not None:
                data, _ = correct_classifier_bias(data, float_data, calib.inputs(n), calib.contract.num_classes)
            seconds = time.perf_counter() - t0
            path = write_tflite(
                Path(tmp) / f"int8_{n}.tflite", data, calib.contract, {"variant": "int8", "io": io_type}
            )
            clf = open_tflite(path, threads)
            probs = tflite_probs(clf, ev)
            row = {"images": n, "size_bytes": len(data), "convert_s": seconds, "per_class": calib.class_counts(n)}
            row.update(score(probs, ev, reference))
            if keras_accuracy is not None:
                row["accuracy_delta_pts"] = 100.0 * (row["accuracy"] - keras_accuracy)
            rows.append(row)
    return rows
