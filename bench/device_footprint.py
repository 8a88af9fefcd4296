"""Device-side footprint: peak RSS and time to first result of `sentilite demo` and of the
benchmark runner, next to a bare Python process doing the same work with LiteRT + OpenCV.

Target (issue 2): the demo and the runner stay within 80 MB peak RSS and give their first
result within 0.6 s of process start, with the full-int8 MobileNetV2.

    python -m bench.device_footprint

Peak RSS is the kernel's high-water mark of each child process (wait4), so it includes
everything the process touched. Time to first result: measured by the parent from spawn to the
first result line for the bare loops; reported by the demo (its summary line) and the runner
(its JSON) from their own process start.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BARE = r"""
import sys, time, glob
import numpy as np, cv2
from ai_edge_litert.interpreter import Interpreter
model, source, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
it = Interpreter(model_path=model, num_threads=1); it.allocate_tensors()
d = it.get_input_details()[0]
if source.endswith(".mp4"):
    cap = cv2.VideoCapture(source); frames = (cap.read()[1] for _ in range(n))
else:
    frames = (cv2.imread(p) for p in sorted(glob.glob(source + "/*.jpg"))[:n])
for i, f in enumerate(frames):
    x = cv2.resize(f[:, 80:560], (224, 224))[None]
    it.set_tensor(d["index"], x); it.invoke(); it.get_tensor(it.get_output_details()[0]["index"])
    if i == 0:
        print("FIRST", flush=True)
"""


def run(cmd: list[str]) -> tuple[float, float, str]:
    """(seconds to the FIRST line or to exit, peak RSS MB, stdout+stderr) of one child process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    first, out = None, []
    for line in p.stdout:  # type: ignore[union-attr]
        out.append(line)
        if first is None and line.startswith("FIRST"):
            first = time.perf_counter() - t0
    _, status, usage = os.wait4(p.pid, 0)
    if status != 0:
        sys.exit(f"{cmd[:4]} failed:\n{''.join(out)[-2000:]}")
    return (first if first is not None else time.perf_counter() - t0), usage.ru_maxrss / 1024, "".join(out)


def reference_int8() -> str:
    """The reference int8 model's path, found (or built) in a child process: building imports
    TensorFlow, and a parent that has mapped ~1.8 GB makes every child's ru_maxrss start there."""
    code = "from bench.reference_models import reference_models; print(reference_models()['int8'])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    return proc.stdout.strip().splitlines()[-1]


def main() -> None:
    from sentilite.core.synthetic import make_synthetic_video

    model = reference_int8()
    tmp = Path(tempfile.mkdtemp(prefix="sentilite-footprint-"))
    clip = make_synthetic_video(tmp / "clip.mp4", frames=100, size=(480, 640))
    import cv2

    folder = tmp / "frames"
    folder.mkdir()
    cap = cv2.VideoCapture(str(clip))
    for i in range(100):
        cv2.imwrite(str(folder / f"{i:04d}.jpg"), cap.read()[1])
    cap.release()

    rows = []
    for label, source in (("JPEG folder", str(folder)), ("MP4 clip", str(clip))):
        t, rss, _ = run([sys.executable, "-c", BARE, model, source, "100"])
        rows.append((f"bare LiteRT + OpenCV loop, {label}", t, rss, "measured by the parent"))
        t_total, rss, out = run(
            ["sentilite", "demo", "--model", model, "--source", source, "--no-display", "--sync", "--max-frames", "100"]
        )
        m = re.search(r"first result ([\d.]+) s after start", out)
        rows.append(
            (
                f"sentilite demo --sync, {label}",
                float(m.group(1)) if m else t_total,
                rss,
                "from the demo's summary" if m else "whole run (no summary line)",
            )
        )

    out_dir = tmp / "bench"
    _, rss, out = run(["sentilite", "bench", model, "--runs", "20", "--warmup", "2", "--out", str(out_dir)])
    res = json.loads((out_dir / "results.json").read_text())
    row = res["rows"][0]
    rows.append(
        (
            "benchmark runner (one process per model)",
            row.get("time_to_first_result_s"),
            row.get("rss_peak_mb"),
            "from the runner's JSON; RSS of the runner process",
        )
    )
    rows.append(("`sentilite bench` parent process", None, rss, "host side: CLI, reports, plot"))

    print(f"model: {model} (full int8, 1 thread)\n")
    print("| process | first result s | peak RSS MB | note |")
    print("|---|---|---|---|")
    for name, t, rss_mb, note in rows:
        ts = f"{t:.2f}" if isinstance(t, (int, float)) else "–"
        print(f"| {name} | {ts} | {rss_mb:.1f} | {note} |")
    print("\ntarget: demo and runner within 80 MB and 0.6 s")


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    main()
