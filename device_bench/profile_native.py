"""``sentilite profile`` on a phone without Python: TFLite's native ``benchmark_model`` times
each one-op model (and the whole model, and the invoke-overhead model) as a run of its own.

The adb transport already runs any list of .tflite files through ``benchmark_model`` and parses
its report into the bench schema (:mod:`device_bench.benchmark_model`); here each model of the
profile is one such job, and the results are regrouped into the records
:func:`device_bench.profile_math.assemble` reads: per thread count and repeat, the whole model's
latency and the list of the ops' medians (the tool's mean where its build prints no median),
with whether XNNPACK took each op ("Replacing N out of N node(s) with delegate").

The whole model also runs once more per thread count and repeat with ``--enable_op_profiling``:
the tool's own per-op table (:mod:`device_bench.benchmark_ops`), set beside sentilite's. It is a
run of its own because the profiler's instrumentation costs time of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from .benchmark_ops import NativeOpRow
from .models import ModelEntry
from .records import RunnerSettings, RunResult, SystemInfo
from .transports.base import JobKey, Plan, Transport

Log = Callable[[str], None]


def _ms(r: RunResult) -> Optional[float]:
    lat = r.get("latency_ms") or {}
    return lat.get("median") if lat.get("median") is not None else lat.get("mean")


class NativePlan(Plan):
    """The profile's models, one benchmark_model run each, plus the whole model (entry 0) run
    with ``--enable_op_profiling`` (job variant 1)."""

    def job_table(self) -> dict[str, JobKey]:
        return {k: v for k, v in super().job_table().items() if v.variant == 0 or v.model_index == 0}


def regroup(raw: list[tuple[JobKey, RunResult]], n_models: int) -> list[RunResult]:
    """One model per job -> the profile's "whole-tT-rR", "ops-tT-rR" and "native-tT-rR" records."""
    by: dict[tuple[int, int], dict[int, RunResult]] = {}
    native: dict[tuple[int, int], RunResult] = {}
    for key, r in raw:
        if key.variant == 1:
            native[(key.threads, key.repeat)] = r
        else:
            by.setdefault((key.threads, key.repeat), {})[key.model_index] = r
    out: list[RunResult] = []
    for (t, rep), models in sorted(by.items()):
        whole = models.get(0)
        if whole is not None:
            # the median profile_math reads, or the mean where the tool's build prints no median
            out.append({"id": f"whole-t{t}-r{rep}", "threads": t, "latency_ms": {"median": _ms(whole)},
                        "error": whole.get("error")})  # fmt: skip
        ops = []
        for i in range(1, n_models):
            r = models.get(i) or {"error": "no result"}
            ops.append({"median_ms": _ms(r), "delegated": bool((r.get("delegate") or {}).get("applied")),
                        "error": r.get("error")})  # fmt: skip
        out.append({"id": f"ops-t{t}-r{rep}", "threads": t, "ops": ops})  # type: ignore[typeddict-unknown-key]
    for (t, rep), r in sorted(native.items()):
        rows: list[NativeOpRow] = r.get("native_ops") or []
        mean = (r.get("latency_ms") or {}).get("mean")
        out.append({"id": f"native-t{t}-r{rep}", "threads": t, "native_ops": rows, "latency_ms": {"mean": mean},
                    "error": r.get("error")})  # fmt: skip
    return out


def native_runs(
    transport: Transport,
    entries: list[ModelEntry],
    threads: list[int],
    repeat: int,
    settings: RunnerSettings,
    work: Path,
    say: Log,
) -> tuple[SystemInfo, list[str], list[RunResult], Optional[BaseException]]:
    """Every model of the profile through benchmark_model: (system, errors, regrouped runs, interrupt)."""
    from .api import measure_plan

    plan = NativePlan(entries, threads, repeat, settings, {}, variants=[{}, {"op_profiling": True}])
    table = plan.job_table()
    raw: list[tuple[JobKey, RunResult]] = []

    def got(r: RunResult) -> None:
        key = table.get(str(r.get("id") or ""))
        if key is not None:
            raw.append((key, r))
        if len(raw) % 10 == 0 or r.get("error"):
            say(
                f"  {len(raw)} of {len(table)} benchmark_model runs"
                + (f": ERROR {r['error']}" if r.get("error") else "")
            )

    system, errors, _first, interrupted = measure_plan(transport, plan, work, got, say)
    return system, errors, regroup(raw, len(entries)), interrupted
