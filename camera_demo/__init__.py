"""camera_demo: live scene sentiment from a camera, a video, a stream or a folder of images.

Capture (its own thread) -> contract preprocessing -> LiteRT inference -> smoothing ->
overlay -> display / recording / JSON-lines log, with an honest frame-rate breakdown.
Runs without TensorFlow; the CLI is ``sentilite demo``.

Python API, the same shape as every part's (an options object in, a result object out)::

    from sentilite.camera_demo import DemoConfig, demo
    summary = demo(DemoConfig(source="clip.mp4", display=False, max_frames=300))
    print(summary["fps"])

Importing this package imports neither OpenCV nor LiteRT; :func:`demo` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import DemoConfig


def demo(config: DemoConfig, **injected: Any) -> dict[str, Any]:
    """Run the demo loop per ``config`` until the source ends, a limit is met, or Ctrl-C / SIGTERM.

    Args:
        config: source, model, display, recording, log, limits (a :class:`DemoConfig`).
        injected: ``classifier`` and ``source`` objects that replace the ones the config names.

    Returns:
        The summary: frames, frame rates and the time per stage, the stop reason, the outputs.
    """
    from .api import run_demo

    return run_demo(config, **injected)


def __getattr__(name: str) -> Any:  # DemoConfig and run_demo on first use: OpenCV stays unloaded until then
    if name in ("DemoConfig", "run_demo"):
        from . import api

        return getattr(api, name)
    raise AttributeError(name)


__all__ = ["DemoConfig", "demo", "run_demo"]
