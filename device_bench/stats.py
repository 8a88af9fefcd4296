"""Statistics over benchmark results: the CV flag and the confidence interval over repeats.

Per-process statistics (min, median, p90, ...) are computed by the runner itself
(:func:`device_bench.runner.summarize`, reused here). With ``--repeat K`` each model x thread
count is measured in K independent processes; the row then pools their timed samples and
gives a 95 % confidence interval of the median latency from the K per-process medians
(Student's t), which is what "is variant A really faster than B" needs.
"""

from __future__ import annotations

import math
import statistics
from typing import Any, Optional, Sequence

from sentilite.core.probe import summarize

from .records import RunResult

#: A result whose timed runs vary more than this (std / mean) is flagged.
DEFAULT_CV_THRESHOLD = 0.10

# Two-sided 95 % Student t quantiles for 1..30 degrees of freedom (no SciPy on the device side).
_T95 = [
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
]


def t95(dof: int) -> float:
    if dof < 1:
        return float("nan")
    return _T95[dof - 1] if dof <= len(_T95) else 1.96


def confidence_interval(values: Sequence[float]) -> Optional[tuple[float, float]]:
    """95 % CI of the mean of ``values`` (t distribution); None with fewer than 2 values."""
    v = [float(x) for x in values if x is not None]
    if len(v) < 2:
        return None
    m = statistics.fmean(v)
    half = t95(len(v) - 1) * statistics.stdev(v) / math.sqrt(len(v))
    return (m - half, m + half)


#: What to do about a flagged result (printed once under a table).
VARIATION_ADVICE = (
    "High variation means other load on the device, CPU frequency scaling or thermal throttling: close other "
    "programs, use the performance governor, let the device cool, or raise --min-seconds / --repeat."
)


def cv_flag(cv: Optional[float], threshold: float = DEFAULT_CV_THRESHOLD) -> Optional[str]:
    if cv is None or cv <= threshold:
        return None
    return f"high variation (CV {cv:.0%} > {threshold:.0%})"


def _median(values: Sequence[Optional[float]]) -> Optional[float]:
    v = [float(x) for x in values if x is not None]
    return statistics.median(v) if v else None


def _max(values: Sequence[Optional[float]]) -> Optional[float]:
    v = [float(x) for x in values if x is not None]
    return max(v) if v else None


def aggregate(results: Sequence[RunResult], cv_threshold: float = DEFAULT_CV_THRESHOLD) -> dict[str, Any]:
    """Merge the per-process results of one model x thread count into one table row.

    Latency statistics pool the timed samples of all repeats (or, for tools that report only
    summaries such as benchmark_model, take the median of each statistic). Load and first
    inference are medians over repeats; peak RSS the maximum.
    """
    ok = [r for r in results if not r.get("error")]
    if not ok:
        return {"error": results[0].get("error") if results else "no result"}
    pooled = [s for r in ok for s in (r.get("samples_ms") or [])]
    if pooled:
        lat = summarize(pooled)
    else:
        keys = ("count", "min", "median", "mean", "p90", "p99", "max", "std", "cv", "throughput_ips")
        lat = {k: _median([(r.get("latency_ms") or {}).get(k) for r in ok]) for k in keys}
        if lat.get("count") is not None:
            lat["count"] = int(sum((r.get("latency_ms") or {}).get("count") or 0 for r in ok))
        if lat.get("mean") and lat.get("std") is not None:
            lat["cv"] = lat["std"] / lat["mean"]
        if lat.get("mean"):
            lat["throughput_ips"] = 1000.0 / lat["mean"]
    medians = [(r.get("latency_ms") or {}).get("median") for r in ok]
    medians = [m for m in medians if m is not None]
    ci = confidence_interval(medians)
    flags = []
    worst_cv = max(((r.get("latency_ms") or {}).get("cv") or 0.0) for r in ok)
    f = cv_flag(max(worst_cv, lat.get("cv") or 0.0), cv_threshold)
    if f:
        flags.append(f)
    if len(medians) >= 2:
        spread = (max(medians) - min(medians)) / statistics.median(medians)
        if spread > cv_threshold:
            flags.append(f"repeats disagree: medians span {spread:.0%} ({min(medians):.3g}-{max(medians):.3g} ms)")
    if any(
        r.get("delegate", {}).get("applied") is False and r.get("xnnpack_requested")
        for r in ok
        if r.get("kind") == "tflite"
    ):
        flags.append("no delegate applied although XNNPACK was requested (old runtime?)")
    return {
        "latency_ms": lat,
        "median_ms": lat.get("median"),
        "p90_ms": lat.get("p90"),
        "mean_ms": lat.get("mean"),
        "cv": lat.get("cv"),
        "throughput_ips": lat.get("throughput_ips"),
        "load_ms": _median([r.get("load_ms") for r in ok]),
        "first_ms": _median([r.get("first_ms") for r in ok]),
        "warmup_mean_ms": _median([r.get("warmup_mean_ms") for r in ok]),
        "rss_peak_mb": _max([r.get("rss_peak_mb") for r in ok]),
        "rss_growth_mb": _max([r.get("rss_growth_mb") for r in ok]),
        "time_to_first_result_s": _median([r.get("time_to_first_result_s") for r in ok]),
        "repeats": len(ok),
        "repeat_medians_ms": medians,
        "median_ci95_ms": list(ci) if ci else None,
        "flags": flags,
        "error": None
        if len(ok) == len(results)
        else f"{len(results) - len(ok)} of {len(results)} repeats failed: "
        + "; ".join(sorted({str(r.get("error")) for r in results if r.get("error")})),
    }
