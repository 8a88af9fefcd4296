"""The main loop: newest (or next) frame -> inference -> smoothing -> overlay -> outputs.

Runs in the calling (main) thread; capture and preprocessing run in the
:class:`~camera_demo.capture.FrameReader` thread. Per frame the loop does only what must be
serial: ``classifier.run`` (LiteRT releases the GIL while it computes), a three-number EMA, the
overlay, and the outputs. Stop conditions: end of input, ``max_frames``, ``duration``, a stop
request (Ctrl-C / SIGTERM through :class:`StopFlag`), q / Esc or a closed window, or a live
source that does not come back after its reconnect attempts.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from .capture import END, FrameReader
from .overlay import Figures, Overlay
from .smoothing import SentimentSmoother
from .stats import RunStats

if TYPE_CHECKING:
    from sentilite.core.classifier import Classifier


class StopFlag:
    """Set from a signal handler (or anywhere) to end the loop after the current frame."""

    def __init__(self) -> None:
        self.reason: Optional[str] = None

    def set(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason


def _running_figures(fig: Figures, reader: FrameReader, stats: RunStats, pre_ms: float, infer_ms: float) -> None:
    """The figures drawn on a frame: the running values up to the previous frame."""
    fig.capture_fps = reader.capture_fps_ema
    fig.inference_fps = 1000.0 / stats.infer.value if stats.infer.value else 1000.0 / max(1e-3, infer_ms)
    fig.shown_fps = stats.shown_fps.value
    fig.latency_ms = stats.latency.value
    fig.dropped = reader.dropped
    fig.duplicates = reader.duplicates
    fig.preprocess_ms = stats.pre.value or pre_ms
    fig.inference_ms = stats.infer.value or infer_ms
    fig.draw_ms = stats.draw.value


def _reader(classifier: Classifier) -> Callable[[Any], tuple[Any, Optional[dict[str, Any]]]]:
    """``x -> (sentiment probabilities, extra heads or None)``: one invoke either way; a one-head
    model keeps the plain path."""
    if not getattr(classifier.contract, "heads", ()):
        run = classifier.run
        return lambda x: (run(x), None)

    def read(x: Any) -> tuple[Any, Optional[dict[str, Any]]]:
        reading = classifier.run_heads(x)  # type: ignore[attr-defined]
        return reading.sentiment, reading.heads

    return read


def _head_fields(classifier: Classifier, heads: Optional[dict[str, Any]]) -> dict[str, Any]:
    if heads is None:
        return {}
    from sentilite.core.reading import reading_fields

    return reading_fields(heads, classifier.contract.heads)


def _frame_record(
    frame: Any,
    labels: list[str],
    label: int,
    probs: Any,
    smoothed: Any,
    reader: FrameReader,
    latency_ms: float,
    infer_ms: float,
    draw_ms: float,
    t: float,
) -> dict[str, Any]:
    """One line of the per-frame JSONL log."""
    return {
        "frame": frame.index,
        "t": round(t, 4),
        "label": labels[label],
        "top": labels[int(probs.argmax())],
        "probs": {n: round(float(p), 4) for n, p in zip(labels, probs)},
        "smoothed": {n: round(float(p), 4) for n, p in zip(labels, smoothed)},
        "latency_ms": round(latency_ms, 3),
        "preprocess_ms": round(frame.pre_ms, 3),
        "inference_ms": round(infer_ms, 3),
        "draw_ms": round(draw_ms, 3),
        "dropped": reader.dropped,
        "duplicates": reader.duplicates,
    }


def run_loop(
    classifier: Classifier,
    reader: FrameReader,
    smoother: SentimentSmoother,
    overlay: Overlay,
    stats: RunStats,
    labels: Sequence[str],
    recorder: Any = None,
    display: Any = None,
    log: Any = None,
    max_frames: Optional[int] = None,
    duration: Optional[float] = None,
    stop: Optional[StopFlag] = None,
    status: Optional[Callable[[RunStats, FrameReader, str], None]] = None,
    status_every: float = 0.0,
) -> str:
    """Process frames until a stop condition; returns the stop reason."""
    stop = stop or StopFlag()
    labels = list(labels)
    fig = Figures()
    perf = time.perf_counter
    wall = time.time
    run = _reader(classifier)
    update = smoother.update
    draw = overlay.draw
    stats.start()
    t_end = stats.t_loop_start + duration if duration else None
    next_status = stats.t_loop_start + status_every if status and status_every > 0 else None
    while True:
        if stop.reason is not None:
            return stop.reason
        frame = reader.get(0.1)
        if frame is None:  # nothing new yet
            if t_end is not None and perf() >= t_end:
                return "duration"
            continue
        if frame is END:
            if reader.error is not None:
                raise reader.error
            return reader.end_reason or "end_of_source"
        t0 = perf()
        probs, heads = run(frame.x)
        t1 = perf()
        label, smoothed = update(probs)
        _running_figures(fig, reader, stats, frame.pre_ms, (t1 - t0) * 1e3)
        # Headless with no video output nobody sees the overlay: drawing it would only cost time.
        image = (
            draw(frame.image, label, smoothed, fig, heads)
            if (recorder is not None or display is not None)
            else frame.image
        )
        t2 = perf()
        keep_going = True
        if recorder is not None:
            recorder.write(image)
        if display is not None:
            keep_going = display.show(image)
        t_shown = perf()
        infer_ms = (t1 - t0) * 1e3
        latency_ms = (t_shown - frame.t_capture) * 1e3
        if log is not None:
            record = _frame_record(
                frame, labels, label, probs, smoothed, reader, latency_ms, infer_ms, (t2 - t1) * 1e3, wall()
            )
            log.write({**record, **_head_fields(classifier, heads)})
        t_out = perf()
        stats.add(frame.pre_ms, infer_ms, (t2 - t1) * 1e3, (t_out - t2) * 1e3, latency_ms, t_shown, label)
        if not keep_going:
            return "window_closed"
        if max_frames is not None and stats.frames >= max_frames:
            return "max_frames"
        if t_end is not None and t_shown >= t_end:
            return "duration"
        if next_status is not None and t_shown >= next_status:
            status(stats, reader, labels[label])  # type: ignore[misc]
            next_status = t_shown + status_every
