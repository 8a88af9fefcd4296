"""One benchmark result: the record every runner writes and the host reads.

Standard library only (Python 3.6+ dataclasses would need 3.7, so a plain class with
``__slots__`` keeps it runnable on old Raspberry Pi OS images): the benchmark runner ships it to
devices as ``sentilite_record.py`` beside ``runner.py``. The Python runner, the Keras baseline
runner and the ``benchmark_model`` parser all build a :class:`BenchResult`; on the wire it is
one JSON object per line (``RESULT_PREFIX``), read back with :meth:`BenchResult.from_dict`.
"""

import os

RESULT_PREFIX = "@@sentilite-bench@@ "
SCHEMA = "sentilite-bench-result"
SCHEMA_VERSION = 1

#: field -> default, in the order they appear in results.json.
FIELDS = (
    ("id", None),
    ("name", None),
    ("model_file", None),
    ("kind", "tflite"),
    ("threads", None),
    ("repeat_index", 0),
    ("runtime", None),  # {"name", "version", "import_s"}
    ("delegate", None),  # {"applied", "name", "partitions", "nodes"}
    ("xnnpack_requested", None),
    ("kernels", None),  # "xnnpack", "builtin" (LiteRT's optimized kernels) or "reference"
    ("emulation", None),  # probe.emulation(): emulated CPU and how, with the note to show
    ("input", None),  # {"kind", "samples", "dtype", "shape", "bytes"}
    ("output", None),  # {"dtype", "shape", "finite"}
    ("cpu_affinity", None),
    ("load_ms", None),
    ("first_ms", None),
    ("warmup_runs", None),
    ("warmup_mean_ms", None),
    ("latency_ms", None),  # summarize(): count, min, median, mean, p90, p99, max, std, cv, throughput_ips
    ("timed_seconds", None),
    ("throughput_ips", None),
    ("samples_ms", None),
    ("rss_bare_mb", None),  # the process before the model: Python + numpy + runtime + inputs
    ("rss_peak_mb", None),  # the process's peak (VmHWM)
    ("rss_growth_mb", None),  # peak - bare: what the model itself costs
    ("time_to_first_result_s", None),
    ("temperature_c", None),  # {"before", "after"}
    ("load_log", None),
    ("outputs", None),  # "outputs" jobs: {"dtype", "scale", "zero_point", "values": [[...] per input]}
    ("sustained", None),  # sustained mode: latency and temperature over time, throttling verdict
    ("error", None),
)
FIELD_NAMES = tuple(name for name, _ in FIELDS)


class BenchResult:
    """One model x thread count x repeat, measured (or failed: ``error`` says why)."""

    __slots__ = FIELD_NAMES + ("extra",)

    def __init__(self, **values):
        unknown = set(values) - set(FIELD_NAMES)
        if unknown:
            raise TypeError("unknown BenchResult field(s): " + ", ".join(sorted(unknown)))
        for name, default in FIELDS:
            setattr(self, name, values.get(name, default))
        if self.rss_growth_mb is None and self.rss_peak_mb is not None and self.rss_bare_mb is not None:
            self.rss_growth_mb = self.rss_peak_mb - self.rss_bare_mb
        self.extra = {}  # what the host adds on arrival: device, model_index

    @classmethod
    def failed(cls, job, message):
        """The result of a job that could not be measured."""
        return cls(
            id=job.get("id"),
            name=job.get("name") or os.path.basename(job.get("model", "?")),
            model_file=job.get("model"),
            kind=job.get("kind", "tflite"),
            threads=job.get("threads"),
            repeat_index=job.get("repeat", 0),
            error=message,
        )

    def to_dict(self):
        out = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION}
        out.update((name, getattr(self, name)) for name in FIELD_NAMES)
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data):
        known = {k: v for k, v in data.items() if k in FIELD_NAMES}
        res = cls(**known)
        res.extra = {k: v for k, v in data.items() if k not in FIELD_NAMES and k not in ("schema", "schema_version")}
        return res
