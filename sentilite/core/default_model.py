"""The sentiment model shipped inside the package, used when no --model is given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from .errors import InputFileError

#: Package-data location of the bundled full-int8 model.
DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "sentiment_mobilenetv2_int8.tflite"


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


def default_card_path() -> Path:
    """Where the bundled model's JSON card (data, recipe, held-out accuracy, limits) lives."""
    return DEFAULT_MODEL_PATH.with_suffix(".json")


def default_model_card() -> Optional[dict[str, Any]]:
    """The bundled model's card, or None where it is missing or unreadable."""
    try:
        return json.loads(default_card_path().read_text())
    except (OSError, ValueError):
        return None


def describe_default() -> str:
    """One line naming the bundled model and, from its card, what it scores."""
    line = f"the bundled default model {DEFAULT_MODEL_PATH.name}"
    card = default_model_card()
    try:
        test = card["evaluation"]["emotion6_test_int8"] if card else None
        if test:
            arch = card.get("architecture", "").split(" (")[0]
            line += (
                f" ({arch + ' ' if arch else ''}full-int8; Emotion6 test accuracy {test['accuracy']:.1%} 3-class, "
                f"{test['polar_accuracy']:.1%} positive vs negative"
                + (f"; extra heads: {', '.join(h['name'] for h in card['heads'])}" if card.get("heads") else "")
                + f"; card: {default_card_path()})"
            )
    except (KeyError, TypeError):
        pass
    return line
