"""Importing TensorFlow/Keras on demand, quietly, with a clear error when it is not installed.

Only training, conversion and the Keras baseline need TensorFlow; the device side never
imports this module's result.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Iterator

from .errors import RuntimeMissingError
from .probe import CaptureStderr


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Hold back what C++ code writes to fd 2 (TF's oneDNN/CPU banners); replay it on error."""
    cap = CaptureStderr(passthrough=bool(os.environ.get("SENTILITE_DEBUG")))
    ok = False
    try:
        with cap:
            yield
            ok = True
    finally:
        if not ok and cap.text:
            sys.stderr.write(cap.text)


def import_tensorflow(purpose: str = "this command") -> Any:
    """Return the ``tensorflow`` module, or raise a one-line error naming the extra to install."""
    if "tensorflow" in sys.modules and sys.modules["tensorflow"] is not None:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        with _quiet_native_stderr():
            import tensorflow as tf
    except ImportError as exc:
        raise RuntimeMissingError(
            f"TensorFlow is needed for {purpose} but cannot be imported ({exc}).", "pip install 'sentilite[train]'"
        ) from None
    return tf


def import_keras(purpose: str = "this command") -> Any:
    """Return the ``keras`` module (Keras 3 on the TensorFlow backend)."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import_tensorflow(purpose)
    import keras

    return keras
