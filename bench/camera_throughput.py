"""Camera-demo throughput against the model's own speed, measured in the same run.

    python -m bench.camera_throughput                     # pixel-in full-int8 MobileNetV2, 1 thread
    python -m bench.camera_throughput --frames 900 --model other.tflite

What it does, on a generated 640x480 clip (MPEG-4 .mp4, 30 fps), headless:

1. paired rounds (``--rounds``, default 3): the model alone (``TFLiteClassifier.run`` on one
   pre-encoded frame, single thread) before and after a ``--sync`` demo run (every frame, in
   order; decode + preprocess run ahead in the capture thread). Each round's ratio is the
   demo's end-to-end frames per second over the faster model-alone figure (the stricter
   choice); the target is >= 0.95, i.e. capture, preprocessing, overlay and bookkeeping cost
   at most ~5 %. Without --model, the same rounds also run on the same network exported the
   old way (normalisation outside the model, INTER_AREA resize), to show what pixel-in and
   warp_linear gain per frame. The best round is quoted (another job on this shared 2-core machine slows
   the 2-thread pipeline more than the 1-thread model), and every round is printed;
2. the default threaded (newest-frame) mode on the same clip, played at its 30 fps like a
   camera, and unpaced (decoded as fast as possible, so most frames are dropped);
3. the ``sentilite demo`` process itself (a subprocess): peak RSS and the time from process
   start to its first result (targets: ~80 MB and 0.6 s).

The machine is shared: run it twice and quote the quieter run. Results also go to
runs/bench-camera/result.json.
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
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "runs" / "bench-camera"
TARGET_RATIO = 0.95


def model_alone_fps(model: Path, frame, seconds: float = 2.0) -> float:
    from sentilite.core.classifier import TFLiteClassifier

    clf = TFLiteClassifier(model, num_threads=1)
    x = clf.encode(frame, "BGR")
    for _ in range(20):
        clf.run(x)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        clf.run(x)
        n += 1
    return n / (time.perf_counter() - t0)


def demo(model: Path, clip: Path, **kw) -> dict:
    from sentilite.camera_demo.api import DemoConfig, run_demo

    return run_demo(DemoConfig(model=str(model), source=str(clip), display=False, quiet=True, threads=1, **kw))


def process_figures(model: Path, clip: Path) -> dict:
    """Peak RSS and first-result time of a real `sentilite demo` process."""
    with tempfile.TemporaryDirectory() as tmp:
        summary = Path(tmp) / "summary.json"
        cmd = [
            sys.executable,
            "-m",
            "sentilite",
            "demo",
            "--model",
            str(model),
            "--source",
            str(clip),
            "--no-display",
            "--sync",
            "--max-frames",
            "60",
            "--quiet",
            "--summary-json",
            str(summary),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise SystemExit(f"`{' '.join(cmd)}` failed:\n{proc.stderr}")
        s = json.loads(summary.read_text())
    return {"peak_rss_mb": s["peak_rss_mb"], "first_result_s": s["first_result_s"], "command": " ".join(cmd[2:])}


def paired_rounds(model: Path, clip: Path, frame, n: int, label: str) -> dict:
    """``n`` rounds of model alone / --sync demo / model alone; the best and median ratios."""
    rounds = []
    for i in range(n):
        before = model_alone_fps(model, frame)
        sync = demo(model, clip, sync=True)
        after = model_alone_fps(model, frame)
        model_fps = max(before, after)
        ratio = sync["fps"]["end_to_end"] / model_fps
        rounds.append({"before": before, "after": after, "model_fps": model_fps, "sync": sync, "ratio": ratio})
        print(
            f"{label} round {i + 1}: model alone {before:.1f} / {after:.1f} fps (before / after), --sync end-to-end "
            f"{sync['fps']['end_to_end']:.1f} fps -> ratio {ratio:.3f}, preprocess "
            f"{sync['timings_ms']['preprocess']:.2f} ms/frame",
            flush=True,
        )
    best = max(rounds, key=lambda r: r["ratio"])
    return {
        "model": str(model),
        "rounds": rounds,
        "best": best,
        "median": sorted(r["ratio"] for r in rounds)[len(rounds) // 2],
    }


def row(name: str, s: dict) -> str:
    f, t, lat = s["fps"], s["timings_ms"], s["latency_ms"]
    return (
        f"{name:<22} {s['frames']:>6} {s['dropped']:>7} {f['capture']:>8.1f} {f['inference']:>8.1f} "
        f"{f['end_to_end']:>8.1f} "
        f"{lat['p50']:>7.1f} {lat['p90']:>7.1f}   {t['preprocess']:.2f} / {t['inference']:.2f} / {t['draw']:.2f}"
    )


def make_clip(frames: int) -> tuple[Path, Any]:
    """A 640x480 synthetic clip (made once, cached) and its first frame."""
    import cv2

    from sentilite.core.synthetic import make_synthetic_video

    OUT.mkdir(parents=True, exist_ok=True)
    clip = OUT / f"clip_640x480_{frames}.mp4"
    if not clip.exists():
        make_synthetic_video(clip, frames=frames, size=(480, 640), fps=30.0)
    cap = cv2.VideoCapture(str(clip))
    ok, frame = cap.read()
    cap.release()
    assert ok, clip
    return clip, frame


def _rounds(run: dict) -> list:
    return [{k: v for k, v in r.items() if k != "sync"} | {"sync_fps": r["sync"]["fps"]} for r in run["rounds"]]


def result_record(args: Any, clip: Path, main_run: dict, old: Any, live: dict, unpaced: dict, proc: dict) -> dict:
    """result.json: every figure the run printed."""
    sync, model_fps, ratio = main_run["best"]["sync"], main_run["best"]["model_fps"], main_run["best"]["ratio"]
    result = {
        "model": str(args.model),
        "clip": str(clip),
        "frames": args.frames,
        "cpu_cores": os.cpu_count(),
        "rounds": _rounds(main_run),
        "model_alone_fps": model_fps,
        "sync": sync,
        "median_ratio": main_run["median"],
        "threaded_30fps": live,
        "threaded_unpaced": unpaced,
        "ratio": ratio,
        "pass": ratio >= TARGET_RATIO,
        "process": proc,
        "old_export": {
            "model": old["model"],
            "rounds": _rounds(old),
            "ratio": old["best"]["ratio"],
            "median_ratio": old["median"],
            "sync": old["best"]["sync"],
        }
        if old
        else None,
    }
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None, help="default: the pixel-in full-int8 reference MobileNetV2")
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--rounds", type=int, default=3, help="paired model-alone / --sync rounds")
    args = ap.parse_args()
    baseline = None
    if args.model is None:
        from bench.reference_models import pixel_in_int8, reference_models

        args.model, baseline = pixel_in_int8(), reference_models()["int8"]
    clip, frame = make_clip(args.frames)

    print(f"model {args.model}, 1 thread; clip {clip} ({args.frames} frames 640x480); {os.cpu_count()} CPU cores")
    # Paired rounds: another process on this 2-core machine slows the 2-thread pipeline more
    # than the 1-thread model, so each round's ratio is a lower bound; the best round is the
    # least disturbed one. All rounds are printed.
    main_run = paired_rounds(args.model, clip, frame, args.rounds, "pixel-in" if baseline else "model")
    old = paired_rounds(baseline, clip, frame, args.rounds, "normalised+area") if baseline else None
    sync, model_fps, ratio = main_run["best"]["sync"], main_run["best"]["model_fps"], main_run["best"]["ratio"]
    live = demo(args.model, clip)  # newest-frame mode, played at the clip's 30 fps
    unpaced = demo(args.model, clip, fps=0)  # newest-frame mode, decoded as fast as possible
    proc = process_figures(args.model, clip)

    print(f"\nbest round: model alone (TFLiteClassifier.run, 1 thread) {model_fps:.1f} fps")
    print(
        f"\n{'mode':<22} {'frames':>6} {'dropped':>7} {'capture':>8} {'infer':>8} {'e2e':>8} {'p50 ms':>7} "
        f"{'p90 ms':>7}   pre / infer / draw ms"
    )
    print(row("--sync", sync))
    if old:
        print(row("--sync, old export", old["best"]["sync"]))
    print(row("threaded, 30 fps clip", live))
    print(row("threaded, unpaced", unpaced))
    verdict = "PASS" if ratio >= TARGET_RATIO else "FAIL"
    print(
        f"\n--sync end-to-end / model alone = {sync['fps']['end_to_end']:.1f} / {model_fps:.1f} = {ratio:.3f} in the "
        f"best round, "
        f"median of {len(main_run['rounds'])} rounds {main_run['median']:.3f}  (target >= {TARGET_RATIO}) {verdict}"
    )
    if old:
        print(
            f"same network exported the old way (normalised input, INTER_AREA): {old['best']['ratio']:.3f} best, "
            f"{old['median']:.3f} median; preprocess {old['best']['sync']['timings_ms']['preprocess']:.2f} -> "
            f"{sync['timings_ms']['preprocess']:.2f} ms/frame"
        )
    print(
        f"`sentilite demo` process: peak RSS {proc['peak_rss_mb']:.1f} MB, first result {proc['first_result_s']:.2f} "
        f"s after start "
        f"(targets ~80 MB, 0.6 s)"
    )

    result = result_record(args, clip, main_run, old, live, unpaced, proc)
    (OUT / "result.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    sys.exit(0 if ratio >= TARGET_RATIO else 1)


if __name__ == "__main__":
    main()
