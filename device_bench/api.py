"""The Python API behind ``sentilite bench`` (also what ``sentilite quickstart`` calls).

    from sentilite.device_bench.api import run_bench
    res = run_bench(["model_int8.tflite", "model_float32.tflite"], device="local", threads=(1, 2),
                    runs=50, warmup=5, out_dir="runs/bench")
    print(res.table())            # variant x threads: size, load, first, median, p90, img/s, peak RSS
    res.rows, res.files, res.errors

Failures (unreachable device, missing runtime, a model the device cannot load, a dropped
connection) never lose what was measured: the results gathered so far are written, and the
failure is in ``res.errors`` (or raised after writing, with ``raise_on_error=True``).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

from sentilite.core.errors import InputFileError, SentiliteError

from .inputs import DEFAULT_MAX_IMAGES, prepare_inputs
from .models import describe_models
from .results import BenchResults, build_rows, write_results
from .stats import DEFAULT_CV_THRESHOLD
from .transports import device_kind, make_transport
from .transports.base import Plan

PathLike = Union[str, os.PathLike]
_ID_RE = re.compile(r"^m(\d+)-t(\d+)-r(\d+)$")


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    if isinstance(v, (str, os.PathLike)):
        return [v]
    return list(v)


def parse_threads(threads: Union[int, str, Sequence[int]]) -> list[int]:
    """``1``, ``"1,2,4"`` or ``(1, 2)`` -> ``[1, 2]`` (each >= 1, no duplicates, order kept)."""
    items = str(threads).split(",") if isinstance(threads, (int, str)) else list(threads)
    try:
        vals = [int(str(t).strip()) for t in items if str(t).strip()]
    except ValueError:
        raise InputFileError(f"--threads {threads!r} is not a list of whole numbers.", "e.g. --threads 1,2,4") from None
    if not vals or any(v < 1 for v in vals):
        raise InputFileError(f"--threads {threads!r}: thread counts must be 1 or more.", "e.g. --threads 1,2,4")
    return list(dict.fromkeys(vals))


def run_bench(
    models: Union[PathLike, Sequence[PathLike], None] = None,
    device: str = "local",
    threads: Union[int, str, Sequence[int]] = (1,),
    runs: int = 50,
    warmup: int = 5,
    out_dir: Optional[PathLike] = None,
    *,
    min_seconds: Optional[float] = None,
    repeat: int = 1,
    images: Optional[PathLike] = None,
    max_images: int = DEFAULT_MAX_IMAGES,
    benchmark_binary: Optional[PathLike] = None,
    taskset: Optional[str] = None,
    remote_python: Optional[str] = None,
    ssh_options: Sequence[str] = (),
    ssh_config: Optional[PathLike] = None,
    identity: Optional[PathLike] = None,
    connect_timeout: float = 10.0,
    alive_interval: float = 5.0,
    alive_count: int = 3,
    xnnpack: bool = True,
    runtime: Optional[str] = None,
    cv_threshold: float = DEFAULT_CV_THRESHOLD,
    job_timeout: float = 600.0,
    max_seconds: Optional[float] = None,
    plot: bool = True,
    on_result: Optional[Callable[[dict[str, Any]], None]] = None,
    log: Optional[Callable[[str], None]] = None,
    raise_on_error: bool = False,
) -> BenchResults:
    """Benchmark ``models`` (.tflite; .keras = the Keras baseline, local only) on ``device``.

    ``device``: ``"local"``, ``"ssh://user@host[:port]"`` or ``"adb[:SERIAL]"``. Each model x
    thread count x repeat runs in a fresh process: load + allocate, first inference,
    ``warmup`` runs, then ``runs`` timed runs (continuing until ``min_seconds`` have passed,
    if given). ``images``: a folder of images encoded through each model's contract (else
    random inputs in the input's range). ``out_dir``: where results.json / .csv / .md and the
    plot go (nothing is written when None). ``on_result`` gets each raw per-process result as
    it arrives; ``log`` gets progress lines. Returns :class:`BenchResults`; problems are in
    ``.errors`` (and per row in ``row["error"]``), or raised after writing with
    ``raise_on_error=True``.
    """
    say = log or (lambda _msg: None)
    paths = _as_list(models)
    if not paths:
        from sentilite.core.default_model import describe_default, resolve_model

        path, _ = resolve_model(None, "pass the models to benchmark: sentilite bench MODEL.tflite [MODEL ...]")
        say(f"no MODEL given: benchmarking {describe_default()}")
        paths = [path]
    thread_list = parse_threads(threads)
    if int(runs) < 1 or int(warmup) < 0 or int(repeat) < 1:
        raise InputFileError(f"runs={runs}, warmup={warmup}, repeat={repeat}: need runs >= 1, warmup >= 0, repeat >= 1.", "e.g. --runs 50 --warmup 5")
    if min_seconds is not None and float(min_seconds) < 0:
        raise InputFileError(f"--min-seconds {min_seconds} is negative.", "e.g. --min-seconds 10")
    kind = device_kind(device)
    entries = describe_models(paths)
    if kind != "local" and any(e.kind == "keras" for e in entries):
        keras_names = ", ".join(str(e.path) for e in entries if e.kind == "keras")
        raise InputFileError(f"{keras_names}: the Keras baseline runs locally only.", "benchmark .keras models with --device local (or leave them out)")
    transport = make_transport(
        device,
        remote_python=remote_python,
        ssh_options=ssh_options,
        ssh_config=str(ssh_config) if ssh_config else None,
        identity=str(identity) if identity else None,
        connect_timeout=connect_timeout,
        alive_interval=alive_interval,
        alive_count=alive_count,
        benchmark_binary=str(benchmark_binary) if benchmark_binary else None,
        taskset=taskset,
    )
    settings = {
        "runs": int(runs),
        "warmup": int(warmup),
        "min_seconds": float(min_seconds) if min_seconds else 0.0,
        "max_seconds": float(max_seconds) if max_seconds else 0.0,
        "xnnpack": bool(xnnpack),
        "cpu_mask": taskset if kind != "adb" else None,  # adb uses the taskset command instead
        "runtime": runtime,
        "job_timeout": float(job_timeout),
    }
    runs_out: list[dict[str, Any]] = []
    errors: list[str] = []
    first_error: Optional[SentiliteError] = None

    def collect(result: dict[str, Any]) -> None:
        m = _ID_RE.match(str(result.get("id") or ""))
        if m:
            result["model_index"], result["threads"], result["repeat_index"] = int(m.group(1)), int(m.group(2)), int(m.group(3))
            entry = entries[result["model_index"]]
            result["name"] = entry.name
        result["device"] = transport.label
        runs_out.append(result)
        if result.get("error"):
            say(f"  {result.get('name')} x{result.get('threads')}: ERROR {result['error']}")
        else:
            lat = result.get("latency_ms") or {}
            med = lat.get("median") if lat.get("median") is not None else lat.get("mean")
            say(
                f"  {result.get('name')} x{result.get('threads')} thread(s): median {med:.2f} ms, load {result.get('load_ms') or 0:.1f} ms, "
                f"first {result.get('first_ms') or 0:.1f} ms, peak RSS {result.get('rss_peak_mb') or float('nan'):.0f} MB"
            )
        if on_result:
            on_result(result)

    with tempfile.TemporaryDirectory(prefix="sentilite-bench-") as tmp:
        work = Path(tmp)
        input_specs, input_files, input_desc = prepare_inputs(entries, images, work, max_images)
        plan = Plan(entries, thread_list, int(repeat), settings, input_specs, input_files)
        n_jobs = len(entries) * len(thread_list) * int(repeat)
        say(f"benchmarking {len(entries)} model(s) x threads {','.join(map(str, thread_list))} x {repeat} repeat(s) = {n_jobs} runs on {transport.label}")
        system: dict[str, Any] = {}
        interrupted: Optional[BaseException] = None
        try:
            system = transport.run(plan, work, collect, say) or {}
        except SentiliteError as exc:
            first_error = exc
            errors.append(str(exc))
            system = getattr(transport, "system", {}) or {}
        except KeyboardInterrupt as exc:  # keep what was measured, then stop
            interrupted = exc
            errors.append("interrupted (Ctrl-C) before the benchmark finished")
            system = getattr(transport, "system", {}) or {}
    protocol = {
        **{k: v for k, v in settings.items() if k != "job_timeout"},
        "job_timeout": float(job_timeout),
        "threads": thread_list,
        "repeat": int(repeat),
        "inputs": input_desc,
        "cv_threshold": cv_threshold,
        "isolation": "a fresh process per model x threads x repeat",
    }
    models_info = [e.describe() for e in entries]
    rows = build_rows(models_info, runs_out, thread_list, transport.label, cv_threshold)
    res = BenchResults(device=transport.label, system=system, protocol=protocol, models=models_info, runs=runs_out, rows=rows, errors=errors)
    if out_dir is not None:
        write_results(res, out_dir, plot=plot and interrupted is None)
    if interrupted is not None:
        raise interrupted
    if raise_on_error and first_error is not None:
        where = f" Results gathered before the failure are in {out_dir}." if out_dir is not None and runs_out else ""
        raise type(first_error)(first_error.problem + where, first_error.fix)
    return res
