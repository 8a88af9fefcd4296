"""The sentiment model shipped inside the package, used when no --model is given."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from .errors import InputFileError

#: Package-data location of the bundled full-int8 model.
DEFAULT_MODEL_PATH = Path(__file__).with_name("models") / "sentiment_mobilenetv2_int8.tflite"


def default_model_path() -> Optional[Path]:
    """The bundled model's path, or None in a build that does not ship it."""
    return DEFAULT_MODEL_PATH if DEFAULT_MODEL_PATH.is_file() else None


def resolve_model(model: Optional[str], how_to_pass: str = "pass --model path/to/model.tflite") -> tuple[Path, bool]:
    """(path, is_default): ``model`` if given, else the bundled model, else a clear error."""
    if model:
        return Path(model), False
    path = default_model_path()
    if path is None:
        raise InputFileError(
            "No model given and this installation has no bundled default model.",
            f"{how_to_pass} (e.g. one written by `sentilite convert`)",
        )
    return path, True
