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

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

from sentilite.core.errors import InputFileError, SentiliteError
from sentilite.core.fsutil import is_no_room, keep_elsewhere
from sentilite.core.signals import terminated

from .inputs import prepare_inputs
from .models import ModelEntry, describe_models
from .options import BenchOptions, SSHOptions, parse_threads
from .records import RunResult, SystemInfo
from .results import BenchResults, build_rows, write_results
from .transports import device_kind, make_transport
from .transports.base import JobKey, Plan, Transport

__all__ = ["BenchOptions", "SSHOptions", "parse_threads", "run_bench"]

PathLike = Union[str, os.PathLike]
Log = Callable[[str], None]


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    if isinstance(v, (str, os.PathLike)):
        return [v]
    return list(v)


def _model_paths(models: Union[PathLike, Sequence[PathLike], None], say: Log) -> list[Any]:
    """The models asked for, or the bundled model when none is."""
    paths = _as_list(models)
    if paths:
        return paths
    from sentilite.core.default_model import describe_default, resolve_model

    path, _ = resolve_model(None, "pass the models to benchmark: sentilite bench MODEL.tflite [MODEL ...]")
    say(f"no MODEL given: benchmarking {describe_default()}")
    return [path]


class _Collector:
    """Receives each raw result as it arrives: names it from the job table, logs it, keeps it."""

    def __init__(
        self,
        table: dict[str, JobKey],
        entries: list[ModelEntry],
        device: str,
        say: Log,
        on_result: Optional[Callable[[RunResult], None]],
    ) -> None:
        self.table, self.entries, self.device, self.say, self.on_result = table, entries, device, say, on_result
        self.runs: list[RunResult] = []

    def __call__(self, result: RunResult) -> None:
        key = self.table.get(str(result.get("id") or ""))
        if key is not None:
            result["model_index"], result["threads"], result["repeat_index"] = key.model_index, key.threads, key.repeat
            result["name"] = self.entries[key.model_index].name
        result["device"] = self.device
        self.runs.append(result)
        self.say(self._line(result))
        if self.on_result:
            self.on_result(result)

    @staticmethod
    def _line(r: RunResult) -> str:
        if r.get("error"):
            return f"  {r.get('name')} x{r.get('threads')}: ERROR {r['error']}"
        lat = r.get("latency_ms") or {}
        med = lat.get("median") if lat.get("median") is not None else lat.get("mean")
        return (
            f"  {r.get('name')} x{r.get('threads')} thread(s): median {med:.2f} ms, load {r.get('load_ms') or 0:.1f} "
            f"ms, "
            f"first {r.get('first_ms') or 0:.1f} ms, peak RSS {r.get('rss_peak_mb') or float('nan'):.0f} MB"
        )


def measure_plan(
    transport: Transport, plan: Plan, work: Path, collect: Callable[[RunResult], None], say: Log
) -> tuple[SystemInfo, list[str], Optional[SentiliteError], Optional[BaseException]]:
    """Run the plan; a failure or Ctrl-C keeps what was measured. -> (system, errors, first error, interrupt)."""
    try:
        return transport.run(plan, work, collect, say) or {}, [], None, None
    except SentiliteError as exc:
        return transport.system or {}, [str(exc)], exc, None
    except KeyboardInterrupt as exc:
        why = "terminated (SIGTERM)" if terminated() else "interrupted (Ctrl-C)"
        return transport.system or {}, [f"{why} before the benchmark finished"], None, exc


def _write_or_keep(res: BenchResults, out: Path, plot: bool) -> None:
    """Write the results; on a full disk keep them in a temporary folder (or print them) and
    raise an error naming the disk, so that no measurement is lost."""
    try:
        write_results(res, out, plot=plot)
    except OSError as exc:
        if not is_no_room(exc):
            raise
        text = json.dumps(res.to_dict(), indent=2, default=str) + "\n"
        kept = keep_elsewhere("results.json", text)
        if kept is None:
            print(text, flush=True)  # the last place left: stdout
        where = f"kept in {kept}" if kept else "printed above as JSON"
        raise InputFileError(
            f"Disk full at {out} ({exc.strerror}): the {len(res.runs)} result(s) measured are {where}.",
            "free space there, or pass another --out",
        ) from None


def run_bench(
    models: Union[PathLike, Sequence[PathLike], None] = None,
    options: Optional[BenchOptions] = None,
    out_dir: Optional[PathLike] = None,
    *,
    on_result: Optional[Callable[[RunResult], None]] = None,
    log: Optional[Log] = None,
    raise_on_error: bool = False,
    **overrides: Any,
) -> BenchResults:
    """Benchmark ``models`` (.tflite; .keras = the Keras baseline, local only) with ``options``.

    ``options`` is a :class:`BenchOptions` (``overrides`` are its fields by keyword, the SSH ones
    as ``ssh_options``/``ssh_config``/``identity``/``connect_timeout``...). Each model x thread
    count x repeat runs in a fresh process: load + allocate, first inference, warm-up, then the
    timed runs. ``out_dir``: where results.json / .csv / .md and the plot go (nothing is written
    when None). ``on_result`` gets each raw per-process result as it arrives; ``log`` gets
    progress lines. Returns :class:`BenchResults`; problems are in ``.errors`` (and per row in
    ``row["error"]``), or raised after writing with ``raise_on_error=True``.
    """
    say = log or (lambda _msg: None)
    opts = BenchOptions.from_keywords(options, **overrides)
    paths = _model_paths(models, say)
    opts.validate()
    thread_list = opts.thread_list()
    kind = device_kind(opts.device)
    entries = describe_models(paths)
    if kind != "local" and any(e.kind == "keras" for e in entries):
        keras_names = ", ".join(str(e.path) for e in entries if e.kind == "keras")
        raise InputFileError(
            f"{keras_names}: the Keras baseline runs locally only.",
            "benchmark .keras models with --device local (or leave them out)",
        )
    transport = make_transport(opts)
    with tempfile.TemporaryDirectory(prefix="sentilite-bench-") as tmp:
        input_specs, input_files, input_desc = prepare_inputs(entries, opts.images, Path(tmp), opts.max_images)
        plan = Plan(entries, thread_list, int(opts.repeat), opts.runner_settings(kind), input_specs, input_files)
        collect = _Collector(plan.job_table(), entries, transport.label, say, on_result)
        say(
            f"benchmarking {len(entries)} model(s) x threads {','.join(map(str, thread_list))} x {opts.repeat} "
            f"repeat(s) "
            f"= {len(plan.job_table())} runs on {transport.label}"
        )
        system, errors, first_error, interrupted = measure_plan(transport, plan, Path(tmp), collect, say)
    protocol = {
        **plan.settings,
        "threads": thread_list,
        "repeat": int(opts.repeat),
        "inputs": input_desc,
        "cv_threshold": opts.cv_threshold,
        "isolation": "a fresh process per model x threads x repeat",
    }
    models_info = [e.describe() for e in entries]
    rows = build_rows(models_info, collect.runs, thread_list, transport.label, opts.cv_threshold)
    res = BenchResults(
        device=transport.label,
        system=system,
        protocol=protocol,
        models=models_info,
        runs=collect.runs,
        rows=rows,
        errors=errors,
    )
    if out_dir is not None:
        _write_or_keep(res, Path(out_dir), opts.plot and interrupted is None)
    if interrupted is not None:
        raise interrupted
    if raise_on_error and first_error is not None:
        where = (
            f" Results gathered before the failure are in {out_dir}." if out_dir is not None and collect.runs else ""
        )
        raise type(first_error)(first_error.problem + where, first_error.fix)
    return res
