"""Where annotated frames and per-frame figures go: a window, a video file, a JSON-lines log.

The log is written with one ``os.write`` per line on an unbuffered descriptor, so every line
is in the kernel as soon as the frame is processed: a process killed with SIGKILL leaves a
file whose every line parses. The recording is finalised on any orderly stop (end of input,
Ctrl-C, SIGTERM, a camera that does not come back); an .mp4 needs that final step to be
playable, so after a SIGKILL only the log is guaranteed (record to .avi or .mkv if you expect
hard kills: both stay readable when cut short).

A full disk stops both sinks cleanly (:class:`DiskFull`): the log drops a line the disk cut
short, and the recording stops while there is still room for its index, so it stays playable.
A recording that is not playable when closed anyway is renamed ``*.incomplete``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Optional, Union

import cv2
import numpy as np

from sentilite.core.fsutil import is_no_room

from .errors import DisplayError, OutputError


class DiskFull(OutputError):
    """A sink's disk filled up; the sink closed itself and left its file valid."""


PathLike = Union[str, os.PathLike]

#: Recording container by suffix -> FourCC OpenCV's FFMPEG backend writes without extras.
RECORD_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".mkv": "mp4v", ".avi": "MJPG"}


def _opencv_has_gui() -> bool:
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GUI:"):
            return line.split(":", 1)[1].strip().upper() not in ("NONE", "NO", "")
    return True  # unknown build: let namedWindow decide


def check_display_possible() -> None:
    """Raise DisplayError (one clear line) when no window can be opened here."""
    problems = []
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        problems.append("no display is available ($DISPLAY is not set: an SSH session, a container or CI?)")
    if not _opencv_has_gui():
        problems.append(
            f"this OpenCV ({cv2.__version__}) is built without GUI support (opencv-python-headless), so cv2.imshow "
            f"is not implemented"
        )
    if problems:
        raise DisplayError(
            "Cannot open a window: " + "; and ".join(problems) + ".",
            "add --no-display (keep the results with --record OUT.mp4 and/or --log STATS.jsonl)"
            + (
                ", or for a window: pip uninstall -y opencv-python-headless && pip install opencv-python"
                if not _opencv_has_gui()
                else ", or run it on the machine's own desktop (or ssh -X)"
            ),
        )


class DisplaySink:
    """An OpenCV window. ``show`` returns False when the user pressed q / Esc or closed it."""

    def __init__(self, title: str = "sentilite demo") -> None:
        check_display_possible()
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE)
        except cv2.error as exc:
            msg = str(exc)
            if "not implemented" in msg.lower():
                raise DisplayError(
                    "Cannot open a window: this OpenCV build has no GUI support (The function is not implemented).",
                    "add --no-display, or pip uninstall -y opencv-python-headless && pip install opencv-python",
                ) from None
            raise DisplayError(f"Cannot open a window: {msg.strip().splitlines()[-1]}.", "add --no-display") from None
        self._shown = False

    def show(self, img: np.ndarray) -> bool:
        cv2.imshow(self.title, img)
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27):
            return False
        if self._shown:
            try:
                if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
                    return False  # closed with the window manager's button
            except cv2.error:
                return False
        self._shown = True
        return True

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
        except cv2.error:
            pass


class VideoRecorder:
    """Writes annotated frames to a video file at ``fps``; opened on the first frame."""

    def __init__(self, path: PathLike, fps: float) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in RECORD_FOURCC:
            raise OutputError(
                f"Cannot record to {self.path}: unknown video type {suffix or '(no suffix)'!r}.",
                f"use one of {', '.join(RECORD_FOURCC)} (e.g. --record demo.mp4)",
            )
        _check_writable(self.path)
        self.fourcc = RECORD_FOURCC[suffix]
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.writer: Any = None
        self.size: Optional[tuple[int, int]] = None
        self.frames = 0
        self.incomplete: Optional[Path] = None  # where an unplayable recording was moved

    def write(self, img: np.ndarray) -> None:
        if self.writer is None:
            h, w = img.shape[:2]
            self.size = (w, h)
            writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.fourcc), self.fps, self.size)
            if not writer.isOpened():
                raise OutputError(
                    f"OpenCV cannot write {self.fourcc} video to {self.path} ({w}x{h} at {self.fps:g} fps).",
                    "try another suffix (.avi writes MJPG and needs no codec library), or check the folder is writable",
                )
            self.writer = writer
        if (img.shape[1], img.shape[0]) != self.size:  # folders of differently sized images
            img = cv2.resize(img, self.size, interpolation=cv2.INTER_AREA)
        if _room_left(self.path.parent) < self._reserve():
            self.close()
            raise DiskFull(
                f"Disk nearly full at {self.path}: the recording stopped after {self.frames} frame(s), "
                "finalised and playable.",
                "free space there, or record to another disk",
            )
        self.writer.write(img)
        self.frames += 1

    def _reserve(self) -> int:
        """Room kept free: the next frames the encoder may buffer and the index an .mp4 writes on close."""
        written = self.path.stat().st_size if self.path.exists() else 0
        per_frame = written / self.frames if self.frames else 256 * 1024
        return int(2**20 + 4 * per_frame + 64 * self.frames)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None
            if self.frames and not _playable(self.path):
                self.incomplete = self.path.with_name(self.path.name + ".incomplete")
                os.replace(self.path, self.incomplete)


class JsonlLog:
    """One JSON object per line, each line handed to the kernel in one write()."""

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        _check_writable(self.path)
        try:
            self.fd: Optional[int] = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        except OSError as exc:
            raise OutputError(
                f"Cannot write the frame log {self.path} ({exc.strerror}).", "check the path and permissions"
            ) from None
        self.lines = 0
        self.offset = 0

    def write(self, record: dict[str, Any]) -> None:
        if self.fd is None:
            return
        data = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        try:
            n = os.write(self.fd, data)
        except OSError as exc:
            if not is_no_room(exc):
                raise OutputError(
                    f"Cannot write the frame log {self.path} ({exc.strerror}).", "check the disk"
                ) from None
            n = 0
        if n == len(data):
            self.offset += n
            self.lines += 1
            return
        os.ftruncate(self.fd, self.offset)  # a short write is a full disk: drop the torn line
        self.close()
        raise DiskFull(
            f"Disk full at {self.path}: the frame log stopped after {self.lines} complete line(s).",
            "free space there, or log to another disk",
        )

    def close(self) -> None:
        if self.fd is not None:
            try:
                os.fsync(self.fd)
            except OSError:
                pass
            os.close(self.fd)
            self.fd = None


def _room_left(folder: Path) -> int:
    try:
        st = os.statvfs(folder)
    except OSError:
        return 2**62  # cannot tell: let the write itself fail
    return st.f_bavail * st.f_frsize


def _playable(path: Path) -> bool:
    """Whether OpenCV can open the file and decode its first frame."""
    cap = cv2.VideoCapture(str(path))
    try:
        return bool(cap.isOpened() and cap.read()[0])
    finally:
        cap.release()


def _check_writable(path: Path) -> None:
    if path.is_dir():
        raise OutputError(f"{path} is a folder; a file name is needed.", f"e.g. {path / 'demo.mp4'}")
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"Cannot create the folder {parent} for {path.name} ({exc.strerror}).", "check the path and permissions"
        ) from None
    if not os.access(parent, os.W_OK):
        raise OutputError(f"Cannot write into {parent} (permission denied).", "choose a writable location")
