"""What a model file is: format, variant, I/O types and quantisation, contract, size, runtime.

Reads .tflite files through the LiteRT runtime and .keras files as zips, so it never needs
TensorFlow.
"""

from __future__ import annotations

import json
import os
import struct
from collections import Counter
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from .errors import ModelFormatError
from .model_checks import input_quantization_issues
from .modelfile import read_contract, read_conversion_facts, require_format
from .runtime import make_interpreter

PathLike = Union[str, os.PathLike]


def infer_variant(tensor_dtypes: list[Any], input_dtype: Any) -> str:
    """Guess float32 / float16 / dynamic-int8 / int8 from the tensor types of a .tflite."""
    counts = Counter(np.dtype(d).name for d in tensor_dtypes)
    if counts.get("float16"):
        return "float16"
    if np.dtype(input_dtype) in (np.int8, np.uint8):
        return "int8"
    n8 = counts.get("int8", 0) + counts.get("uint8", 0)
    if n8 == 0:
        return "float32"
    # Full-integer models quantise (almost) every activation; dynamic-range ones only weights.
    return "int8" if n8 > counts.get("float32", 0) else "dynamic-int8"


def _io(detail: dict[str, Any]) -> dict[str, Any]:
    scale, zp = detail.get("quantization", (0.0, 0))
    return {
        "name": detail.get("name"),
        "shape": [int(v) for v in detail["shape"]],
        "dtype": np.dtype(detail["dtype"]).name,
        "scale": float(scale) if scale else None,
        "zero_point": int(zp) if scale else None,
    }


def standard_metadata(path: PathLike, contract: Any) -> dict[str, Any]:
    """The standard TFLite metadata block (what MediaPipe and Android read), with its labels file
    and, under ``disagreements``, where it contradicts the sentilite contract."""
    from .modelfile import read_tflite_metadata_file
    from .tflite_metadata import METADATA_NAME, disagreements, parse_model_metadata, read_label_file

    raw = read_tflite_metadata_file(path).get(METADATA_NAME)
    if not raw:
        return {
            "present": False,
            "disagreements": [
                "no standard TFLite metadata: MediaPipe and Android tooling will not "
                "know the labels or the normalisation (re-convert with `sentilite convert`)"
            ],
        }
    try:
        std = parse_model_metadata(raw)
    except (ValueError, struct.error) as exc:
        return {"present": True, "error": str(exc), "disagreements": [f"standard TFLite metadata unreadable ({exc})"]}
    labels_error = None
    try:
        labels = read_label_file(Path(path).read_bytes(), label=Path(path).name)
    except ModelFormatError as exc:  # informational: the contract's labels are what sentilite uses
        labels, labels_error = None, exc.problem
    std.update(present=True, labels=labels, labels_error=labels_error)
    std["disagreements"] = disagreements(std, contract, labels) if contract is not None else []
    if labels_error:
        std["disagreements"].append(
            f"the labels file is unreadable: {labels_error} (informational; the contract's labels "
            "are used). Fix: re-convert the model with `sentilite convert`"
        )
    return std


def app_compatibility(contract: Any, input_dtype: np.dtype) -> list[str]:
    """What an app on MediaPipe (or ML Kit, Coral) would do differently from the contract."""
    out = []
    if input_dtype in (np.uint8, np.int8) and contract.norm.name != "raw":
        out.append(
            f"quantised input expecting {contract.norm.name}-normalised values: MediaPipe, ML Kit and Coral feed "
            "the raw pixel to a quantised image input, so they compute something else (re-convert: "
            "`sentilite convert` makes pixel-in models by default)"
        )
    if contract.interpolation == "warp_linear" and contract.resize == "center_crop" and contract.floors_crop:
        out.append(
            "its centre crop starts at whole-pixel (floored) offsets: an app on MediaPipe must pass the region of "
            "interest left = floor((w - crop) / 2) / w, top = floor((h - crop) / 2) / h; the natural centred region "
            "(w - crop) / 2 is half a pixel off on odd margins and changes some answers (models trained from "
            "now on crop at the exact centre)"
        )
    if contract.interpolation != "warp_linear":
        out.append(
            f"validated with {contract.interpolation} resizing; MediaPipe resamples with warp_linear (bilinear, region "
            "corners onto tensor corners), so an app on MediaPipe will answer differently on some images "
            "(retrain with --interpolation warp_linear)"
        )
    return out


