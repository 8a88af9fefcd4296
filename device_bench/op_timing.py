"""Timing one-op models on the device: the runner's ``ops`` jobs (``sentilite profile``).

Ships to devices as ``sentilite_optiming.py`` beside ``runner.py`` (standard library, numpy and
a LiteRT runtime only). One process times every one-op model of the job in turn, under the
job's threads and kernels: load, fill each input with seeded random values in the tensor's
range, warm up, then the timed ``invoke()`` calls. Each op's record says whether a delegate
(XNNPACK) took it, so the profile shows where XNNPACK leaves ops to the builtin kernels.
"""

import os

if __package__:  # imported from an installed sentilite
    from sentilite.core import probe

    from . import measure as measuring
    from .record import BenchResult
else:
    try:  # on a device, beside runner.py
        import sentilite_measure as measuring
        import sentilite_probe as probe
        from sentilite_record import BenchResult
    except ImportError:  # imported by runner.py run as a plain file on the host
        from sentilite.core import probe
        from sentilite.device_bench import measure as measuring
        from sentilite.device_bench.record import BenchResult


def _inputs(interp, np, seed):
    """Seeded values for every input: floats in [-1, 1], 8/16-bit integers over their range,
    wider integers and booleans zero (they are indices or shapes, which must stay valid)."""
    arrays = []
    for k, detail in enumerate(interp.get_input_details()):
        dtype = np.dtype(detail["dtype"])
        if dtype.kind == "f" or (dtype.kind in "iu" and dtype.itemsize <= 2):
            spec = {"kind": "random", "seed": seed + k, "float_range": (-1.0, 1.0)}
            arr = measuring.make_input(detail, {"input": spec}, "", np)[0]
        else:
            arr = np.zeros([int(v) for v in detail["shape"]], dtype=dtype)
        arrays.append((detail["index"], arr))
    return arrays


def _time_one(path, job, settings, runtime, np):
    """One one-op model: its timing summary and whether a delegate took it."""
    interp, load_ms, load_log = measuring.load_interpreter(job, settings, path, runtime)
    for index, arr in _inputs(interp, np, int(job.get("seed", 0))):
        interp.set_tensor(index, arr)
    invoke = interp.invoke
    # the bench protocol's own loop: first call, warm-up, then the timed invokes
    stats = measuring.timed_invocations(lambda _i: invoke(), 1, settings, None)["latency_ms"]
    facts = measuring.delegate_facts(interp, load_log)
    return {
        "median_ms": stats.get("median"),
        "min_ms": stats.get("min"),
        "mean_ms": stats.get("mean"),
        "p90_ms": stats.get("p90"),
        "cv": stats.get("cv"),
        "runs": stats.get("count"),
        "load_ms": load_ms,
        "delegated": bool(facts.get("applied")),
        "delegate": facts.get("name"),
    }


def ops_job(job, settings, base_dir, t_start):
    """Time every model of ``job["models"]`` (one-op models) in this process."""
    import numpy as np

    if settings.get("cpu_mask"):
        os.sched_setaffinity(0, probe.parse_cpu_mask(settings["cpu_mask"]))
    runtime = measuring.load_runtime(settings.get("runtime"))
    ops = []
    for name in job.get("models") or []:
        try:
            ops.append({"file": name, **_time_one(os.path.join(base_dir, name), job, settings, runtime, np)})
        except Exception as exc:  # noqa: BLE001 - one op that cannot stand alone must not lose the rest
            ops.append({"file": name, "error": str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)})
    res = BenchResult(
        id=job.get("id"),
        name=job.get("name") or "ops",
        model_file=job.get("model"),
        kind="tflite",
        threads=int(job["threads"]),
        repeat_index=int(job.get("repeat", 0)),
        runtime={"name": runtime[0], "version": runtime[1], "import_s": None},
        xnnpack_requested=measuring.kernels_of(settings) == "xnnpack",
        kernels=measuring.kernels_of(settings),
        emulation=probe.emulation(),
        cpu_affinity=probe.affinity(),
        rss_peak_mb=probe.peak_rss_mb(),
    )
    res.extra["ops"] = ops
    return res
