"""camera_demo: live scene sentiment from a camera, a video, a stream or a folder of images.

Capture (its own thread) -> contract preprocessing -> LiteRT inference -> smoothing ->
overlay -> display / recording / JSON-lines log, with an honest frame-rate breakdown.
Runs without TensorFlow. The Python entry point is :func:`camera_demo.api.run_demo`; the
CLI is ``sentilite demo``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DemoConfig", "run_demo"]


def __getattr__(name: str) -> Any:  # lazy, so `import camera_demo` stays cheap
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(name)
