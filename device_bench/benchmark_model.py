"""TFLite's native ``benchmark_model`` tool: the command line, and its output as our result schema.

Android has no Python, so over adb the protocol runs as ``benchmark_model`` with the same
settings (threads, warm-up runs, timed runs or minimum seconds). Its report is parsed into
the fields the Python runner produces; fields the tool does not report (p90, p99 on older
builds; per-run samples) stay None. Lines understood (with or without ``INFO:`` / logcat
prefixes)::

    Initialized session in 3.337ms.
    count=9 first=81913 curr=55502 min=55502 max=81913 avg=58984.7 std=8115           (warm-up)
    count=1061 first=56576 curr=56299 min=54669 max=60236 avg=56265.8 std=982 [p5=.. median=.. p95=..]
    Inference timings in us: Init: 3337, First inference: 81913, Warmup (avg): 58984.7, Inference (avg): 56265.8
    Memory footprint delta from the start of the tool (MB): init=4.21094 overall=46.0859
    Peak memory footprint (MB): init=4.92969 overall=138.809                         (older builds)
    Overall peak memory footprint (MB) via periodic monitoring: 93.2383
    Replacing 58 out of 58 node(s) with delegate (TfLiteXNNPackDelegate) node, yielding 1 partitions ...
"""

from __future__ import annotations

import re
from typing import Any, Optional, Sequence

from .record import BenchResult
from .records import RunnerJob, RunnerSettings, RunResult

_NUM = r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
_STATS_RE = re.compile(r"\bcount=(\d+)((?:\s+\w+=" + r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?" + r")*)")
_KV_RE = re.compile(r"(\w+)=" + _NUM)
_SUMMARY_RE = re.compile(
    r"Inference timings in us: Init: "
    + _NUM
    + r", First inference: "
    + _NUM
    + r", Warmup \(avg\): "
    + _NUM
    + r", Inference \(avg\): "
    + _NUM
)
_APP_SUMMARY_RE = re.compile(
    r"Average inference timings in us: Warmup: " + _NUM + r", Init: " + _NUM + r", Inference: " + _NUM
)
_MEM_DELTA_RE = re.compile(
    r"Memory footprint delta from the start of the tool \(MB\): init=" + _NUM + r" overall=" + _NUM
)
# Older builds print the process's peak instead of the delta: a peak, not growth over the bare tool.
_OLD_PEAK_RE = re.compile(r"Peak memory footprint \(MB\): init=" + _NUM + r" overall=" + _NUM)
_PEAK_RE = re.compile(r"Overall peak memory footprint \(MB\) via periodic monitoring: " + _NUM)
_INIT_RE = re.compile(r"Initialized session in " + _NUM + r"\s*ms")
_DELEGATE_RE = re.compile(
    r"Replacing (\d+) out of (\d+) node\(s\) with delegate \((\w+)\) node, yielding (\d+) partitions"
)
_VMRSS_RE = re.compile(r"VmRSS\s*:\s*" + _NUM + r"\s*MB")
_SIZE_RE = re.compile(r"The input model file size \(MB\): " + _NUM)
_ERROR_RE = re.compile(r"(?:^|\s)(?:ERROR|E tflite)\s*:?\s*(.+)$")

_DELEGATE_NAMES = {
    "TfLiteXNNPackDelegate": "XNNPACK",
    "TfLiteGpuDelegateV2": "GPU",
    "TfLiteNnapiDelegate": "NNAPI",
    "TfLiteHexagonDelegate": "Hexagon",
}


def parse_output(text: str) -> dict[str, Any]:
    """The numbers in a benchmark_model report (µs values converted to ms). Raises ValueError
    when the report has no ``Inference timings`` line (the run failed), with the tool's error."""
    stats_lines: list[dict[str, float]] = []
    out: dict[str, Any] = {}
    delegate: dict[str, Any] = {"applied": False, "name": None, "partitions": 0, "nodes": None}
    errors: list[str] = []
    summary_seen = False
    for raw in text.replace("\r", "").splitlines():
        line = raw.strip()
        m = _STATS_RE.search(line)
        # Stats lines after the summary (or "Timings (microseconds): ...") belong to op profiling.
        if m and not summary_seen and "Inference timings" not in line and "Timings (microseconds)" not in line:
            kv = {"count": float(m.group(1))}
            kv.update({k: float(v) for k, v in _KV_RE.findall(m.group(2))})
            stats_lines.append(kv)
            continue
        m = _SUMMARY_RE.search(line)
        if m:
            out["init_us"], out["first_us"], out["warmup_avg_us"], out["inference_avg_us"] = (
                float(g) for g in m.groups()
            )
            summary_seen = True
            continue
        m = _APP_SUMMARY_RE.search(line)
        if m:  # the Android benchmark app's logcat line (TFLite docs): no first-inference figure
            out["warmup_avg_us"], out["init_us"], out["inference_avg_us"] = (float(g) for g in m.groups())
            summary_seen = True
            continue
        m = _MEM_DELTA_RE.search(line)
        if m:
            out["mem_init_mb"], out["mem_overall_mb"] = float(m.group(1)), float(m.group(2))
            continue
        m = _OLD_PEAK_RE.search(line)
        if m:
            out["mem_peak_init_mb"], out["mem_peak_mb"] = float(m.group(1)), float(m.group(2))
            continue
        m = _PEAK_RE.search(line)
        if m:
            out["mem_peak_mb"] = float(m.group(1))
            continue
        m = _INIT_RE.search(line)
        if m:
            out["session_init_ms"] = float(m.group(1))
            continue
        m = _DELEGATE_RE.search(line)
        if m:
            delegate.update(
                applied=True,
                name=_DELEGATE_NAMES.get(m.group(3), m.group(3)),
                delegated_nodes=int(m.group(1)),
                nodes=int(m.group(2)),
                partitions=int(m.group(4)),
            )
            continue
        m = _VMRSS_RE.search(line)
        if m:
            out["vmrss_end_mb"] = float(m.group(1))
            continue
        m = _SIZE_RE.search(line)
        if m:
            out["model_size_mb"] = float(m.group(1))
            continue
        if "XNNPACK delegate" in line and delegate["name"] is None:
            delegate["name"] = "XNNPACK"
        m = _ERROR_RE.search(line)
        if m or "Failed" in line or "failed" in line:
            errors.append(m.group(1).strip() if m else line)
    if "inference_avg_us" not in out:
        why = "; ".join(dict.fromkeys(errors))[:400] if errors else "no 'Inference timings' line in its output"
        raise ValueError(why)
    # The last stats line is the timed phase; the one before it (if any) the warm-up.
    out["timed"] = stats_lines[-1] if stats_lines else None
    out["warmup"] = stats_lines[-2] if len(stats_lines) >= 2 else None
    out["delegate"] = delegate
    return out


