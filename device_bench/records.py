"""The shapes of the JSON records the benchmark passes between its layers.

Each is a ``TypedDict``: at run time a plain dict (the wire format and results.json are unchanged),
for a reader and a type checker the list of keys that the producer writes. ``total=False`` where a
record is built step by step or a failed run leaves keys out.
"""

from __future__ import annotations

from typing import Any, Optional, TypedDict, Union


class RuntimeFacts(TypedDict, total=False):
    """Which inference library ran a job."""

    name: str
    version: str
    import_s: float


class SystemInfo(TypedDict, total=False):
    """What a device says about itself (``sentilite.core.probe.system_info``)."""

    hostname: str
    machine: str
    platform: str
    python: str
    cores: int
    affinity: list[int]
    cpu_mhz: Optional[float]
    governor: Optional[str]
    temperature_c: Optional[float]
    loadavg: list[float]
    emulation: dict[str, Union[bool, str, None]]
    isa: dict[str, object]  # probe.isa(): vendor, vector flags, clock (device_bench/cpu_peak.py reads it)


class RunResult(TypedDict, total=False):
    """One job's result as it crosses from a runner to the host (``record.BenchResult.to_dict``),
    plus what the host adds on arrival (``device``, ``model_index``)."""

    schema: str
    schema_version: int
    id: str
    name: str
    model_file: str
    kind: str
    threads: int
    repeat_index: int
    runtime: Optional[RuntimeFacts]
    delegate: Optional[dict[str, Union[bool, str, int, None]]]
    xnnpack_requested: Optional[bool]
    kernels: Optional[str]
    emulation: Optional[dict[str, Union[bool, str, None]]]
    input: Optional[dict[str, object]]
    output: Optional[dict[str, object]]
    cpu_affinity: Optional[list[int]]
    load_ms: Optional[float]
    first_ms: Optional[float]
    warmup_runs: Optional[int]
    warmup_mean_ms: Optional[float]
    latency_ms: Optional[dict[str, float]]
    native_ops: list[Any]  # benchmark_model --enable_op_profiling rows (benchmark_ops.NativeOpRow)
    timed_seconds: Optional[float]
    throughput_ips: Optional[float]
    samples_ms: Optional[list[float]]
    rss_bare_mb: Optional[float]
    rss_peak_mb: Optional[float]
    rss_growth_mb: Optional[float]
    time_to_first_result_s: Optional[float]
    temperature_c: Optional[dict[str, Optional[float]]]
    load_log: Optional[str]
    outputs: Optional[dict[str, object]]
    sustained: Optional[dict[str, object]]
    error: Optional[str]
    device: str
    model_index: int


class ModelFacts(TypedDict, total=False):
    """One model file of a run, as ``models.describe`` lists it."""

    path: str
    name: str
    variant: str
    kind: str
    size_bytes: int
    size_mb: float
    contract: Optional[str]
    heads: list[str]  # the model's outputs by head: one invoke computes them all
    notes: list[str]
    tflite: Optional[dict[str, object]]
    seed: Optional[int]


class RunnerSettings(TypedDict, total=False):
    """How every job of one run is measured (the runner spec's ``settings``)."""

    runs: int
    warmup: int
    min_seconds: float
    max_seconds: Optional[float]
    xnnpack: bool
    kernels: Optional[str]
    cpu_mask: Optional[str]
    runtime: Optional[str]
    job_timeout: float
    sustained_seconds: Optional[float]


class RunnerJob(TypedDict, total=False):
    """One model x thread count x repeat, as the runner receives it."""

    id: str
    model: str
    name: str
    kind: str
    threads: int
    repeat: int
    model_index: int
    input: dict[str, object]
    mode: str  # "outputs": on-device evaluation, returning the raw outputs; "ops": sentilite profile
    models: list[str]  # "ops" jobs: the one-op models timed one after another in one process
    output_index: int  # which output an "outputs" job returns (a multi-head file's sentiment head)
    kernels: Optional[str]
    op_profiling: bool  # benchmark_model over adb: add its own per-op table (sentilite profile)
    settings: dict[str, Any]  # this job's overrides of the spec's settings (e.g. min_seconds)


class RunnerSpec(TypedDict, total=False):
    """The file the host writes for a runner: its jobs and settings."""

    format: str
    version: int
    jobs: list[RunnerJob]
    settings: RunnerSettings


class TableRow(TypedDict, total=False):
    """One model x thread count of the results table (``results.build_rows``), its repeats aggregated."""

    device: str
    model: str
    variant: str
    kind: str
    threads: int
    size_mb: float
    size_bytes: int
    path: str
    load_ms: Optional[float]
    first_ms: Optional[float]
    warmup_mean_ms: Optional[float]
    median_ms: Optional[float]
    p90_ms: Optional[float]
    mean_ms: Optional[float]
    min_ms: Optional[float]
    p99_ms: Optional[float]
    std_ms: Optional[float]
    cv: Optional[float]
    throughput_ips: Optional[float]
    rss_peak_mb: Optional[float]
    rss_growth_mb: Optional[float]
    time_to_first_result_s: Optional[float]
    runs: Optional[int]
    repeats: int
    repeat_medians_ms: Optional[list[float]]
    median_ci95_ms: Optional[list[float]]
    median_ci95_low_ms: Optional[float]
    median_ci95_high_ms: Optional[float]
    runtime: Optional[str]
    delegate: Optional[str]
    flags: Optional[str]
    kernels: Optional[str]
    emulated: bool
    sustained: Optional[dict[str, object]]
    error: Optional[str]
