"""The Python API behind ``sentilite profile``: where a model's time goes, op by op, on a device.

    from sentilite.device_bench.profile_api import ProfileOptions, run_profile
    prof = run_profile("model_int8.tflite", ProfileOptions(), out_dir="runs/profile")
    prof.by_threads[0]["ops"][:5], prof.by_threads[0]["faithfulness"]

Method (the LiteRT Python API has no per-op profiler): every op is cut into a model of its own
with its real weights and quantisation (:mod:`device_bench.op_split`), and all of them are timed
one after another in one process on the device, beside the whole model, with the same threads
and kernels (:mod:`device_bench.op_timing`). The fixed cost of one ``invoke()`` (a one-element
ADD model) is taken off each op. The sum of the ops is then compared with the whole model, and
``--repeat`` (2 by default) runs show whether the top-10 stays the same. It runs wherever
``bench`` runs: this machine, SSH (and the stand-in), adb with a device Python.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

from sentilite.core.errors import InputFileError

from .models import ModelEntry, describe_models, random_input_spec
from .op_split import OpUnit, calibration_model, split_ops
from .options import BenchOptions
from .profile_math import assemble
from .profile_records import ThreadProfile
from .records import RunnerJob, RunResult, SystemInfo
from .transports import device_kind, make_transport
from .transports.base import Plan

PathLike = Union[str, os.PathLike]
Log = Callable[[str], None]

__all__ = ["Profile", "ProfileOptions", "run_profile"]


@dataclass(frozen=True)
class ProfileOptions:
    """What ``sentilite profile`` is asked to do: where and how to time (the bench protocol's
    options: device, threads, kernels, runs, warm-up, runtime, SSH) and how many top ops to show."""

    bench: BenchOptions = field(default_factory=lambda: BenchOptions(repeat=2, runs=30, warmup=3))
    top: int = 15


@dataclass
class Profile:
    """A model's profile on one device: per thread count, its ops, op types and faithfulness."""

    model: str
    device: str
    kernels: str
    system: SystemInfo
    units: list[OpUnit]
    by_threads: list[ThreadProfile]
    runs: list[RunResult]
    errors: list[str]
    files: dict[str, Path] = field(default_factory=dict)


#: the whole-model job times for at least this long: its median is the gap's denominator, and
#: 30 invokes of a 3 ms model (0.1 s) can fall entirely inside one burst of load on a shared host
WHOLE_MIN_SECONDS = 1.0


class _ProfilePlan(Plan):
    """Per thread count and repeat: the whole model as bench times it (for at least
    :data:`WHOLE_MIN_SECONDS`), then one ``ops`` job that times every one-op model (entries 1..n:
    the overhead model first) in one process."""

    def jobs(
        self, kinds: Sequence[str] = ("tflite",), model_file: Optional[Callable[[int, ModelEntry], str]] = None
    ) -> list[RunnerJob]:
        if "tflite" not in kinds:
            return []

        def name(i: int) -> str:
            e = self.entries[i]
            return model_file(i, e) if model_file else str(e.path.resolve())

        out: list[RunnerJob] = []
        whole = self.entries[0]
        window = {"min_seconds": max(float(self.settings.get("min_seconds") or 0.0), WHOLE_MIN_SECONDS)}
        ops = [name(i) for i in range(1, len(self.entries))]
        for r in range(self.repeat):
            for t in self.threads:
                base: RunnerJob = {"model": name(0), "kind": "tflite", "threads": t, "repeat": r, "model_index": 0}
                out.append(
                    {
                        **base,
                        "id": f"whole-t{t}-r{r}",
                        "name": whole.name,
                        "input": self.inputs.get(0) or {},
                        "settings": window,
                    }
                )
                out.append({**base, "id": f"ops-t{t}-r{r}", "name": "ops", "mode": "ops", "models": ops})
        return out


def _write_units(model: Path, units: list[OpUnit], folder: Path) -> list[ModelEntry]:
    """The entries the transport ships: the whole model, the overhead model, each one-op model."""
    entries = describe_models([model])
    calib = folder / "overhead.tflite"
    calib.write_bytes(calibration_model())
    entries.append(ModelEntry(calib, "overhead", "tflite", "float32", calib.stat().st_size))
    for u in units:
        if u.data is None:
            continue
        f = folder / f"op{u.index:04d}.tflite"
        f.write_bytes(u.data)
        entries.append(ModelEntry(f, f"op{u.index}", "tflite", u.op, len(u.data)))
    return entries


def _check(model: PathLike, opts: BenchOptions) -> Path:
    path = Path(model)
    if not path.is_file():
        raise InputFileError(f"{path} does not exist.", "pass a .tflite file: sentilite profile MODEL.tflite")
    if path.suffix.lower() != ".tflite":
        raise InputFileError(
            f"{path} is not a .tflite file; profile times LiteRT ops.",
            "convert it first: sentilite convert MODEL.keras",
        )
    if device_kind(opts.device) == "adb" and not opts.remote_python and not opts.benchmark_binary:
        raise InputFileError(
            "profile over adb needs a timer on the phone: TFLite's benchmark_model or a device Python.",
            "pass --benchmark-binary benchmark_model (built for the phone's ABI), or --remote-python PATH",
        )
    opts.validate()
    return path


def run_profile(
    model: PathLike,
    options: Optional[ProfileOptions] = None,
    out_dir: Optional[PathLike] = None,
    log: Optional[Log] = None,
) -> Profile:
    """Profile ``model`` op by op on ``options.bench.device``; write the report to ``out_dir``."""
    say = log or (lambda _m: None)
    opts = options or ProfileOptions()
    path = _check(model, opts.bench)
    kernels = str(opts.bench.runner_settings("local").get("kernels"))
    units = split_ops(path.read_bytes(), fuse_pads=kernels == "xnnpack")
    transport = make_transport(opts.bench)
    runs: list[RunResult] = []
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="sentilite-profile-") as tmp:
        entries = _write_units(path, units, Path(tmp))
        settings = {**opts.bench.runner_settings(device_kind(opts.bench.device)), "job_timeout": 1800.0}
        plan = _ProfilePlan(
            entries, opts.bench.thread_list(), int(opts.bench.repeat), settings, {0: random_input_spec(entries[0])}
        )
        say(
            f"profiling {path.name}: {len(units)} ops, each timed alone, x threads "
            f"{','.join(map(str, plan.threads))} x {plan.repeat} repeat(s) on {transport.label}"
        )

        def got(r: RunResult) -> None:
            runs.append(r)
            say(f"  {r.get('id')}: " + (f"ERROR {r['error']}" if r.get("error") else "done"))

        if device_kind(opts.bench.device) == "adb" and not opts.bench.remote_python:
            from .profile_native import native_runs

            say("adb without a device Python: each model is a benchmark_model run of its own")
            system, errors, native, interrupted = native_runs(
                transport, entries, plan.threads, plan.repeat, settings, Path(tmp), say
            )
            runs.extend(native)
        else:
            from .api import measure_plan

            system, errors, _first, interrupted = measure_plan(transport, plan, Path(tmp), got, say)
    by_threads = assemble(units, runs, plan.threads, system, kernels, path.stat().st_size / 1e6)
    prof = Profile(str(path), transport.label, kernels, system, units, by_threads, runs, errors)
    if out_dir is not None:
        from .profile_report import write_profile

        prof.files = write_profile(prof, Path(out_dir), top=opts.top)
    if interrupted is not None:
        raise interrupted
    return prof
