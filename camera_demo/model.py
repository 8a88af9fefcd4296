"""Loading the demo's model: a .tflite image classifier that carries its preprocessing contract.

Everything the demo needs (input size, colour order, normalisation, labels) comes from the
contract inside the .tflite, so a model without one, or one whose tensors contradict it, is
refused here, before any camera is opened, with a message that says what to do instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

from sentilite.core.errors import ContractError, InputFileError, ModelFormatError

FIX_CONVERT = (
    "the demo runs .tflite image classifiers that carry a sentilite preprocessing contract; "
    "make one with `sentilite convert MODEL.keras` (or leave --model out to use the bundled model)"
)


def resolve_demo_model(model: Optional[Union[str, os.PathLike]]) -> tuple[Path, bool]:
    """(path, is_bundled_default): the given model, else the bundled one, else a clear error."""
    from sentilite.core.default_model import resolve_model

    return resolve_model(os.fspath(model) if model else None, "pass --model path/to/model.tflite")


def load_demo_classifier(path: Union[str, os.PathLike], threads: Optional[int] = 1) -> Any:
    """A :class:`sentilite.core.classifier.TFLiteClassifier`, or a one-line error naming the fix."""
    from sentilite.core.classifier import TFLiteClassifier

    path = Path(path)
    if not path.exists():
        raise InputFileError(
            f"Model file not found: {path}.", "check the path, or leave --model out to use the bundled model"
        )
    if path.is_dir():
        raise ModelFormatError(f"{path} is a folder, not a .tflite model file.", FIX_CONVERT)
    try:
        clf = TFLiteClassifier(path, num_threads=threads)
    except ModelFormatError as exc:
        raise ModelFormatError(f"The demo cannot run this model: {exc.problem}", FIX_CONVERT) from None
    except ContractError as exc:
        raise ContractError(f"The demo cannot run this model: {exc.problem}", FIX_CONVERT) from None
    h, w, c = clf.contract.input_shape
    if c != 3 or min(h, w) < 8:
        raise ContractError(f"{path} takes {h}x{w}x{c} input, not a colour image.", FIX_CONVERT)
    return clf
