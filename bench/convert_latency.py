"""Per-image latency of TFLite files on this host: the variants of `sentilite convert` output
folders, or single files (e.g. a new model against the one it replaces).

Times every file in alternation (so load changes on a shared machine hit all alike), for each
thread count, and prints median / p90 and the ratio to the baseline: float32 when there is one,
else the first file given. The invoke alone is timed (input already encoded), as the convert
report does. Files with the same variant name are told apart by their folder.

    python -m bench.convert_latency runs/convert-reference --runs 200 --threads 1,2
    python -m bench.convert_latency new/model_int8.tflite sentilite/models/sentiment_mobilenetv2_int8.tflite --threads 1
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", type=Path, nargs="+", metavar="FOLDER_OR_FILE")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args()

    import numpy as np

    from sentilite.convert.validation import interleaved_latency
    from sentilite.core.modelfile import read_conversion_facts
    from sentilite.core.runtime import make_interpreter

    files = [f for p in args.paths for f in (sorted(p.glob("*.tflite")) if p.is_dir() else [p])]
    if not files or not all(f.is_file() for f in files):
        sys.exit(f"no .tflite files in {', '.join(map(str, args.paths))}")
    names = [read_conversion_facts(f).get("variant", f.stem) for f in files]
    names = [n if names.count(n) == 1 else f"{f.parent.name}/{n}" for f, n in zip(files, names)]
    print(
        f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.runs} runs per variant, interleaved"
    )
    for threads in [int(t) for t in args.threads.split(",")]:
        runners = {}
        for f, name in zip(files, names):
            interp, rt = make_interpreter(f, num_threads=threads)
            d = interp.get_input_details()[0]
            interp.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
            runners[name] = interp.invoke
        lat = interleaved_latency(runners, runs=args.runs, warmup=5, rounds=10)
        base = "float32" if "float32" in lat else names[0]
        ref = lat[base]["latency_ms"]
        print(f"\n{threads} thread(s), {rt.describe()}")
        width = max(14, *map(len, names))
        print(f"{'file':{width}s} {'median ms':>10s} {'p90 ms':>8s} {'vs ' + base:>{max(10, len(base) + 3)}s}")
        for name, r in sorted(lat.items(), key=lambda kv: kv[1]["latency_ms"]):
            ratio = f"{r['latency_ms'] / ref:.2f}x"
            print(
                f"{name:{width}s} {r['latency_ms']:10.2f} {r['latency_p90_ms']:8.2f} {ratio:>{max(10, len(base) + 3)}s}"
            )


if __name__ == "__main__":
    main()
