"""Importing TensorFlow/Keras on demand, quietly, with a clear error when it is not installed.

Only training, conversion and the Keras baseline need TensorFlow; the device side never
imports this module's result.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import Any, Iterator

from .errors import RuntimeMissingError


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Hold back what C++ code writes to fd 2 (TF's oneDNN/CPU banners); replay it on error."""
    if os.environ.get("SENTILITE_DEBUG"):
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        os.dup2(sink.fileno(), 2)
        ok = False
        try:
            yield
            ok = True
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if not ok:
                sink.seek(0)
                sys.stderr.write(sink.read().decode("utf-8", "replace"))


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
            f"TensorFlow is needed for {purpose} but cannot be imported ({exc}).",
            "pip install 'sentilite[train]'",
        ) from None
    return tf


def import_keras(purpose: str = "this command") -> Any:
    """Return the ``keras`` module (Keras 3 on the TensorFlow backend)."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import_tensorflow(purpose)
    import keras

    return keras
