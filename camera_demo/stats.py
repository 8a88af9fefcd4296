"""Figures of a demo run: running averages for the overlay, and the summary printed at exit.

Kinds of frame rate, kept apart on purpose:

* capture FPS: how fast frames arrive from the source;
* inference FPS: the model's own throughput, 1000 / mean inference ms;
* end-to-end FPS: frames processed (inferred, drawn, written out) per second of the loop.

Latency is end to end: from the moment the source returned a frame to the moment its
annotated version was shown (or written, when headless).
"""

from __future__ import annotations

import math
import os
import time
from array import array
from typing import Any, Optional, Sequence

from sentilite.core.probe import peak_rss_mb, percentile


class Ema:
    """Exponential moving average; the first value is taken as is."""

    __slots__ = ("alpha", "value")

    def __init__(self, alpha: float = 0.1) -> None:
        self.alpha, self.value = alpha, 0.0

    def add(self, x: float) -> float:
        self.value = x if self.value == 0.0 else self.value + self.alpha * (x - self.value)
        return self.value


def process_age_s() -> Optional[float]:
    """Seconds since this process started (10 ms resolution), or None where unknown."""
    try:  # Linux: start time in clock ticks since boot, against the boot-time clock
        with open("/proc/self/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        start = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return time.clock_gettime(time.CLOCK_BOOTTIME) - start
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    try:
        import psutil

        return time.time() - psutil.Process().create_time()
    except Exception:  # noqa: BLE001 - a missing figure must not break the summary
        return None


class RunStats:
    """Accumulates per-frame figures in the loop (cheap: a few float operations a frame)."""

    def __init__(self, labels: Sequence[str]) -> None:
        self.labels = list(labels)
        self.frames = 0
        self.sum_pre = self.sum_infer = self.sum_draw = self.sum_out = 0.0
        self.latencies = array("d")
        self.label_counts = [0] * len(self.labels)
        # Running values shown on the overlay.
        self.pre = Ema()
        self.infer = Ema()
        self.draw = Ema()
        self.latency = Ema()
        self.shown_fps = Ema()
        self.t_loop_start: Optional[float] = None
        self.t_first_shown: Optional[float] = None
        self.t_last_shown: Optional[float] = None
        self.first_result_age: Optional[float] = None

    def start(self) -> None:
        self.t_loop_start = time.perf_counter()

    def add(
        self,
        pre_ms: float,
        infer_ms: float,
        draw_ms: float,
        out_ms: float,
        latency_ms: float,
        t_shown: float,
        label: int,
    ) -> None:
        self.frames += 1
        self.sum_pre += pre_ms
        self.sum_infer += infer_ms
        self.sum_draw += draw_ms
        self.sum_out += out_ms
        self.latencies.append(latency_ms)
        self.label_counts[label] += 1
        self.pre.add(pre_ms)
        self.infer.add(infer_ms)
        self.draw.add(draw_ms)
        self.latency.add(latency_ms)
        if self.t_last_shown is not None and t_shown > self.t_last_shown:
            self.shown_fps.add(1.0 / (t_shown - self.t_last_shown))
        if self.t_first_shown is None:
            self.t_first_shown = t_shown
            self.first_result_age = process_age_s()
        self.t_last_shown = t_shown

    def mean(self, total: float) -> float:
        return total / self.frames if self.frames else 0.0

    def summary(self, reader: Any = None, **extra: Any) -> dict[str, Any]:
        """The run's figures as a plain dict (what ``run_demo`` returns and the CLI prints)."""
        wall = (self.t_last_shown - self.t_loop_start) if (self.t_last_shown and self.t_loop_start) else 0.0
        infer_ms = self.mean(self.sum_infer)
        lat = list(self.latencies)
        out: dict[str, Any] = {
            "frames": self.frames,
            "captured": getattr(reader, "captured", None),
            "dropped": getattr(reader, "dropped", 0),
            "duplicates": getattr(reader, "duplicates", 0),
            "reconnects": getattr(reader, "reconnects", 0),
            "reconnect_attempts": getattr(reader, "reconnect_attempts_made", 0),
            "loop_seconds": round(wall, 4),
            "fps": {
                "capture": round(reader.capture_fps_mean, 2) if reader is not None else None,
                "inference": round(1000.0 / infer_ms, 2) if infer_ms else 0.0,
                "end_to_end": round(self.frames / wall, 2) if wall > 0 else 0.0,
            },
            "latency_ms": {
                "p50": round(percentile(lat, 50), 2) if lat else None,
                "p90": round(percentile(lat, 90), 2) if lat else None,
                "mean": round(sum(lat) / len(lat), 2) if lat else None,
                "max": round(max(lat), 2) if lat else None,
            },
            "timings_ms": {
                "preprocess": round(self.mean(self.sum_pre), 3),
                "inference": round(infer_ms, 3),
                "draw": round(self.mean(self.sum_draw), 3),
                "output": round(self.mean(self.sum_out), 3),
            },
            "label_counts": dict(zip(self.labels, self.label_counts)),
            "first_result_s": round(self.first_result_age, 3) if self.first_result_age is not None else None,
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }
        out.update(extra)
        return out


def format_summary(s: dict[str, Any]) -> str:
    """The human summary printed at exit."""
    fps, lat, t = s["fps"], s["latency_ms"], s["timings_ms"]

    def f(v: Any, fmt: str = ".1f") -> str:
        return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)

    lines = [
        f"demo summary ({s.get('mode', '?')} mode, stopped: {s.get('stop_reason', '?')})",
        f"  frames      {s['frames']} processed, {f(s['captured'], 'd') if s['captured'] is not None else 'n/a'} "
        f"captured, "
        f"{s['dropped']} dropped, {s['duplicates']} duplicate"
        + (
            f", {s['reconnects']} reconnect(s) in {s['reconnect_attempts']} attempt(s)"
            if s.get("reconnect_attempts")
            else ""
        ),
        f"  fps         capture {f(fps['capture'])} | inference {f(fps['inference'])} (model throughput) | "
        f"end-to-end {f(fps['end_to_end'])}",
        f"  latency     captured -> shown p50 {f(lat['p50'])} ms, p90 {f(lat['p90'])} ms",
        f"  mean ms     preprocess {f(t['preprocess'], '.2f')} | inference {f(t['inference'], '.2f')} | "
        f"draw {f(t['draw'], '.2f')} | output {f(t['output'], '.2f')}",
        "  labels      " + ", ".join(f"{k} {v}" for k, v in s["label_counts"].items()),
        f"  process     first result {f(s['first_result_s'], '.2f')} s after start, peak RSS {f(s['peak_rss_mb'])} MB",
    ]
    for key, what in (("record", "recording"), ("log", "frame log")):
        if s.get(key):
            lines.append(f"  {what:<11} {s[key]}")
    return "\n".join(lines)
