"""Issue 32's profile goals, printed: do the per-op times add up, is the top-10 stable, and how far
is each op type from this CPU's nominal peak?

For each file (the bundled int8 model, and the reference MobileNetV2 variants of
``bench.reference_models``), ``sentilite profile`` runs at 1 and 2 threads with 2 repeats on this
machine. Printed per file and thread count: the whole model's median, the sum of the ops' own
times, the gap (goal: within 10 %, or the report names the cause), how many of the top-10 ops the
two repeats share (goal: 10), which op types XNNPACK left to the builtin kernels; then per op type
the achieved GMAC/s and its share of the nominal peak (device_bench/cpu_peak.py).

    python -m bench.profile_faithfulness                       # bundled int8 + reference float32
    python -m bench.profile_faithfulness --variants float32,float16,dynamic-int8,int8 --kernels builtin

Writes runs/profile-faithfulness/<file>/ (each profile's report) and summary.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sentilite.core.default_model import DEFAULT_MODEL_PATH
from sentilite.device_bench import BenchOptions, ProfileOptions, profile

OUT = Path("runs") / "profile-faithfulness"


def _files(variants: str) -> dict[str, Path]:
    files = {"bundled int8": DEFAULT_MODEL_PATH}
    wanted = [v for v in variants.split(",") if v]
    if wanted:
        from bench.reference_models import reference_models

        ref = reference_models()
        files.update({f"reference {v}": ref[v] for v in wanted})
    return files


def _print(name: str, prof) -> list[dict[str, object]]:  # noqa: ANN001
    rows = []
    for tp in prof.by_threads:
        f = tp["faithfulness"]
        rows.append(
            {
                "file": name,
                "threads": tp["threads"],
                "kernels": prof.kernels,
                "whole_ms": f.get("whole_ms"),
                "sum_ms": f["sum_ms"],
                "gap": f.get("gap"),
                "within_10pct": f.get("within_10pct"),
                "top10_same": f.get("top10_same"),
                "top10_same_or_tied": f.get("top10_same_or_tied"),
                "on_builtin": tp["on_builtin"],
                "op_types": [
                    {k: t.get(k) for k in ("op", "count", "ms", "share", "gmacs_per_s", "peak_share")}
                    for t in tp["op_types"]
                ],
            }
        )
        print(
            f"{name:<22} x{tp['threads']} {prof.kernels:<8} whole {f.get('whole_ms') or float('nan'):7.3f} ms  "
            f"ops {f['sum_ms']:7.3f} ms  gap {100 * (f.get('gap') or 0):+5.1f} %  "
            f"top-10 same {f.get('top10_same')}/10 ({f.get('top10_same_or_tied')} with ties)  "
            f"left to builtin: {', '.join(tp['on_builtin']) or '-'}"
        )
        for t in tp["op_types"]:
            if t.get("gmacs_per_s"):
                print(
                    f"    {t['op']:<20} {t['ms']:7.3f} ms  {t['gmacs_per_s']:7.1f} GMAC/s  "
                    f"{100 * (t.get('peak_share') or 0):5.1f} % of peak"
                )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", default="float32", help="reference variants beside the bundled int8 ('' for none)")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--kernels", default="xnnpack", choices=["xnnpack", "builtin", "reference"])
    p.add_argument("--runs", type=int, default=30)
    args = p.parse_args()
    xnnpack = args.kernels == "xnnpack"
    bench = BenchOptions(
        threads=args.threads, runs=args.runs, warmup=5, repeat=2, kernels=args.kernels, xnnpack=xnnpack
    )
    summary: list[dict[str, object]] = []
    peak = None
    for name, path in _files(args.variants).items():
        prof = profile(path, ProfileOptions(bench), OUT / name.replace(" ", "_"))
        peak = json.loads((OUT / name.replace(" ", "_") / "profile.json").read_text())["peak"]
        summary += _print(name, prof)
    print(f"nominal peak: {peak}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "summary.json").write_text(json.dumps({"peak": peak, "rows": summary}, indent=1, default=str))
    print(f"written: {OUT / 'summary.json'}")


if __name__ == "__main__":
    main()
