"""From a ``--source`` value to the source that reads it: a camera index, ``picamera``, a stream URL,
a ``/dev/video*`` device, a video file, an image or a folder of images."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from sentilite.core.imageio import IMAGE_SUFFIXES

from .errors import SourceError
from .sources import URL_SCHEMES, ImageFolderSource, OpenCVSource, PiCameraSource, Source, _video_devices


def make_source(
    spec: str | int, width: Optional[int] = None, height: Optional[int] = None, fps: Optional[float] = None
) -> Source:
    """The (unopened) source a ``--source`` value names; raises SourceError for nonsense."""
    text = str(spec).strip()
    if text.isdigit():
        return OpenCVSource(int(text), "camera", width, height, fps)
    low = text.lower()
    if low == "picamera" or low.startswith("picamera:"):
        index = low.partition(":")[2] or "0"
        if not index.isdigit():
            raise SourceError(f"Bad Pi camera source {text!r}.", "use --source picamera or --source picamera:1")
        return PiCameraSource(int(index), width, height, fps)
    if low.startswith(URL_SCHEMES):
        return OpenCVSource(text, "stream")
    path = Path(os.path.expanduser(text))
    if text.startswith("/dev/video"):
        if not path.exists():
            devices = _video_devices()
            raise SourceError(
                f"Cannot open camera {text}: the device does not exist "
                f"({'present: ' + ', '.join(devices) if devices else 'no /dev/video* device exists'}).",
                "check the camera is connected, or pass a camera index (--source 0)",
            )
        return OpenCVSource(text, "camera", width, height, fps)
    if path.is_dir():
        return ImageFolderSource(path)
    if path.is_file():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return ImageFolderSource(path)
        return OpenCVSource(str(path), "file")
    raise SourceError(
        f"Source {text!r} is not a camera index (0, 1 ...), 'picamera', a stream URL (rtsp://, http:// ...), "
        f"or an existing video file, image or folder (no such path).",
        "check the spelling, or use --source 0 for the first camera",
    )


def open_source(
    spec: str | int, width: Optional[int] = None, height: Optional[int] = None, fps: Optional[float] = None
) -> Source:
    """:func:`make_source` and open it (raises SourceError with what was tried)."""
    source = make_source(spec, width, height, fps)
    source.open()
    return source
