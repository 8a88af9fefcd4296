"""Sustained mode: latency over minutes, beside temperature and clock, and a throttling verdict.

Phones and Pis slow down after minutes of load, when they heat up and cap their clocks. A
short benchmark never shows it. Here the model runs without pause for ``seconds``; every
second the median latency, the hottest thermal zone, cpu0's clock and (on a Pi)
``vcgencmd get_throttled`` are sampled. The verdict compares the median of the first and the
last minute (a quarter of the run for shorter runs) and names every sign of throttling. A run
too short for windows of ``MIN_TREND_S`` seconds judges temperature, clock and the Pi's flags
only: a latency trend between one-second windows is the machine's noise, not throttling.

Ships to devices as ``sentilite_sustained.py`` (standard library only).
"""

import statistics
import time

if __package__:
    from sentilite.core import probe
else:
    try:
        import sentilite_probe as probe
    except ImportError:
        from sentilite.core import probe

SLOWDOWN = 1.15  # last-window median over first-window median that counts as slowing down
HOT_C = 80.0  # a Raspberry Pi starts to throttle at 80 degrees C
CAPPED = 0.9  # current clock below this share of the maximum
MIN_TREND_S = 5  # seconds per window below which the latency trend is not judged


def sample():
    """One reading of temperature, clock and the Pi's throttle flags."""
    cur, top = probe.cpu_frequency()
    return {
        "temperature_c": probe.temperature_c(),
        "cpu_mhz": cur,
        "max_mhz": top,
        "throttled_flags": probe.throttled_flags(),
    }


def run_sustained(run, n_inputs, seconds, clock=time.perf_counter, sampler=None):
    """Invoke ``run(i)`` for ``seconds``; returns (all latencies in ms, the per-second series).

    ``clock`` and ``sampler`` (default :func:`sample`) are parameters so that the windowing can
    be checked against a fake clock."""
    perf = clock
    sample_now = sampler or sample
    samples, series, window = [], [], []
    start = perf()
    next_tick = start + 1.0
    i = 0
    while True:
        t0 = perf()
        run(i % n_inputs)
        t1 = perf()
        ms = (t1 - t0) * 1000.0
        samples.append(ms)
        window.append(ms)
        i += 1
        if t1 >= next_tick:
            series.append(
                {"t": round(t1 - start, 3), "median_ms": statistics.median(window), "runs": len(window), **sample_now()}
            )
            window = []
            next_tick += 1.0
        if t1 - start >= seconds:
            break
    if window:
        series.append(
            {"t": round(perf() - start, 3), "median_ms": statistics.median(window), "runs": len(window), **sample_now()}
        )
    return samples, series


def verdict(series, seconds):
    """First vs last window medians, and every sign of throttling with its reason.

    Windows are counted in per-second samples, not read off their time stamps: the first sample
    lands a little after 1 s, and a time cut at 1 s would leave the first window empty."""
    span = min(60.0, max(seconds / 4.0, 1.0))
    k = max(1, int(round(span)))
    first = [s["median_ms"] for s in series[:k]]
    last = [s["median_ms"] for s in series[-k:]]
    m_first = statistics.median(first) if first else None
    m_last = statistics.median(last) if last else None
    reasons = []
    slowdown = (m_last / m_first) if (m_first and m_last) else None
    trend_judged = span >= MIN_TREND_S and len(series) >= 2 * k
    if trend_judged and slowdown is not None and slowdown >= SLOWDOWN:
        reasons.append(f"latency rose {slowdown:.2f}x from the first to the last {span:.0f} s")
    temps = [s["temperature_c"] for s in series if s.get("temperature_c") is not None]
    if temps and max(temps) >= HOT_C:
        reasons.append(f"temperature reached {max(temps):.1f} C (Pi throttling starts at {HOT_C:.0f} C)")
    capped = [s for s in series if s.get("cpu_mhz") and s.get("max_mhz") and s["cpu_mhz"] < CAPPED * s["max_mhz"]]
    if capped:
        reasons.append(
            f"the CPU clock was capped ({min(s['cpu_mhz'] for s in capped):.0f} of {capped[0]['max_mhz']:.0f} MHz) "
            f"in {len(capped)} of {len(series)} samples"
        )
    flags = [s["throttled_flags"] for s in series if s.get("throttled_flags")]
    if flags:
        reasons.append(f"vcgencmd get_throttled reported 0x{max(flags):x}")
    return {
        "seconds": seconds,
        "window_s": span,
        "first_window_median_ms": m_first,
        "last_window_median_ms": m_last,
        "slowdown": slowdown,
        "trend_judged": trend_judged,
        "throttled": bool(reasons),
        "reasons": reasons,
        "max_temperature_c": max(temps) if temps else None,
        "series": series,
    }
