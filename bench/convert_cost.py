"""Issue 32's item 5: what a default `sentilite convert` of an FT-F MobileNetV2 costs, step by step.

Converts the reference MobileNetV2 sentiment model (``bench.reference_models``) calibrated on
Emotion6 train and evaluated on Emotion6 test, as ``sentilite convert`` does by default (with
``--repair always`` here, so the repairs and their time budget always run), in a fresh process.
Printed: each step's seconds and peak RSS (report.json's ``steps``), the repairs tried and
skipped inside the time budget, the whole run's wall time and the process's peak RSS (VmHWM).

    python -m bench.convert_cost                          # default: the whole run aims at 300 s
    python -m bench.convert_cost --time-budget 0          # no budget: every repair, for comparison
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.reference_models import EMOTION6, reference_models


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repair", default="always", choices=["auto", "always", "never"])
    p.add_argument("--time-budget", default=None, help="seconds for the whole run (default: sentilite's default)")
    p.add_argument("--repair-budget", default=None, help="seconds for the repairs (default: sentilite's default)")
    p.add_argument("--out", default=None, help="keep the conversion here (default: a temporary folder)")
    args = p.parse_args()
    keras_file = reference_models()["keras"]
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="convert-cost-")) / "out"
    cmd = [
        sys.executable, "-m", "sentilite", "convert", str(keras_file), "--calib", str(EMOTION6 / "sentiment_train.txt"),
        "--eval", str(EMOTION6 / "sentiment_test.txt"), "--out", str(out), "--repair", args.repair,
    ]  # fmt: skip
    if args.time_budget is not None:
        cmd += ["--time-budget", str(args.time_budget)]
    if args.repair_budget is not None:
        cmd += ["--repair-budget", str(args.repair_budget)]
    t0 = time.perf_counter()
    # /usr/bin/time -v would need the package; the child's VmHWM is read by a wrapper instead
    wrapper = (
        "import runpy, sys, atexit\n"
        "def peak():\n"
        "    for ln in open('/proc/self/status'):\n"
        "        if ln.startswith('VmHWM'): print('@@peak_kb', ln.split()[1], file=sys.stderr)\n"
        "atexit.register(peak)\n"
        "sys.argv = ['sentilite'] + sys.argv[1:]\n"
        "runpy.run_module('sentilite', run_name='__main__')\n"
    )
    proc = subprocess.run([sys.executable, "-c", wrapper, *cmd[3:]], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak_kb = next((int(ln.split()[1]) for ln in proc.stderr.splitlines() if ln.startswith("@@peak_kb")), None)
    if proc.returncode != 0:
        sys.exit(f"convert failed ({proc.returncode}): {proc.stderr.strip().splitlines()[-3:]}")
    report = json.loads((out / "report.json").read_text())
    print(f"default convert of {keras_file.name}: {wall:.0f} s wall, process peak RSS {(peak_kb or 0) / 1024:.0f} MB")
    for s in report.get("steps", []):
        print(f"  {s['step']:<28} {s['seconds']:8.1f} s   peak RSS {s['peak_rss_mb']:7.0f} MB")
    repair = (report.get("int8_layers") or {}).get("repair") or {}
    if repair.get("ran"):
        print(
            f"repairs: budget {repair.get('budget_s')} s ({repair.get('budget_from')}), "
            f"spent {repair.get('spent_s')} s, kept {repair.get('kept')}"
        )
        for r in repair["rows"]:
            state = r["error"] if "error" in r else f"agreement {100 * r['top1_agreement']:.1f} %"
            print(f"  {r['variant']:<16} {r.get('seconds') or 0:6.0f} s  {state}")
    print(f"report: {out / 'report.md'}")


if __name__ == "__main__":
    main()
