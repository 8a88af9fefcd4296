"""The Keras baseline: a .keras model timed with the same protocol as the .tflite runner.

Local only (it needs TensorFlow). Each model x thread count runs in a fresh process, like the
.tflite runner, with the same fields: load, first inference, warm-up, timed runs, peak RSS and
its growth over the bare process (here Python + TensorFlow + Keras). One inference is
``model(x, training=False)`` on a batch of one, converted to numpy; TensorFlow's intra- and
inter-op thread pools are both set to the thread count.

    python -m device_bench.keras_runner --spec spec.json
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Optional

from . import runner as R


def measure_keras_job(job: dict[str, Any], settings: dict[str, Any], base_dir: str, t_start: Optional[float]) -> dict[str, Any]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if settings.get("cpu_mask"):
        os.sched_setaffinity(0, R.parse_cpu_mask(settings["cpu_mask"]))
    t_imp = time.perf_counter()
    import numpy as np

    from sentilite.core.tf_import import import_keras

    keras = import_keras("the Keras baseline")
    import tensorflow as tf

    threads = int(job["threads"])
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import_s = time.perf_counter() - t_imp
    spec = job.get("input") or {"kind": "random"}
    loaded = np.load(os.path.join(base_dir, spec["path"])) if spec.get("kind") == "npy" else None
    rss_bare = R.rss_mb()

    t0 = time.perf_counter()
    model = keras.saving.load_model(os.path.join(base_dir, job["model"]), compile=False)
    load_ms = (time.perf_counter() - t0) * 1000.0
    shape = [1] + [int(v) for v in model.inputs[0].shape[1:]]
    detail = {"shape": shape, "dtype": np.float32}
    xs = R.make_input(detail, job, base_dir, np, loaded)

    def invoke(x: Any) -> Any:
        return np.asarray(model(x, training=False))

    perf = time.perf_counter
    t0 = perf()
    y = invoke(xs[0])
    first_ms = (perf() - t0) * 1000.0
    first_result_s = time.monotonic() - t_start if t_start is not None else None
    n = len(xs)
    warm = []
    for i in range(int(settings.get("warmup", 5))):
        t0 = perf()
        invoke(xs[(i + 1) % n])
        warm.append((perf() - t0) * 1000.0)
    runs = max(1, int(settings.get("runs", 50)))
    min_s = float(settings.get("min_seconds") or 0.0)
    max_s = float(settings.get("max_seconds") or 0.0)
    samples = []
    start = perf()
    i = 0
    while True:
        x = xs[i % n]
        t0 = perf()
        y = invoke(x)
        t1 = perf()
        samples.append((t1 - t0) * 1000.0)
        i += 1
        if (max_s and t1 - start >= max_s) or (i >= runs and t1 - start >= min_s):
            break
    timed_s = perf() - start
    peak = R.peak_rss_mb()
    stats = R.summarize(samples)
    return {
        "schema": R.SCHEMA,
        "schema_version": R.SCHEMA_VERSION,
        "id": job.get("id"),
        "name": job.get("name"),
        "model_file": job["model"],
        "kind": "keras",
        "threads": threads,
        "repeat_index": int(job.get("repeat", 0)),
        "runtime": {"name": "keras", "version": f"{keras.__version__} (TensorFlow {tf.__version__})", "import_s": import_s},
        "delegate": {"applied": False, "name": None, "partitions": 0, "nodes": None},
        "xnnpack_requested": False,
        "input": {"kind": spec.get("kind", "random"), "samples": n, "dtype": "float32", "shape": shape, "bytes": int(sum(x.nbytes for x in xs))},
        "output": {"dtype": str(y.dtype), "shape": list(y.shape), "finite": bool(np.all(np.isfinite(y)))},
        "load_ms": load_ms,
        "first_ms": first_ms,
        "warmup_runs": len(warm),
        "warmup_mean_ms": sum(warm) / len(warm) if warm else None,
        "latency_ms": stats,
        "timed_seconds": timed_s,
        "throughput_ips": stats.get("throughput_ips"),
        "samples_ms": [round(v, 4) for v in samples],
        "rss_bare_mb": rss_bare,
        "rss_peak_mb": peak,
        "rss_growth_mb": (peak - rss_bare) if (peak is not None and rss_bare is not None) else None,
        "time_to_first_result_s": first_result_s,
        "temperature_c": {"before": None, "after": R.temperature_c()},
        "load_log": None,
        "error": None,
    }


def main(argv: Optional[list[str]] = None) -> int:
    import argparse

    p = argparse.ArgumentParser(description="Keras baseline with the sentilite benchmark protocol.")
    p.add_argument("--spec")
    p.add_argument("--job")
    p.add_argument("--index", type=int)
    p.add_argument("--t0", type=float)
    args = p.parse_args(argv)
    if args.job:
        return R.run_job(args.job, args.index, args.t0, measure=measure_keras_job)
    if not args.spec:
        p.error("--spec is required")
    results = R.run_spec(args.spec, command=[sys.executable, "-m", "sentilite.device_bench.keras_runner"], measure=measure_keras_job)
    return 1 if any(r.get("error") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
