"""Python entry point of the demo: ``run_demo(DemoConfig(...))`` -> summary dict.

``sentilite demo`` is a thin layer over this; ``sentilite quickstart`` calls it directly::

    from sentilite.camera_demo.api import DemoConfig, run_demo
    summary = run_demo(DemoConfig(model="model_int8.tflite", source="clip.mp4", sync=True,
                                  display=False, record="demo.mp4", log="frames.jsonl"))
    summary["fps"]["end_to_end"], summary["latency_ms"]["p50"]

Errors that stop the demo before its loop (bad model, source, display or output path) are
:class:`sentilite.core.errors.SentiliteError` subclasses with a one-line message and a fix. A live
source that disappears and does not come back ends the run normally with
``summary["stop_reason"] == "source_lost"`` (files closed and valid).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional

from sentilite.core.errors import SentiliteError

if TYPE_CHECKING:
    from sentilite.camera_demo.sources import Source
    from sentilite.core.classifier import Classifier


@dataclass
class DemoConfig:
    """Everything ``sentilite demo`` accepts (CLI flag in brackets)."""

    #: .tflite image classifier with an embedded contract; None = the bundled model [--model]
    model: Optional[str] = None
    #: camera index, video file, stream URL, image folder/file, or "picamera[:N]" [--source]
    source: str = "0"
    #: resolution and frame-rate requests for cameras; ``fps`` is also the playback rate of
    #: files/folders in the default (latest-frame) mode, 0 = as fast as they decode [--width/--height/--fps]
    width: Optional[int] = None
    height: Optional[int] = None
    fps: Optional[float] = None
    #: interpreter threads [--threads]
    threads: int = 1
    #: process every frame in order (files, benchmarks, tests) instead of the newest one [--sync]
    sync: bool = False
    #: EMA weight of each new frame's probabilities, 1 = off [--smoothing]
    smoothing: float = 0.3
    #: lead another class needs over the shown one before the label switches [--hysteresis]
    hysteresis: float = 0.1
    #: show a window (False for SSH/CI) [--no-display]
    display: bool = True
    #: write the annotated video here (.mp4, .avi, .mkv ...) [--record]
    record: Optional[str] = None
    #: write one JSON line per processed frame here [--log]
    log: Optional[str] = None
    #: stop after this many processed frames [--max-frames]
    max_frames: Optional[int] = None
    #: stop after this many seconds [--duration]
    duration: Optional[float] = None
    #: live sources: reopen attempts after the source stops, first back-off in seconds (doubles) [--reconnect]
    reconnect_attempts: int = 5
    reconnect_backoff: float = 0.5
    #: frames decoded ahead in --sync mode
    queue_size: int = 3
    #: seconds between console status lines when no window is shown; 0 = none
    status_every: float = 2.0
    #: print nothing (the summary is still returned)
    quiet: bool = False
    #: treat SIGINT/SIGTERM as "stop cleanly" while running (only from the main thread)
    handle_signals: bool = True

    def validate(self) -> None:
        problems = []
        if not 0.0 < self.smoothing <= 1.0:
            problems.append(f"--smoothing {self.smoothing} (needs 0 < S <= 1; 1 = no smoothing)")
        if not 0.0 <= self.hysteresis < 1.0:
            problems.append(f"--hysteresis {self.hysteresis} (needs 0 <= H < 1)")
        for name in ("width", "height", "max_frames"):
            v = getattr(self, name)
            if v is not None and v <= 0:
                problems.append(f"--{name.replace('_', '-')} {v} (needs a positive number)")
        if self.fps is not None and self.fps < 0:
            problems.append(f"--fps {self.fps} (needs >= 0)")
        if self.duration is not None and self.duration <= 0:
            problems.append(f"--duration {self.duration} (needs a positive number of seconds)")
        if self.threads is not None and self.threads < 1:
            problems.append(f"--threads {self.threads} (needs >= 1)")
        if self.reconnect_attempts < 0 or self.reconnect_backoff < 0 or self.queue_size < 1:
            problems.append("reconnect attempts/back-off must be >= 0 and queue_size >= 1")
        if problems:
            raise SentiliteError("Invalid demo settings: " + "; ".join(problems) + ".", "see `sentilite demo --help`")


def _say(quiet: bool) -> Callable[[str], None]:
    def say(msg: str) -> None:
        if not quiet:
            print(msg, flush=True)

    return say


def _warn(msg: str) -> None:
    stream = sys.stderr
    bold = "\033[1;33m" if stream.isatty() else ""
    reset = "\033[0m" if bold else ""
    print(f"{bold}WARNING: {msg}{reset}", file=stream, flush=True)


def _load_model(config: DemoConfig, classifier: Classifier, say: Callable[[str], None]) -> tuple[Any, str]:
    """The classifier (the config's model, the bundled one, or an injected one) and its path."""
    from .model import load_demo_classifier, resolve_demo_model

    if classifier is not None:
        return classifier, str(getattr(classifier, "path", "<injected classifier>"))
    path, is_default = resolve_demo_model(config.model)
    classifier = load_demo_classifier(path, config.threads)
    if is_default:
        from sentilite.core.default_model import describe_default

        say(f"model   {path}: {describe_default()}; pass --model to use your own")
    else:
        say(f"model   {path}")
    say(
        f"        {classifier.contract.describe()}; labels {', '.join(classifier.contract.labels)}; "
        f"runtime {classifier.runtime.describe()}, {config.threads} thread(s)"
    )
    return classifier, str(path)


class _Outputs:
    """The recorder, the JSONL log and the window of one run; all closed by :meth:`close`."""

    def __init__(self) -> None:
        self.recorder: Any = None
        self.log: Any = None
        self.display: Any = None

    def open(self, config: DemoConfig, fps: float, model_path: str) -> None:
        from .sinks import DisplaySink, JsonlLog, VideoRecorder

        if config.record:
            self.recorder = VideoRecorder(config.record, fps)
        if config.log:
            self.log = JsonlLog(config.log)
        if config.display:
            self.display = DisplaySink(f"sentilite demo - {os.path.basename(model_path or 'model')}")

    def notes(self, output_error: Optional[str]) -> dict[str, Any]:
        """What the summary says of the outputs: a disk that filled, a recording left unplayable."""
        incomplete = self.recorder.incomplete if self.recorder is not None else None
        return {"output_error": output_error, **({"record_incomplete": str(incomplete)} if incomplete else {})}

    def close(self) -> None:
        for closer in (self.recorder, self.log, self.display):
            if closer is not None:
                closer.close()


@contextlib.contextmanager
def _stop_on_signals(enabled: bool, stop: Any) -> Iterator[None]:
    """While the loop runs, Ctrl-C / SIGTERM ask it to stop after the current frame (twice: at once)."""
    restore: list[tuple[int, Any]] = []
    if enabled and threading.current_thread() is threading.main_thread():

        def on_signal(signum: int, _frame: Any) -> None:
            if stop.reason is not None:  # second Ctrl-C: stop waiting
                raise KeyboardInterrupt
            stop.set("interrupted" if signum == signal.SIGINT else "terminated")

        for sig in (signal.SIGINT, signal.SIGTERM):
            restore.append((sig, signal.signal(sig, on_signal)))
    try:
        yield
    finally:
        for sig, old in restore:
            signal.signal(sig, old)


def _status_line(say: Callable[[str], None]) -> Callable[[Any, Any, str], None]:
    def status(st: Any, rd: Any, label: str) -> None:
        say(
            f"[demo] {st.frames} frames | capture {rd.capture_fps_ema:.1f} fps | inference "
            f"{1000 / st.infer.value if st.infer.value else 0:.1f} fps | shown {st.shown_fps.value:.1f} fps | "
            f"latency {st.latency.value:.1f} ms | dropped {rd.dropped} | {label}"
        )

    return status


def _mode_line(config: DemoConfig, source: Source, pace: Optional[float], display: Any) -> str:
    return (
        f"mode    {'sync' if config.sync else 'latest'}: "
        + ("every frame, in order" if config.sync else "newest frame (older ones dropped)")
        + (
            f"; playing at {pace:g} fps"
            if pace
            else ("; as fast as it decodes" if not source.live and not config.sync else "")
        )
        + ("; q / Esc / Ctrl-C to stop" if display else "; Ctrl-C to stop")
    )


def _frame_reader(config: DemoConfig, source: Source, classifier: Classifier, mode: str, pace: Optional[float]) -> Any:
    """The capture thread: frames read, encoded through the model's contract, queued per ``mode``."""
    from .capture import FrameReader

    return FrameReader(
        source,
        lambda img: classifier.encode(img, "BGR"),
        mode=mode,
        queue_size=config.queue_size,
        pace_fps=pace,
        limit=config.max_frames if config.sync else None,
        reconnect_attempts=config.reconnect_attempts,
        reconnect_backoff=config.reconnect_backoff,
        on_event=_warn,
    )


def _run_facts(config: DemoConfig, classifier: Classifier, source: Source, outputs: Any) -> dict[str, Any]:
    """What the summary says of the run besides its figures: runtime, source, outputs, the config."""
    from .sources import redact_url

    return {
        "runtime": classifier.runtime.describe(),
        "threads": config.threads,
        "source": source.info(),
        "record": str(config.record) if config.record else None,
        "recorded_frames": outputs.recorder.frames if outputs.recorder is not None else 0,
        "log": str(config.log) if config.log else None,
        "config": {**asdict(config), "source": redact_url(str(config.source))},
    }


def _open_and_announce(source: Source, say: Callable[[str], None]) -> None:
    """Open the source and say what it is (size and frame rate where known), with its notes."""
    source.open()
    size = f", {source.frame_size[0]}x{source.frame_size[1]}" if source.frame_size else ""
    say(f"source  {source.description}{size}" + (f" @ {source.fps:g} fps" if source.fps else ""))
    for note in source.notes:
        _warn(note)


def run_demo(config: DemoConfig, *, classifier: Classifier = None, source: Source = None) -> dict[str, Any]:
    """Run the demo per ``config``; returns the summary (see :meth:`RunStats.summary`).

    ``classifier`` (a :class:`~sentilite.core.classifier.Classifier`) and ``source`` (a
    :class:`~sentilite.camera_demo.sources.Source`, not yet opened) replace the ones the config
    names; tests use them to inject a slow model or a camera that fails.
    """
    from .loop import StopFlag, run_loop
    from .overlay import Overlay
    from .sinks import DiskFull, check_display_possible
    from .smoothing import SentimentSmoother
    from .source_factory import make_source
    from .sources import SourceError
    from .stats import RunStats, format_summary

    config.validate()
    say = _say(config.quiet)
    if config.display:  # cheapest checks first: a window that cannot open fails before a model is loaded
        check_display_possible()
    if source is None:  # parse --source (cheap) before loading the model; opened below
        source = make_source(config.source, config.width, config.height, config.fps)
    classifier, model_path = _load_model(config, classifier, say)
    for w in getattr(classifier, "warnings", []) or []:
        _warn(f"model {model_path}: {w}")
    labels = list(classifier.contract.labels)
    _open_and_announce(source, say)
    # a file plays at its own frame rate (or --fps) unless every frame is wanted in order
    pace = None if config.sync or source.live else (config.fps if config.fps is not None else (source.fps or 30.0))
    mode = "sync" if config.sync else "latest"
    stop, stats, outputs, reader = StopFlag(), RunStats(labels), _Outputs(), None
    stop_reason, output_error = "error", None
    try:
        outputs.open(config, source.fps or config.fps or 30.0, model_path)
        say(_mode_line(config, source, pace, outputs.display))
        reader = _frame_reader(config, source, classifier, mode, pace)
        with _stop_on_signals(config.handle_signals, stop):
            reader.start()
            stop_reason = run_loop(
                classifier,
                reader,
                SentimentSmoother(len(labels), config.smoothing, config.hysteresis),
                Overlay(labels, getattr(classifier.contract, "heads", ())),
                stats,
                labels,
                recorder=outputs.recorder,
                display=outputs.display,
                log=outputs.log,
                max_frames=config.max_frames,
                duration=config.duration,
                stop=stop,
                status=None if (outputs.display or config.quiet) else _status_line(say),
                status_every=config.status_every,
            )
    except KeyboardInterrupt:
        stop_reason = "interrupted"
    except DiskFull as exc:  # the sink left its file valid; the rest of the run is summarised as usual
        stop_reason, output_error = "disk_full", str(exc)
    finally:
        if reader is not None:
            reader.stop()
        else:
            source.release()
        outputs.close()
    summary = stats.summary(
        reader,
        mode=mode,
        stop_reason=stop_reason,
        model=model_path,
        labels=labels,
        **_run_facts(config, classifier, source, outputs),
    )
    summary.update(outputs.notes(output_error))
    if stop_reason == "end_of_source" and stats.frames == 0:
        raise SourceError(
            f"{source.description} yielded no decodable frame, so nothing was classified.",
            "check that the file is a video (or image folder) OpenCV can decode: "
            "`python -c \"import cv2; print(cv2.VideoCapture('FILE').read()[0])\"`",
        )
    say(format_summary(summary))
    return summary
