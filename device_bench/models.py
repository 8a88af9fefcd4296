"""What the host knows about each model before it is benchmarked: kind, variant, size, input range.

Read from the file itself (format by content, the contract and conversion facts embedded by
``sentilite convert``), so nothing depends on the file name.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from sentilite.core.contract import PreprocessContract
from sentilite.core.errors import InputFileError
from sentilite.core.modelfile import read_contract, read_conversion_facts, require_format

from .records import ModelFacts

PathLike = Union[str, os.PathLike]


@dataclass
class ModelEntry:
    """One model to benchmark, as the host sees it."""

    path: Path
    name: str
    kind: str  # "tflite" or "keras"
    variant: str
    size_bytes: int
    contract: Any = None  # PreprocessContract or None
    notes: list[str] = field(default_factory=list)

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 1e6

    def describe(self) -> ModelFacts:
        return {
            "name": self.name,
            "path": str(self.path),
            "kind": self.kind,
            "variant": self.variant,
            "size_bytes": self.size_bytes,
            "size_mb": round(self.size_mb, 4),
            "contract": self.contract.describe() if self.contract is not None else None,
            "heads": ["sentiment", *(h.name for h in self.contract.heads)] if self.contract is not None else [],
            "notes": list(self.notes),
        }


def _host_interpreter(path: Path) -> Any:
    """The model opened (not allocated) on the host, or None where the host cannot load it."""
    try:
        from sentilite.core.runtime import make_interpreter

        return make_interpreter(path, num_threads=1, allocate=False)[0]
    except Exception:  # noqa: BLE001 - the device may load what the host cannot
        return None


def _infer_tflite_variant(interp: Any) -> str:
    """float32 / float16 / dynamic-int8 / int8 from the tensor types."""
    from sentilite.core.model_info import infer_variant

    if interp is None:
        return "unknown"
    dtypes = [d["dtype"] for d in interp.get_tensor_details()]
    return infer_variant(dtypes, interp.get_input_details()[0]["dtype"])


def check_tflite_inputs(path: Path, interp: Any, contract: Optional[PreprocessContract]) -> None:
    """Refuse what the runner cannot feed honestly: several inputs, a non-image input type, or an
    input quantisation that contradicts the model's own contract."""
    from sentilite.core.model_checks import refuse_contradiction

    if interp is None:
        return
    inputs = interp.get_input_details()
    if len(inputs) != 1:
        raise InputFileError(
            f"{path} has {len(inputs)} inputs; sentilite bench measures image classifiers with one input.",
            "benchmark a single-input model (use TFLite's benchmark_model for others)",
        )
    dtype = np.dtype(inputs[0]["dtype"])
    if dtype not in (np.float32, np.uint8, np.int8):
        raise InputFileError(
            f"{path} takes a {dtype} input; sentilite bench feeds images as float32, uint8 or int8.",
            "benchmark an image classifier (use TFLite's benchmark_model for other models)",
        )
    if contract is not None:
        scale, zero_point = inputs[0]["quantization"]
        refuse_contradiction(path, contract, dtype, scale, zero_point)


def _safe_label(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("_") or "model"


def describe_model(path: PathLike) -> ModelEntry:
    """Check that ``path`` is a .tflite or .keras model and gather what the tables need."""
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"Model file not found: {p}.", "check the path (sentilite bench MODEL.tflite ...)")
    if p.is_dir():
        raise InputFileError(f"{p} is a folder, not a model file.", "pass .tflite (or .keras) files")
    fmt = require_format(p, "tflite", "keras")
    notes: list[str] = []
    try:
        contract = read_contract(p)
    except Exception as exc:  # noqa: BLE001 - a broken contract must not stop a latency benchmark
        contract = None
        notes.append(f"contract unreadable ({exc})")
    if contract is None:
        notes.append("no sentilite contract inside: random inputs use the input type's full range")
    if fmt == "tflite":
        try:
            facts = read_conversion_facts(p)
        except Exception as exc:  # noqa: BLE001 - a truncated flatbuffer; the device will say more
            facts = {}
            notes.append(f"metadata unreadable ({type(exc).__name__}: {exc})")
        interp = _host_interpreter(p)
        check_tflite_inputs(p, interp, contract)
        variant = facts.get("variant") or _infer_tflite_variant(interp)
    else:
        variant = "keras"
    return ModelEntry(p, p.stem, fmt, variant, p.stat().st_size, contract, notes)


def describe_models(paths: Sequence[PathLike]) -> list[ModelEntry]:
    """Describe each model; names are file stems, made unique with a numeric suffix."""
    if not paths:
        raise InputFileError("No model given.", "pass one or more .tflite/.keras files")
    entries = [describe_model(p) for p in paths]
    seen: dict[str, int] = {}
    for e in entries:
        base = e.name
        if base in seen:
            seen[base] += 1
            e.name = f"{base}-{seen[base]}"
        else:
            seen[base] = 1
    return entries


def random_input_spec(entry: ModelEntry, seed: int = 0) -> dict[str, Any]:
    """Random inputs "in the input's range": float inputs get the contract's normalised range
    (or [0, 1] without a contract); int8/uint8 inputs their full range, which calibration maps
    onto the contract's range."""
    spec: dict[str, Any] = {"kind": "random", "seed": seed}
    if entry.contract is not None:
        lo, hi = entry.contract.norm.value_range()
        spec["float_range"] = [float(lo), float(hi)]
    return spec


def remote_file_name(index: int, entry: ModelEntry) -> str:
    """The name a model gets on a device: fixed, shell-safe, whatever the local file is called."""
    return f"m{index}.{entry.kind}"


def label_for_device(name: str) -> str:
    return _safe_label(name)
