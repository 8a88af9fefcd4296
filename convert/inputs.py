"""What a conversion has read and checked before its first conversion: one typed record that the
pipeline and the int8 wing both take, instead of loose arguments."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from sentilite.core.contract import PreprocessContract

from .calibration import CalibrationSet
from .validation import EvalSet


@dataclass
class ConvertInputs:
    """Everything read and checked before the first conversion."""

    model_path: Path
    contract: PreprocessContract  # the Keras model's
    export: PreprocessContract  # the one the .tflite files carry (pixel-in unless told otherwise)
    calib_set: Optional[CalibrationSet]
    calib_n: int
    ev: EvalSet
    keras_model: Any
    tf_version: str
    model_sha: str
