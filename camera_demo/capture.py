"""The capture thread: reads (and preprocesses) frames off the main thread.

Two hand-over policies:

* ``latest`` (the live default): a one-slot buffer that keeps only the newest frame. A frame
  the loop has not taken when the next one arrives is *dropped* (counted), so a slow model
  never builds up latency.
* ``sync`` (``--sync``): a bounded queue; every frame is processed, in order. Decoding and
  preprocessing run ahead of inference by up to ``queue_size`` frames, which hides their cost
  on a multi-core machine.

The thread also preprocesses each frame with the model's encoder (OpenCV releases the GIL,
so this overlaps with inference), counts *duplicate* frames (a source delivering the same
image again, e.g. a camera that cannot keep the requested rate), paces file/folder sources
at their frame rate in ``latest`` mode (so a video plays like a camera), and reconnects a
live source that stops delivering, with exponential back-off, before giving up.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Callable, Optional

import numpy as np

from .sources import Source

END = object()  #: returned by :meth:`FrameReader.get` when no frame will ever come again


class Frame:
    """One captured frame on its way through the loop."""

    __slots__ = ("index", "t_capture", "image", "x", "pre_ms")

    def __init__(self, index: int, t_capture: float, image: np.ndarray, x: Any, pre_ms: float) -> None:
        self.index = index  #: position in the source (0-based, counts every frame read)
        self.t_capture = t_capture  #: time.perf_counter() right after the source returned it
        self.image = image  #: BGR uint8, owned by the loop (the overlay draws on it in place)
        self.x = x  #: the model input, encoded per the contract
        self.pre_ms = pre_ms  #: time spent encoding it (ms)


class FrameReader:
    """Runs the capture thread and hands frames to the loop (see module docstring)."""

    def __init__(
        self,
        source: Source,
        encode: Callable[[np.ndarray], Any],
        mode: str = "latest",
        queue_size: int = 4,
        pace_fps: Optional[float] = None,
        limit: Optional[int] = None,
        reconnect_attempts: int = 5,
        reconnect_backoff: float = 0.5,
        max_backoff: float = 8.0,
        on_event: Optional[Callable[[str], None]] = None,
    ) -> None:
        if mode not in ("latest", "sync"):
            raise ValueError(f"mode must be 'latest' or 'sync', not {mode!r}")
        self.source, self.encode, self.mode = source, encode, mode
        self.pace_fps = pace_fps if pace_fps and pace_fps > 0 else None
        self.limit = limit
        self.reconnect_attempts, self.reconnect_backoff, self.max_backoff = (
            reconnect_attempts,
            reconnect_backoff,
            max_backoff,
        )
        self.on_event = on_event or (lambda msg: None)
        self._stop = threading.Event()
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, queue_size))
        self._cond = threading.Condition()
        self._latest: Optional[Frame] = None
        self._ended = False
        self._thread = threading.Thread(target=self._run, name="camera-demo-capture", daemon=True)
        # Figures (written by the capture thread; ints/floats are safe to read from another).
        self.captured = 0
        self.dropped = 0
        self.duplicates = 0
        self.reconnects = 0
        self.reconnect_attempts_made = 0
        self.first_capture: Optional[float] = None
        self.last_capture: Optional[float] = None
        self.capture_fps_ema = 0.0
        self.end_reason: Optional[str] = None
        self.error: Optional[BaseException] = None

    # -- main-thread side --------------------------------------------------------------------
    def start(self) -> FrameReader:
        self._thread.start()
        return self

    def get(self, timeout: float = 0.1) -> Any:
        """The next frame (sync) or the newest one (latest); None on timeout; END when done."""
        if self.mode == "sync":
            try:
                return self._queue.get(timeout=timeout)
            except queue.Empty:
                return END if self._ended and self._queue.empty() else None
        with self._cond:
            if self._latest is None and not self._ended:
                self._cond.wait(timeout)
            frame, self._latest = self._latest, None
            if frame is None and self._ended:
                return END
            return frame

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to finish, wait for it, release the source."""
        self._stop.set()
        if self.mode == "sync":  # unblock a put() waiting on a full queue
            try:
                while True:
                    self._queue.get_nowait()
            except queue.Empty:
                pass
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():
            # Stuck in a driver read (a camera can block for seconds): releasing the capture
            # under it could crash; the daemon thread ends with the process instead.
            self.on_event(f"{self.source.description} is not answering; leaving it to close at exit")
            return
        self.source.release()

    @property
    def capture_fps_mean(self) -> float:
        if self.first_capture is None or self.last_capture is None or self.captured < 2:
            return 0.0
        span = self.last_capture - self.first_capture
        return (self.captured - 1) / span if span > 0 else 0.0

    # -- capture thread ---------------------------------------------------------------------
    def _finish(self, reason: str) -> None:
        if self.end_reason is None:
            self.end_reason = reason
        self._ended = True
        if self.mode == "sync":
            while not self._stop.is_set():
                try:
                    self._queue.put(END, timeout=0.1)
                    break
                except queue.Full:
                    continue
        with self._cond:
            self._cond.notify_all()

    def _run(self) -> None:
        try:
            self._capture_loop()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self.error = exc
            self._finish("error")

    def _capture_loop(self) -> None:
        prev_small: Optional[np.ndarray] = None
        t_start = time.perf_counter()
        index = 0
        while not self._stop.is_set():
            if self.limit is not None and index >= self.limit:
                return self._finish("max_frames")
            image = self.source.read()
            if image is None:
                if not self.source.live:
                    return self._finish("end_of_source")
                image = self._reconnect()
                if image is None:
                    return self._finish("stopped" if self._stop.is_set() else "source_lost")
            t_cap = time.perf_counter()
            # Same image as the previous frame? Compare a 1/256 subsample (tens of microseconds).
            small = image[::16, ::16]
            if prev_small is not None and small.shape == prev_small.shape and np.array_equal(small, prev_small):
                self.duplicates += 1
            prev_small = small.copy()
            x = self.encode(image)
            pre_ms = (time.perf_counter() - t_cap) * 1e3
            frame = Frame(index, t_cap, image, x, pre_ms)
            self._count_capture(t_cap)
            index += 1
            if self.mode == "sync":
                while not self._stop.is_set():
                    try:
                        self._queue.put(frame, timeout=0.1)
                        break
                    except queue.Full:
                        continue
            else:
                with self._cond:
                    if self._latest is not None:
                        self.dropped += 1
                    self._latest = frame
                    self._cond.notify()
                if self.pace_fps:  # play a file/folder like a camera: one frame per 1/fps
                    delay = t_start + index / self.pace_fps - time.perf_counter()
                    if delay > 0 and self._stop.wait(delay):
                        break
        self._finish("stopped")

    def _count_capture(self, t: float) -> None:
        if self.last_capture is not None:
            dt = t - self.last_capture
            if dt > 0:
                inst = 1.0 / dt
                self.capture_fps_ema = inst if self.capture_fps_ema == 0 else 0.9 * self.capture_fps_ema + 0.1 * inst
        if self.first_capture is None:
            self.first_capture = t
        self.last_capture = t
        self.captured += 1

    def _reconnect(self) -> Optional[np.ndarray]:
        """Reopen a live source that stopped delivering; the first good frame, or None."""
        from .errors import SourceError

        what = self.source.description
        self.source.release()
        delay = self.reconnect_backoff
        for attempt in range(1, self.reconnect_attempts + 1):
            self.reconnect_attempts_made += 1
            self.on_event(
                f"{what} stopped delivering frames; reconnect attempt {attempt}/{self.reconnect_attempts} in "
                f"{delay:.1f} s"
            )
            if self._stop.wait(delay):
                return None
            try:
                self.source.open()
                image = self.source.read()
            except SourceError:
                image = None
            if image is not None:
                self.reconnects += 1
                self.on_event(f"{what} is back after {attempt} attempt(s)")
                return image
            self.source.release()
            delay = min(delay * 2, self.max_backoff)
        self.on_event(f"{what} did not come back after {self.reconnect_attempts} reconnect attempts; stopping")
        return None
