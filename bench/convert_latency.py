"""Per-image latency of the TFLite variants in a `sentilite convert` output folder, on this host.

Times every variant in alternation (so load changes on a shared machine hit all alike), for
each thread count, and prints median / p90 and the ratio to float32. The invoke alone is
timed (input already encoded), as the convert report does.

    python bench/convert_latency.py runs/convert-reference --runs 200 --threads 1,2
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args()

    import numpy as np

    from sentilite.convert.validation import interleaved_latency
    from sentilite.core.modelfile import read_conversion_facts
    from sentilite.core.runtime import make_interpreter

    files = sorted(args.folder.glob("*.tflite"))
    if not files:
        sys.exit(f"no .tflite files in {args.folder}")
    print(f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.runs} runs per variant, interleaved")
    for threads in [int(t) for t in args.threads.split(",")]:
        runners = {}
        for f in files:
            name = read_conversion_facts(f).get("variant", f.stem)
            interp, rt = make_interpreter(f, num_threads=threads)
            d = interp.get_input_details()[0]
            interp.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
            runners[name] = interp.invoke
        lat = interleaved_latency(runners, runs=args.runs, warmup=5, rounds=10)
        ref = lat.get("float32", {}).get("latency_ms")
        print(f"\n{threads} thread(s), {rt.describe()}")
        print(f"{'variant':14s} {'median ms':>10s} {'p90 ms':>8s} {'vs float32':>10s}")
        for name, r in sorted(lat.items(), key=lambda kv: kv[1]["latency_ms"]):
            ratio = f"{r['latency_ms'] / ref:.2f}x" if ref else "-"
            print(f"{name:14s} {r['latency_ms']:10.2f} {r['latency_p90_ms']:8.2f} {ratio:>10s}")


if __name__ == "__main__":
    main()
