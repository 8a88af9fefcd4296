"""Issue 32's peers in one table: `sentilite bench` (LiteRT's Interpreter API, the project's
protocol), LiteRT's own `litert-benchmark` (its CompiledModel API) and OpenVINO (which reads
.tflite files itself), on the same files, at the same thread counts, in one run.

The three take turns in ``--rounds`` rounds (each measures ``--runs`` single-image invokes after
its warm-up), so that load on a shared machine hits them alike; a tool's figure is the median of
its round medians. Printed per file and thread count: each median, sentilite / litert-benchmark
(issue 32: between 0.97 and 1.03) and sentilite / OpenVINO (issue 32: at most 1.00, or the
report says by how much it is slower).

    pip install openvino                                     # the OpenVINO peer (optional)
    python -m bench.peers runs/bench-models/mnv2_float32.tflite runs/bench-models/mnv2_int8.tflite

``python -m bench.reference_models`` makes those two files (about 1 min).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np


def sentilite_median(model: Path, threads: int, runs: int) -> float:
    """The project's protocol (a runner process, warm-up, then ``runs`` timed invokes)."""
    from sentilite.device_bench import BenchOptions, bench

    result = bench([model], BenchOptions(threads=threads, runs=runs, warmup=10), log=lambda _m: None)
    return float(result.rows[0]["median_ms"])


def litert_median(model: Path, threads: int, runs: int) -> float:
    """LiteRT's own CompiledModel benchmark (`litert-benchmark`, shipped in the ai-edge-litert wheel)."""
    exe = Path(sys.executable).with_name("litert-benchmark")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        cmd = [
            str(exe),
            "--model",
            str(model),
            "--num_runs",
            str(runs),
            "--warmup_runs",
            "10",
            "--num_threads",
            str(threads),
            "--result_json",
            str(out),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0 or not out.is_file():
            raise RuntimeError(f"litert-benchmark failed: {proc.stderr.strip().splitlines()[-1:]}")
        return float(json.loads(out.read_text())["latency"]["median_ms"])


def openvino_runner(model: Path, threads: int) -> Optional[Callable[[], None]]:
    """One OpenVINO CPU inference of ``model`` on a fixed input, or None without the package."""
    try:
        import openvino as ov
    except ImportError:
        return None
    from sentilite.core.modelfile import require_contract

    core = ov.Core()
    read = core.read_model(str(model))
    shape = [1, *require_contract(model).input_shape]
    read.reshape({read.input(0).any_name: shape})  # the .tflite's batch dimension reads as dynamic
    compiled = core.compile_model(read, "CPU", {"INFERENCE_NUM_THREADS": threads})
    dtype = np.uint8 if compiled.input(0).get_element_type().to_string() == "u8" else np.float32
    x = np.random.default_rng(0).integers(0, 256, size=shape).astype(dtype)
    request = compiled.create_infer_request()
    return lambda: request.infer({0: x})


def openvino_median(run: Callable[[], None], runs: int) -> float:
    for _ in range(10):
        run()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


def measure(model: Path, threads: int, runs: int, rounds: int) -> dict[str, Optional[float]]:
    ov_run = openvino_runner(model, threads)
    per: dict[str, list[float]] = {"sentilite": [], "litert-benchmark": [], "openvino": []}
    for _ in range(rounds):
        per["sentilite"].append(sentilite_median(model, threads, runs))
        per["litert-benchmark"].append(litert_median(model, threads, runs))
        if ov_run is not None:
            per["openvino"].append(openvino_median(ov_run, runs))
    return {k: (float(np.median(v)) if v else None) for k, v in per.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path, help="write the figures here too")
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    rows = []
    print(f"median ms of {args.runs} invokes, median of {args.rounds} interleaved rounds")
    print(f"{'file':<28} {'thr':>3} {'sentilite':>10} {'litert-bm':>10} {'openvino':>9} {'s/litert':>9} {'s/ov':>6}")
    for model in args.models:
        for threads in (int(t) for t in args.threads.split(",")):
            m = measure(model, threads, args.runs, args.rounds)
            s, lb, ov = m["sentilite"], m["litert-benchmark"], m["openvino"]
            rows.append({"model": str(model), "threads": threads, **m})
            ov_txt = f"{ov:9.2f}" if ov else f"{'-':>9}"
            ratio_ov = f"{s / ov:6.2f}" if ov else f"{'-':>6}"
            print(f"{model.name[:28]:<28} {threads:>3} {s:10.2f} {lb:10.2f} {ov_txt} {s / lb:9.3f} {ratio_ov}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    print("s/litert: issue 32 wants 0.97-1.03; s/ov: <= 1.00 means sentilite's recommended runtime is at least as fast")


if __name__ == "__main__":
    main()
