"""``sentilite demo``: a thin click layer over :func:`camera_demo.api.run_demo`."""

from __future__ import annotations

import json
import sys
from typing import Any, Optional

import click

EXAMPLES = """\b
Examples:
  sentilite demo --source 0                                  # first webcam, bundled model
  sentilite demo --model model_int8.tflite --source 0 --width 1280 --height 720 --fps 30
  sentilite demo --model m.tflite --source clip.mp4          # a video, played like a camera
  sentilite demo --model m.tflite --source photos/           # a folder of images
  sentilite demo --model m.tflite --source rtsp://user:pass@192.168.1.20:554/stream1
  sentilite demo --model m.tflite --source picamera          # Raspberry Pi camera (picamera2)
  sentilite demo --model m.tflite --source 0 --no-display --record out.mp4 --log stats.jsonl --duration 60
  sentilite demo --model m.tflite --source clip.mp4 --sync --no-display --max-frames 300   # every frame
"""


@click.command("demo", epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--model",
    "-m",
    type=click.Path(dir_okay=False),
    default=None,
    help="A .tflite image classifier with an embedded contract (default: the bundled model).",
)
@click.option(
    "--source",
    "-s",
    default="0",
    show_default=True,
    help="Camera index, video file, stream URL (rtsp://, http://), image folder, or 'picamera'.",
)
@click.option("--width", type=int, default=None, help="Requested camera width (pixels).")
@click.option("--height", type=int, default=None, help="Requested camera height (pixels).")
@click.option(
    "--fps",
    type=float,
    default=None,
    help="Requested camera frame rate; for files and folders the playback rate (0 = as fast as they decode).",
)
@click.option("--threads", type=int, default=1, show_default=True, help="Interpreter threads.")
@click.option(
    "--sync", is_flag=True, help="Process every frame in order (files, benchmarks) instead of always the newest one."
)
@click.option(
    "--smoothing",
    type=float,
    default=0.3,
    show_default=True,
    help="Weight of each new frame in the moving average of class probabilities (1 = no smoothing).",
)
@click.option(
    "--hysteresis",
    type=float,
    default=0.1,
    show_default=True,
    help="Lead another class needs over the shown one before the label switches.",
)
@click.option("--no-display", is_flag=True, help="No window (SSH, CI); combine with --record / --log.")
@click.option(
    "--record", type=click.Path(dir_okay=False), default=None, help="Write the annotated video here (.mp4, .avi, .mkv)."
)
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write one JSON line per processed frame here (stays valid if the process is killed).",
)
@click.option("--max-frames", type=int, default=None, help="Stop after N processed frames.")
@click.option("--duration", type=float, default=None, help="Stop after S seconds.")
@click.option(
    "--reconnect",
    type=int,
    default=5,
    show_default=True,
    help="Reconnect attempts (back-off 0.5 s, doubling) when a camera or stream stops.",
)
@click.option(
    "--summary-json", type=click.Path(dir_okay=False), default=None, help="Also write the exit summary as JSON here."
)
@click.option("--quiet", "-q", is_flag=True, help="Print only warnings and errors.")
def demo_command(
    model: Optional[str],
    source: str,
    width: Optional[int],
    height: Optional[int],
    fps: Optional[float],
    threads: int,
    sync: bool,
    smoothing: float,
    hysteresis: float,
    no_display: bool,
    record: Optional[str],
    log_path: Optional[str],
    max_frames: Optional[int],
    duration: Optional[float],
    reconnect: int,
    summary_json: Optional[str],
    quiet: bool,
) -> None:
    """Live scene sentiment from a camera, video file, stream or image folder.

    Shows every processed frame with the smoothed label, one bar per class, capture FPS,
    inference FPS, end-to-end latency (captured -> shown) and dropped/duplicate frame counts,
    and prints a summary at exit. Capture runs in its own thread and keeps only the newest
    frame, so a slow model drops frames instead of lagging; --sync processes every frame.
    Stop with q / Esc in the window, Ctrl-C, or --max-frames / --duration.
    """
    from .api import DemoConfig, run_demo

    config = DemoConfig(
        model=model,
        source=source,
        width=width,
        height=height,
        fps=fps,
        threads=threads,
        sync=sync,
        smoothing=smoothing,
        hysteresis=hysteresis,
        display=not no_display,
        record=record,
        log=log_path,
        max_frames=max_frames,
        duration=duration,
        reconnect_attempts=reconnect,
        quiet=quiet,
    )
    summary = run_demo(config)
    if summary_json:
        _write_summary(summary_json, summary)
    if summary.get("stop_reason") == "disk_full":
        click.echo(click.style("error: ", fg="red", bold=True) + summary["output_error"], err=True)
        sys.exit(2)
    if summary.get("stop_reason") == "source_lost":
        src = summary.get("source", {}).get("description", source)
        files = [p for p in (record, log_path) if p]
        click.echo(
            click.style("error: ", fg="red", bold=True)
            + f"{src} stopped delivering frames and did not come back after {reconnect} reconnect attempts."
            + (f" What was recorded is complete: {', '.join(files)}." if files else "")
            + " Fix: check the cable / network and run the demo again.",
            err=True,
        )
        sys.exit(3)


def _write_summary(path: str, summary: dict[str, Any]) -> None:
    """The summary JSON; on a full disk it is printed instead, so that nothing measured is lost."""
    from sentilite.core.fsutil import atomic_write_json, is_no_room

    try:
        atomic_write_json(path, summary)
    except OSError as exc:
        if not is_no_room(exc):
            raise
        click.echo(json.dumps(summary, indent=2, default=str))
        click.echo(
            click.style("warning: ", fg="yellow", bold=True) + f"disk full at {path}: the summary is printed above",
            err=True,
        )
