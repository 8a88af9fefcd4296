"""The Keras baseline: a .keras model timed with the same protocol as the .tflite runner.

Local only (it needs TensorFlow). Each model x thread count runs in a fresh process, like the
.tflite runner, with the same fields: load, first inference, warm-up, timed runs, peak RSS and
its growth over the bare process (here Python + TensorFlow + Keras). One inference is
``model(x, training=False)`` on a batch of one, converted to numpy; TensorFlow's intra- and
inter-op thread pools are both set to the thread count.

    python -m sentilite.device_bench.keras_runner --spec spec.json
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Optional

from sentilite.core import probe

from . import runner as R
from .measure import make_input, timed_invocations
from .record import BenchResult
from .records import RunnerJob, RunnerSettings


def measure_keras_job(job: RunnerJob, settings: RunnerSettings, base_dir: str, t_start: Optional[float]) -> BenchResult:
    """Time one .keras model at one thread count with the .tflite runner's protocol."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if settings.get("cpu_mask"):
        os.sched_setaffinity(0, probe.parse_cpu_mask(settings["cpu_mask"]))
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
    rss_bare = probe.rss_mb()

    t0 = time.perf_counter()
    model = keras.saving.load_model(os.path.join(base_dir, job["model"]), compile=False)
    load_ms = (time.perf_counter() - t0) * 1000.0
    shape = [1] + [int(v) for v in model.inputs[0].shape[1:]]
    xs = make_input({"shape": shape, "dtype": np.float32}, job, base_dir, np, loaded)
    last: list[Any] = [None]

    def run(i: int) -> None:
        last[0] = np.asarray(model(xs[i], training=False))

    timing = timed_invocations(run, len(xs), settings, t_start)
    y = last[0]
    peak = probe.peak_rss_mb()
    return BenchResult(
        id=job.get("id"),
        name=job.get("name"),
        model_file=job["model"],
        kind="keras",
        threads=threads,
        repeat_index=int(job.get("repeat", 0)),
        runtime={
            "name": "keras",
            "version": f"{keras.__version__} (TensorFlow {tf.__version__})",
            "import_s": import_s,
        },
        delegate={"applied": False, "name": None, "partitions": 0, "nodes": None},
        xnnpack_requested=False,
        input={
            "kind": spec.get("kind", "random"),
            "samples": len(xs),
            "dtype": "float32",
            "shape": shape,
            "bytes": int(sum(x.nbytes for x in xs)),
        },
        output={"dtype": str(y.dtype), "shape": list(y.shape), "finite": bool(np.all(np.isfinite(y)))},
        load_ms=load_ms,
        rss_bare_mb=rss_bare,
        rss_peak_mb=peak,
        temperature_c={"before": None, "after": probe.temperature_c()},
        **timing,
    )


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
    results = R.run_spec(
        args.spec, command=[sys.executable, "-m", "sentilite.device_bench.keras_runner"], measure=measure_keras_job
    )
    return 1 if any(r.get("error") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
