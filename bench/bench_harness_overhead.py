"""Is the benchmark harness invisible? The protocol's median vs a bare ``invoke()`` loop.

For the full-int8 MobileNetV2 sentiment model (224x224, 3 classes, uint8 I/O; built and cached
by bench/reference_models.py) this script times, side by side and interleaved over several
rounds:

* the protocol: ``device_bench.api.run_bench`` (a fresh runner process per measurement, the
  same path as ``sentilite bench``), its reported median latency;
* a bare loop in this process: ``Interpreter(...)``, ``allocate_tensors()``, the same input,
  the same warm-up, then ``invoke()`` timed with ``time.perf_counter``.

It prints both medians and their ratio per thread count (target: within 5 %), the runner's
footprint (peak RSS, time from process start to the first result; target ~80 MB / 0.6 s) next
to a bare Python process holding LiteRT and the same model, and the Keras baseline vs int8
speed-up (the replication studies measured Keras on CPU, MobileNetV2: 1.78 s for 15 images).

    python -m bench.bench_harness_overhead [--threads 1,2] [--runs 150] [--rounds 15] [--no-keras]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from bench.reference_models import reference_models
from sentilite.core import probe
from sentilite.device_bench import measure as M
from sentilite.device_bench.api import run_bench

REPO = Path(__file__).resolve().parents[1]
REPLICATION_KERAS_S_PER_15 = 1.78


def bare_loop(model: Path, threads: int, runs: int, warmup: int) -> float:
    """Median ms of ``runs`` bare invoke() calls, after load, a first call and ``warmup`` calls."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(model), num_threads=threads)
    interp.allocate_tensors()
    d = interp.get_input_details()[0]
    (x,) = M.make_input(d, {"input": {"kind": "random", "seed": 0}}, "/", np)  # the protocol's own input
    interp.set_tensor(d["index"], x)
    interp.invoke()
    for _ in range(warmup):
        interp.invoke()
    times = []
    perf = time.perf_counter
    for _ in range(runs):
        t0 = perf()
        interp.invoke()
        times.append((perf() - t0) * 1000.0)
    del interp
    return statistics.median(times)


BARE_PROCESS = textwrap.dedent("""
    import sys, time, json
    t0 = float(sys.argv[2])
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=sys.argv[1], num_threads=1)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    it.invoke()
    first = time.monotonic() - t0
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
    print(json.dumps({"first_s": first, "peak_mb": int(hwm) / 1024}))
""")


def bare_process(model: Path) -> dict:
    import json

    t0 = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", BARE_PROCESS, str(model), repr(t0)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def footprint(int8: Path) -> None:
    """Peak RSS and time to the first result of the runner, against a bare Python with LiteRT."""
    res = run_bench([int8], threads=(1,), runs=20, warmup=2, repeat=5)
    firsts = [r["time_to_first_result_s"] for r in res.runs]
    peaks = [r["rss_peak_mb"] for r in res.runs]
    bares = [bare_process(int8) for _ in range(5)]
    print("runner footprint (int8 MobileNetV2, 1 thread, 5 fresh processes; median [min-max]):")
    print(
        f"  benchmark runner: peak RSS {statistics.median(peaks):.1f} MB [{min(peaks):.1f}-{max(peaks):.1f}], "
        f"first result {statistics.median(firsts):.3f} s [{min(firsts):.3f}-{max(firsts):.3f}] after process start "
        f"(target <= 80 MB, <= 0.6 s)"
    )
    bp = [b["peak_mb"] for b in bares]
    bf = [b["first_s"] for b in bares]
    print(
        f"  bare python + LiteRT + model: peak RSS {statistics.median(bp):.1f} MB, first result "
        f"{statistics.median(bf):.3f} s"
    )


def keras_baseline(keras: Path, int8: Path, t: int, runs: int) -> None:
    """The Keras model against the int8 file, and against the replication studies' Keras figure."""
    res = run_bench([keras, int8], threads=(t,), runs=runs, warmup=2)
    k, q = res.rows
    ref_ms = REPLICATION_KERAS_S_PER_15 / 15 * 1000
    print(f"Keras baseline vs int8 ({t} thread(s), {runs} timed runs each, batch 1):")
    print(
        f"  Keras (model(x), TensorFlow CPU): median {k['median_ms']:.2f} ms/image, load {k['load_ms']:.0f} ms, peak "
        f"RSS {k['rss_peak_mb']:.0f} MB"
    )
    print(
        f"  LiteRT full int8:                 median {q['median_ms']:.2f} ms/image, load {q['load_ms']:.0f} ms, peak "
        f"RSS {q['rss_peak_mb']:.0f} MB"
    )
    print(f"  speed-up on this machine: {k['median_ms'] / q['median_ms']:.1f}x")
    print(
        f"  vs the replication studies' Keras figure (1.78 s / 15 images = {ref_ms:.0f} ms/image, other hardware): "
        f"{ref_ms / q['median_ms']:.0f}x"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", default="1,2")
    p.add_argument("--runs", type=int, default=150)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--keras-runs", type=int, default=15)
    p.add_argument("--no-keras", action="store_true")
    args = p.parse_args()
    models = reference_models()
    int8 = models["int8"]
    threads = [int(t) for t in args.threads.split(",")]
    print(f"model: {int8} ({int8.stat().st_size / 1e6:.2f} MB, full int8, uint8 I/O)")
    print(
        f"machine: {probe.cpu_model()['cpu']}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; "
        f"{args.runs} timed runs after {args.warmup} warm-up, {args.rounds} interleaved rounds"
    )
    print()
    print("threads  round  protocol median ms  bare invoke() median ms  ratio")
    summary = []
    for t in threads:
        prot, bare = [], []
        for rnd in range(args.rounds):
            # alternate which goes first, so slow drift of the machine hits both alike
            order = ("protocol", "bare") if rnd % 2 == 0 else ("bare", "protocol")
            for what in order:
                if what == "protocol":
                    res = run_bench([int8], threads=(t,), runs=args.runs, warmup=args.warmup)
                    prot.append(res.rows[0]["median_ms"])
                else:
                    bare.append(bare_loop(int8, t, args.runs, args.warmup))
            print(f"{t:7d}  {rnd + 1:5d}  {prot[-1]:18.3f}  {bare[-1]:23.3f}  {prot[-1] / bare[-1]:5.3f}")
        mp, mb = statistics.median(prot), statistics.median(bare)
        q1, _, q3 = statistics.quantiles(bare, n=4)
        noise = (q3 - q1) / mb  # interquartile spread of the bare loop's medians over rounds
        summary.append((t, mp, mb, min(prot), min(bare), noise))
    print()
    for t, mp, mb, lp, lb, noise in summary:
        verdict = "OK (within 5 %)" if abs(mp / mb - 1) <= 0.05 else "OUTSIDE 5 %"
        print(
            f"threads {t}: protocol median {mp:.3f} ms, bare invoke() median {mb:.3f} ms, ratio {mp / mb:.3f}  "
            f"{verdict}"
            f"  (fastest rounds: {lp:.3f} vs {lb:.3f} ms, ratio {lp / lb:.3f})"
        )
        if noise > 0.05:
            print(
                f"  note: the bare loop's own medians spread by {noise:.0%} (interquartile) across rounds; the "
                f"machine is "
                "too busy for a 5 % comparison at this thread count (rerun when it is idle, or with more --rounds)"
            )

    print()
    footprint(int8)

    if args.no_keras:
        return
    print()
    keras_baseline(models["keras"], int8, threads[0], args.keras_runs)


if __name__ == "__main__":
    main()
