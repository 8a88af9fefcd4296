"""Issue 32 item 4: do XNNPACK's own flags, or YNNPACK, make a file faster here, and do they keep
its answers?

LiteRT's Interpreter API (what `sentilite bench`, the demo and serve use) takes no XNNPACK flags;
its CompiledModel API does (``CpuOptions(xnnpack_flags=..., enable_ynnpack=...)``). For each file
and configuration, one interleaved run: ``--rounds`` rounds, each timing ``--runs`` invokes of
every configuration in turn (so that load on a shared machine hits them alike); a configuration's
figure is the median of its round medians. Answers: top-1 agreement and the largest |Δp| against
the Interpreter's on real photos (Emotion6 test through the file's own contract).

Flags (tensorflow/lite/delegates/xnnpack/xnnpack_delegate.h): QS8 0x1, QU8 0x2, FORCE_FP16 0x4,
DYNAMIC_FULLY_CONNECTED 0x8, ENABLE_LATEST_OPERATORS 0x40.

    python -m bench.xnnpack_flags runs/bench-models/mnv2_sentiment_float32.tflite \\
        runs/bench-models/mnv2_sentiment_int8.tflite --threads 1,2

``python -m bench.reference_models`` makes those two files.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from statistics import median
from typing import Callable, Optional

import numpy as np

CONFIGS: dict[str, Optional[tuple[Optional[int], bool]]] = {
    "Interpreter (sentilite's runtime)": None,
    "CompiledModel, default flags": (None, False),
    "CompiledModel, QS8|QU8|LATEST_OPERATORS": (0x43, False),
    "CompiledModel, QS8|QU8|FORCE_FP16": (0x07, False),
    "CompiledModel, QS8|QU8|DYNAMIC_FULLY_CONNECTED": (0x0B, False),
    "CompiledModel, YNNPACK": (None, True),
}


def interpreter_runner(path: Path, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    from sentilite.core.classifier import TFLiteClassifier

    clf = TFLiteClassifier(path, num_threads=threads)
    return clf.run_raw


def compiled_runner(path: Path, threads: int, flags: Optional[int], ynn: bool) -> Callable[[np.ndarray], np.ndarray]:
    from ai_edge_litert.compiled_model import CompiledModel
    from ai_edge_litert.cpu_options import CpuOptions
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator
    from ai_edge_litert.options import Options

    cpu = CpuOptions(num_threads=threads, xnnpack_flags=flags, enable_ynnpack=ynn)
    model = CompiledModel.from_file(str(path), options=Options(HardwareAccelerator.CPU, cpu_options=cpu))
    ins, outs = model.create_input_buffers(0), model.create_output_buffers(0)
    detail = model.get_output_tensor_details(model.get_signature_by_index(0)["key"])
    first = next(iter(detail.values()))
    count, dtype = int(np.prod(first["shape"])), np.dtype(first["dtype"])

    def run(x: np.ndarray) -> np.ndarray:
        ins[0].write(x)
        model.run_by_index(0, ins, outs)
        return outs[0].read(count, dtype)

    run.model = model  # type: ignore[attr-defined] # keep it alive with its buffers
    return run


def photos(path: Path, shared: Path, n: int) -> list[np.ndarray]:
    from sentilite.core.classifier import TFLiteClassifier
    from sentilite.core.datasets import read_split_file
    from sentilite.core.imageio import load_image

    clf = TFLiteClassifier(path)
    split = read_split_file(shared / "data/emotion6/sentiment_test.txt")
    return [clf.encode(load_image(p)) for p in split.paths[:n]]


def measure(path: Path, threads: int, xs: list[np.ndarray], rounds: int, runs: int) -> list[dict[str, object]]:
    runners: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    for name, cfg in CONFIGS.items():
        try:
            runners[name] = interpreter_runner(path, threads) if cfg is None else compiled_runner(path, threads, *cfg)
        except Exception as exc:  # noqa: BLE001 - a configuration this build refuses is a row that says so
            print(f"  {name}: cannot be made ({type(exc).__name__}: {str(exc)[:120]})")
    answers = {name: np.stack([np.asarray(run(x), np.float64) for x in xs]) for name, run in runners.items()}
    medians: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            for x in xs[:5]:
                run(x)
            samples = []
            for i in range(runs):
                t0 = time.perf_counter()
                run(xs[i % len(xs)])
                samples.append((time.perf_counter() - t0) * 1000)
            medians[name].append(median(samples))
    base_name = next(iter(runners))
    base, base_ms = answers[base_name], median(medians[base_name])
    rows = []
    for name in runners:
        ms = median(medians[name])
        rows.append(
            {
                "config": name,
                "ms": ms,
                "vs_interpreter": ms / base_ms,
                "top1_agreement": float((answers[name].argmax(1) == base.argmax(1)).mean()),
                "max_abs_diff_raw": float(np.abs(answers[name] - base).max()),
            }
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", type=Path)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--runs", type=int, default=40)
    p.add_argument("--images", type=int, default=100, help="Emotion6 test photos for the answers")
    p.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    args = p.parse_args()
    for path in args.models:
        xs = photos(path, args.shared, args.images)
        for t in (int(v) for v in args.threads.split(",")):
            print(f"{path.name}, {t} thread(s), {len(xs)} photos:")
            for r in measure(path, t, xs, args.rounds, args.runs):
                print(
                    f"  {r['config']:<48} {r['ms']:7.3f} ms  x{r['vs_interpreter']:.3f}  "
                    f"top-1 agree {100 * r['top1_agreement']:5.1f} %  max |Δ raw| {r['max_abs_diff_raw']:.4g}"
                )


if __name__ == "__main__":
    main()