def _ms(v: Optional[float]) -> Optional[float]:
    return None if v is None else v / 1000.0


def to_result(parsed: dict[str, Any], job: RunnerJob, settings: RunnerSettings) -> RunResult:
    """A parsed report as one result in the runner's schema."""
    timed = parsed.get("timed") or {}
    mean = _ms(parsed["inference_avg_us"])
    std = _ms(timed.get("std"))
    lat = {
        "count": int(timed["count"]) if timed.get("count") else None,
        "min": _ms(timed.get("min")),
        "median": _ms(timed.get("median")),  # newer builds only
        "mean": mean,
        "p90": None,
        "p99": None,
        "p5": _ms(timed.get("p5")),
        "p95": _ms(timed.get("p95")),
        "max": _ms(timed.get("max")),
        "std": std,
        "cv": (std / mean) if (std is not None and mean) else None,
        "throughput_ips": 1000.0 / mean if mean else None,
    }
    peak = parsed.get("mem_peak_mb") or parsed.get("vmrss_end_mb")
    return BenchResult(
        id=job.get("id"),
        name=job.get("name"),
        model_file=job.get("model"),
        kind="tflite",
        threads=int(job["threads"]),
        repeat_index=int(job.get("repeat", 0)),
        runtime={
            "name": "benchmark_model",
            "version": settings.get("benchmark_binary_version") or "unknown",
            "import_s": None,
        },
        delegate=parsed.get("delegate"),
        xnnpack_requested=bool(settings.get("xnnpack", True)),
        input={"kind": (job.get("input") or {}).get("kind", "random")},
        load_ms=_ms(parsed.get("init_us")),
        first_ms=_ms(parsed.get("first_us")),
        warmup_runs=int((parsed.get("warmup") or {}).get("count") or 0) or None,
        warmup_mean_ms=_ms(parsed.get("warmup_avg_us")),
        latency_ms=lat,
        throughput_ips=lat["throughput_ips"],
        rss_peak_mb=peak,
        # "delta from the start of the tool" is exactly the growth over the bare process.
        rss_growth_mb=parsed.get("mem_overall_mb"),
    ).to_dict()


def command(
    model: str,
    threads: int,
    settings: RunnerSettings,
    binary: str = "./benchmark_model",
    input_args: Sequence[str] = (),
    op_profiling: bool = False,
) -> list[str]:
    """benchmark_model arguments for one job (the protocol's settings, in its flag names);
    ``op_profiling`` adds the tool's own per-op table (:mod:`device_bench.benchmark_ops`)."""
    args = [
        binary,
        f"--graph={model}",
        f"--num_threads={int(threads)}",
        f"--warmup_runs={int(settings.get('warmup', 5))}",
        "--warmup_min_secs=0",
        f"--num_runs={int(settings.get('runs', 50))}",
        f"--min_secs={float(settings.get('min_seconds') or 0):g}",
        "--report_peak_memory_footprint=true",
    ]
    if settings.get("max_seconds"):
        args.append(f"--max_secs={float(settings['max_seconds']):g}")
    if not settings.get("xnnpack", True):
        args.append("--use_xnnpack=false")
    if op_profiling:
        args.append("--enable_op_profiling=true")
    return args + list(input_args)


def input_args(input_name: str, shape: Sequence[int], path: str) -> list[str]:
    """Flags feeding one raw input file (a ':' in the layer name is escaped as '::')."""
    return [
        f"--input_layer={input_name}",
        f"--input_layer_shape={','.join(str(int(v)) for v in shape)}",
        f"--input_layer_value_files={input_name.replace(':', '::')}:{path}",
    ]