def output_heads(contract: Any, facts: dict[str, Any], outputs: list[dict[str, Any]]) -> tuple[dict[str, int], str]:
    """(head name -> output index, a problem or "") of a file with ``contract`` whose outputs are ``outputs``."""
    from .errors import ContractError
    from .heads import SENTIMENT, output_order

    if not contract.heads:
        widths = [int(o["shape"][-1]) for o in outputs]
        if len(outputs) == 1 and widths[0] == contract.num_classes:
            return {SENTIMENT: 0}, ""
        return {}, f"{len(outputs)} output(s) {widths} wide but {contract.num_classes} labels in the contract"
    try:
        order = output_order(outputs, contract.num_classes, contract.heads, "the file", facts.get("outputs"))
    except ContractError as exc:
        return {}, exc.problem
    return dict(zip([SENTIMENT, *(h.name for h in contract.heads)], order)), ""


def _vocabulary_facts(path: PathLike, warnings: list[str]) -> Optional[dict[str, int]]:
    """How many words (and of what length) a semantic head's model carries; None without any."""
    from .vocabulary_file import read_vocabulary

    try:
        vocabulary = read_vocabulary(path)
    except ModelFormatError as exc:
        warnings.append(f"its vocabulary is unreadable: {exc.problem}")
        return None
    return {"words": len(vocabulary), "dims": vocabulary.dims} if vocabulary is not None else None


def tflite_info(path: PathLike, num_threads: int = 1) -> dict[str, Any]:
    contract = read_contract(path)
    facts = read_conversion_facts(path)
    interp, rt = make_interpreter(path, num_threads=num_threads)
    inputs = [_io(d) for d in interp.get_input_details()]
    outputs = [_io(d) for d in interp.get_output_details()]
    dtypes = [d["dtype"] for d in interp.get_tensor_details()]
    inferred = infer_variant(dtypes, interp.get_input_details()[0]["dtype"])
    warnings = []
    if facts.get("unreadable"):
        warnings.append(f"{facts['unreadable']}; informational only, the model still runs")
    if contract is None:
        warnings.append(
            "no sentilite contract inside: evaluate/bench/demo will refuse it (re-convert with `sentilite convert`)"
        )
    else:
        i0 = inputs[0]
        if tuple(i0["shape"][1:]) != contract.input_shape:
            warnings.append(f"input shape {i0['shape']} does not match the contract's {list(contract.input_shape)}")
        heads, problem = output_heads(contract, facts, outputs)
        if problem:
            warnings.append(problem)
        for name, i in heads.items():
            outputs[i]["head"] = name
        warnings += [
            f"{w}; evaluate, bench and demo refuse this model"
            for w in input_quantization_issues(
                contract, np.dtype(i0["dtype"]), i0["scale"] or 0.0, i0["zero_point"] or 0
            )
        ]
        warnings += app_compatibility(contract, np.dtype(i0["dtype"]))
    standard = standard_metadata(path, contract)
    warnings += standard.pop("disagreements", [])
    vocabulary = _vocabulary_facts(path, warnings)
    return {
        "vocabulary": vocabulary,
        "path": str(path),
        "format": "tflite",
        "variant": facts.get("variant", inferred),
        "variant_source": "embedded" if "variant" in facts else "inferred from tensor types",
        "size_bytes": Path(path).stat().st_size,
        "inputs": inputs,
        "outputs": outputs,
        "tensor_types": dict(Counter(np.dtype(d).name for d in dtypes)),
        "contract": contract.to_dict() if contract else None,
        "conversion": facts,
        "standard_metadata": standard,
        "runtime": rt.describe(),
        "warnings": warnings,
    }


def keras_info(path: PathLike) -> dict[str, Any]:
    from .bounded_read import read_zip_entry

    contract = read_contract(path)
    name = Path(path).name
    try:
        config = json.loads(read_zip_entry(path, "config.json", name) or b"{}")
        meta = json.loads(read_zip_entry(path, "metadata.json", name) or b"{}")
    except (ValueError, RecursionError) as exc:
        raise ModelFormatError(
            f"{name}: its config.json or metadata.json is not valid JSON ({str(exc)[:120]}).",
            "re-save the model with Keras 3 (model.save('model.keras'))",
        ) from None
    cfg = config.get("config", {})
    layers = cfg.get("layers", [])
    return {
        "path": str(path),
        "format": "keras",
        "variant": "keras",
        "size_bytes": Path(path).stat().st_size,
        "model_class": config.get("class_name"),
        "model_name": cfg.get("name"),
        "layers": len(layers),
        "keras_version": meta.get("keras_version"),
        "saved_at": meta.get("date_saved"),
        "contract": contract.to_dict() if contract else None,
        "runtime": "keras (needs TensorFlow to run)",
        "warnings": [] if contract else ["no sentilite contract inside (models from `sentilite train` have one)"],
    }


def model_info(path: PathLike) -> dict[str, Any]:
    """A JSON-ready description of a .tflite or .keras model file."""
    fmt = require_format(path, "tflite", "keras")
    return tflite_info(path) if fmt == "tflite" else keras_info(path)
