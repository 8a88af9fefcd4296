"""Frame sources: camera index, video file, RTSP/HTTP stream, image folder, Raspberry Pi camera.

Every source yields BGR uint8 frames (what OpenCV decodes to) from :meth:`read`, returning
None at the end of a file or folder, or when a live source stops delivering. A source that
cannot be opened raises :class:`~camera_demo.errors.SourceError` naming what was tried and the
fix. ``picamera2`` is imported only when the Pi camera is asked for.
"""

from __future__ import annotations

import contextlib
import glob
import sys
from pathlib import Path
from typing import Any, Iterator, Optional

import cv2
import numpy as np

from sentilite.core.imageio import IMAGE_SUFFIXES, image_size, jpeg_scale, max_pixels

from .errors import SourceError

URL_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")
#: OpenCV's open/read timeouts for network streams (ms): a dead URL fails instead of hanging.
STREAM_TIMEOUT_MS = 8000


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own WARN lines while probing; our error says what went wrong."""
    try:
        from cv2.utils import logging as cvlog

        old = cvlog.getLogLevel()
        cvlog.setLogLevel(cvlog.LOG_LEVEL_ERROR)
    except Exception:  # noqa: BLE001 - a build without cv2.utils.logging just stays verbose
        yield
        return
    try:
        yield
    finally:
        cvlog.setLogLevel(old)


def _opencv_video_backends() -> str:
    """One line on what this OpenCV can decode, for error messages."""
    info = cv2.getBuildInformation()
    ffmpeg = "FFMPEG: YES" if any("FFMPEG:" in line and "YES" in line for line in info.splitlines()) else "no FFMPEG"
    return f"OpenCV {cv2.__version__}, {ffmpeg}"


def _video_devices() -> list[str]:
    return sorted(glob.glob("/dev/video*")) if sys.platform.startswith("linux") else []


class Source:
    """Base class. Subclasses set ``kind``, ``live`` and implement ``open``/``read``/``release``."""

    kind = "source"
    #: A live source (camera, stream) is reconnected when it stops; a file or folder just ends.
    live = False

    def __init__(self) -> None:
        #: Native or negotiated frame rate (None when the source does not say).
        self.fps: Optional[float] = None
        #: (width, height) once known.
        self.frame_size: Optional[tuple[int, int]] = None
        #: Human notes gathered while opening (e.g. a resolution request the camera ignored).
        self.notes: list[str] = []

    @property
    def description(self) -> str:
        return self.kind

    def open(self) -> None:
        raise NotImplementedError

    def read(self) -> Optional[np.ndarray]:
        raise NotImplementedError

    def release(self) -> None:
        pass

    def info(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description,
            "live": self.live,
            "fps": self.fps,
            "frame_size": list(self.frame_size) if self.frame_size else None,
            "notes": list(self.notes),
        }


class OpenCVSource(Source):
    """A cv2.VideoCapture on a camera index, a device path, a video file or a stream URL."""

    def __init__(
        self,
        target: int | str,
        kind: str,
        width: Optional[int] = None,
        height: Optional[int] = None,
        fps: Optional[float] = None,
    ) -> None:
        super().__init__()
        self.target, self.kind = target, kind
        self.live = kind in ("camera", "stream")
        self.requested = (width, height, fps)
        self.cap: Any = None
        self.frame_count: Optional[int] = None

    @property
    def shown(self) -> str:
        """The target as it may be printed or stored: a stream URL's password is masked."""
        return redact_url(str(self.target))

    @property
    def description(self) -> str:
        return {
            "camera": f"camera {self.target}",
            "file": f"video file {self.target}",
            "stream": f"stream {self.shown}",
        }[self.kind]

    def _capture(self) -> Any:
        if self.kind == "stream":
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                STREAM_TIMEOUT_MS,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                STREAM_TIMEOUT_MS,
            ]
            return cv2.VideoCapture(str(self.target), cv2.CAP_FFMPEG, params)
        return cv2.VideoCapture(self.target)

    def open(self) -> None:
        with _quiet_opencv():
            cap = self._capture()
        if not cap.isOpened():
            cap.release()
            raise SourceError(*self._open_failure())
        if self.kind == "camera":
            self._apply_requests(cap)
        self.cap = cap
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.frame_size = (w, h) if w > 0 and h > 0 else None
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0.5 < fps < 1000 else None
        if self.kind == "file":
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            self.frame_count = n if n > 0 else None

    def _apply_requests(self, cap: Any) -> None:
        width, height, fps = self.requested
        # Keep the driver's queue short so the newest frame is what we get (not all backends obey).
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            cap.set(cv2.CAP_PROP_FPS, fps)
        got_w, got_h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        got_fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if (width and got_w != width) or (height and got_h != height):
            self.notes.append(f"asked the camera for {width or got_w}x{height or got_h}, it gives {got_w}x{got_h}")
        if fps and got_fps and abs(got_fps - fps) > 0.5:
            self.notes.append(f"asked the camera for {fps:g} fps, it reports {got_fps:g} fps")

    def _open_failure(self) -> tuple[str, str]:
        if self.kind == "camera":
            devices = _video_devices()
            found = f"video devices present: {', '.join(devices)}" if devices else "no /dev/video* device exists"
            if not sys.platform.startswith("linux"):
                found = "OpenCV found no camera there"
            return (
                f"Cannot open camera {self.target}: tried cv2.VideoCapture({self.target!r}) "
                f"({_opencv_video_backends()}); {found}.",
                "check the camera is connected and not used by another program, try another index (--source 1), "
                "'--source picamera' for a Raspberry Pi camera module, or a video file / folder instead",
            )
        if self.kind == "stream":
            return (
                f"Cannot open stream {self.shown}: tried cv2.VideoCapture with the FFMPEG backend "
                f"({_opencv_video_backends()}, {STREAM_TIMEOUT_MS / 1000:g} s timeout).",
                "check the URL, credentials and that the host is reachable (e.g. open it in ffplay or VLC)",
            )
        return (
            f"Cannot decode video file {self.target}: tried cv2.VideoCapture ({_opencv_video_backends()}).",
            "check it is a complete video file (mp4, avi, mkv, mov ...) and that OpenCV's FFMPEG can read it, "
            "or pass a folder of images",
        )

    def read(self) -> Optional[np.ndarray]:
        if self.cap is None:
            return None
        ok, frame = self.cap.read()
        if not ok or frame is None:
            return None
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        elif frame.shape[2] == 4:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
        return frame

    def release(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None


class ImageFolderSource(Source):
    """The images of a folder (or one image file), in name order, as frames."""

    kind = "folder"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.files: list[Path] = []
        self.pos = 0
        self.skipped: list[str] = []

    @property
    def description(self) -> str:
        return f"image {'file' if self.path.is_file() else 'folder'} {self.path} ({len(self.files)} images)"

    def open(self) -> None:
        if self.path.is_file():
            self.files = [self.path]
        else:
            self.files = sorted(p for p in self.path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise SourceError(
                f"Folder {self.path} holds no images (looked for {', '.join(IMAGE_SUFFIXES)}).",
                "pass a folder with .jpg/.png images, a video file, a camera index or a URL",
            )
        self.pos = 0

    def read(self) -> Optional[np.ndarray]:
        while self.pos < len(self.files):
            path = self.files[self.pos]
            self.pos += 1
            frame = _read_within_budget(path)
            if frame is not None:
                if self.frame_size is None:
                    self.frame_size = (frame.shape[1], frame.shape[0])
                return frame
            self.skipped.append(str(path))  # unreadable image: skipped, reported in the summary
        return None

    def info(self) -> dict[str, Any]:
        return {**super().info(), "images": len(self.files), "unreadable": self.skipped}


#: OpenCV's reduced JPEG decodes (libjpeg DCT scaling: the full image is never held)
_REDUCED = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


def _read_within_budget(path: Path) -> Optional[np.ndarray]:
    """A BGR frame, within the pixel budget (header checked first); None when unreadable or
    over budget in a format that cannot be decoded at reduced scale."""
    size, budget = image_size(path), max_pixels()
    if size is None or size[0] * size[1] <= budget:
        return cv2.imread(str(path), cv2.IMREAD_COLOR)
    scale = jpeg_scale(size[0], size[1], budget) if path.suffix.lower() in (".jpg", ".jpeg") else None
    return cv2.imread(str(path), _REDUCED[scale]) if scale else None


class PiCameraSource(Source):
    """The Raspberry Pi camera module through picamera2 (libcamera), imported only here."""

    kind = "picamera"
    live = True

    def __init__(
        self, index: int = 0, width: Optional[int] = None, height: Optional[int] = None, fps: Optional[float] = None
    ) -> None:
        super().__init__()
        self.index = index
        self.requested = (width or 640, height or 480, fps)
        self.cam: Any = None

    @property
    def description(self) -> str:
        return f"Pi camera {self.index} (picamera2)"

    def open(self) -> None:
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]
        except ImportError as exc:
            raise SourceError(
                f"--source picamera needs the picamera2 package, which cannot be imported ({exc}).",
                "on Raspberry Pi OS: sudo apt install python3-picamera2, and create the virtualenv with "
                "--system-site-packages so it can see it; or use a USB camera with --source 0",
            ) from None
        width, height, fps = self.requested
        try:
            cam = Picamera2(self.index)
            controls = {"FrameRate": float(fps)} if fps else {}
            # libcamera's "RGB888" is stored B, G, R in memory: exactly OpenCV's BGR order.
            config = cam.create_video_configuration(
                main={"size": (int(width), int(height)), "format": "RGB888"}, controls=controls
            )
            cam.configure(config)
            cam.start()
        except Exception as exc:  # noqa: BLE001 - libcamera raises many kinds
            raise SourceError(
                f"Cannot open Pi camera {self.index}: tried picamera2.Picamera2({self.index}) at {width}x{height} "
                f"({exc}).",
                "check the ribbon cable and that `rpicam-hello --list-cameras` lists the camera, "
                "and that no other program holds it",
            ) from None
        self.cam = cam
        self.frame_size = (int(width), int(height))
        self.fps = float(fps) if fps else None

    def read(self) -> Optional[np.ndarray]:
        if self.cam is None:
            return None
        try:
            frame = self.cam.capture_array("main")
        except Exception:  # noqa: BLE001 - a camera that went away
            return None
        if frame is None:
            return None
        if frame.ndim == 3 and frame.shape[2] == 4:
            frame = frame[:, :, :3]
        return np.ascontiguousarray(frame)

    def release(self) -> None:
        if self.cam is not None:
            with contextlib.suppress(Exception):
                self.cam.stop()
            with contextlib.suppress(Exception):
                self.cam.close()
            self.cam = None


def redact_url(text: str) -> str:
    """``rtsp://user:secret@host/x`` -> ``rtsp://user:***@host/x``; anything else unchanged."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    if not parts.scheme or parts.password is None:
        return text
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostport}"))
