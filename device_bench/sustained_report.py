"""Host side of sustained mode: the one-line verdict per row and the latency/temperature plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

from .records import RunResult
from .sustained import MIN_TREND_S


def verdict_text(s: Optional[dict[str, Any]]) -> Optional[str]:
    """``sustained 60 s: 4.10 -> 4.12 ms (x1.00), no throttling`` or the reasons it throttled."""
    if not s:
        return None
    a, b = s.get("first_window_median_ms"), s.get("last_window_median_ms")
    trend = f"{a:.2f} -> {b:.2f} ms (x{b / a:.2f})" if a and b else "no samples"
    why = "THROTTLED: " + "; ".join(s["reasons"]) if s.get("throttled") else "no throttling seen"
    # written by runners older than the trend rule: no key, judged as before
    short = (
        ""
        if s.get("trend_judged", True)
        else f" (latency trend not judged: windows under {MIN_TREND_S} s; run >= {4 * MIN_TREND_S} s)"
    )
    return f"sustained {s['seconds']:.0f} s, first vs last {s['window_s']:.0f} s: {trend}, {why}{short}"


def plot_sustained(runs: Sequence[RunResult], path: Path) -> bool:
    """Median latency per second (left axis) and temperature (right axis) against time."""
    from sentilite.core.plotting import pyplot, save_figure

    plt = pyplot()
    series = [
        (r.get("name"), r.get("threads"), r["sustained"]["series"])
        for r in runs
        if (r.get("sustained") or {}).get("series")
    ]
    if plt is None or not series:
        return False
    fig, ax = plt.subplots(figsize=(8, 4.5))
    temp_ax = ax.twinx()
    for name, threads, pts in series:
        t = [p["t"] for p in pts]
        ax.plot(t, [p["median_ms"] for p in pts], label=f"{name} x{threads} latency")
        temps = [p.get("temperature_c") for p in pts]
        if any(v is not None for v in temps):
            temp_ax.plot(t, temps, linestyle="--", alpha=0.6, label=f"{name} x{threads} temperature")
    ax.set_xlabel("seconds under load")
    ax.set_ylabel("median latency per second (ms)")
    temp_ax.set_ylabel("temperature (°C)")
    ax.set_ylim(bottom=0)
    handles = ax.get_legend_handles_labels()[0] + temp_ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=8, loc="lower right")
    ax.grid(True, alpha=0.3)
    ax.set_title("Sustained load: latency and temperature over time")
    fig.tight_layout()
    save_figure(fig, path)
    return True
