"""Load test of `sentilite serve` on loopback, beside the bare model's throughput, in one run.

    python -m bench.serve_load                      # 16 clients, 60 s, 2 worker threads, bundled int8 model
    python -m bench.serve_load --clients 16 --seconds 60 --threads 2 --image photo.jpg

Starts a real server process (``sentilite serve --port 0``), then N client threads each POST
the same JPEG over a keep-alive connection for T seconds. Prints requests/s, p50/p99 latency,
errors by status, and the server's peak RSS (VmHWM of its process); then, in this same run, the
bare model's throughput: ``--threads`` threads each invoking its own interpreter for T seconds
on an input prepared once. Goals (issue 14): 0 errors with 16 clients for 60 s; server
throughput >= 50 % of the bare int8 invoke throughput at the same thread count; peak RSS <=
120 MB. Clients, server and the bare loop share the machine's cores: the figures are for this
machine, measured together.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SENTILITE_SHARED", REPO.parent / "shared"))


def default_image() -> bytes:
    """A real Emotion6 test photo where ../shared has one, else a generated 384x256 JPEG."""
    split = SHARED / "data" / "emotion6" / "sentiment_test.txt"
    if split.is_file():
        return (split.parent / split.read_text().split()[0]).read_bytes()
    import cv2
    import numpy as np

    img = (np.random.default_rng(0).random((256, 384, 3)) * 255).astype(np.uint8)
    return cv2.imencode(".jpg", img)[1].tobytes()


def start_server(model: str, threads: int, queue: int) -> tuple[subprocess.Popen, str]:
    cmd = [
        sys.executable,
        "-m",
        "sentilite",
        "serve",
        model,
        "--port",
        "0",
        "--threads",
        str(threads),
        "--queue",
        str(queue),
    ]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    for line in proc.stderr:  # type: ignore[union-attr]
        m = re.search(r"on (http://[^/]+)/", line)
        if m:
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # keep draining
            return proc, m.group(1)
    sys.exit("the server did not start")


def peak_rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def client(
    url: str, body: bytes, stop_at: float, out: list[float], errors: dict[str, int], lock: threading.Lock
) -> None:
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    mine: list[float] = []
    while time.perf_counter() < stop_at:
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/api/predict", body, {"Content-Type": "image/jpeg"})
            resp = conn.getresponse()
            resp.read()
            key = None if resp.status == 200 else str(resp.status)
        except (OSError, http.client.HTTPException) as exc:
            key = type(exc).__name__
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        if key is None:
            mine.append((time.perf_counter() - t0) * 1e3)
        else:
            with lock:
                errors[key] = errors.get(key, 0) + 1
    conn.close()
    with lock:
        out.extend(mine)


def bare_throughput(model: str, threads: int, seconds: float, image: bytes) -> float:
    """Invocations per second of ``threads`` threads, each with its own 1-thread interpreter."""
    from sentilite.core.classifier import TFLiteClassifier
    from sentilite.core.imageio import decode_image_bytes

    x = TFLiteClassifier(model).encode(decode_image_bytes(image))
    counts = [0] * threads
    stop_at = time.perf_counter() + seconds

    def work(i: int) -> None:
        clf = TFLiteClassifier(model, num_threads=1)
        n = 0
        while time.perf_counter() < stop_at:
            clf.run(x)
            n += 1
        counts[i] = n

    ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


def main() -> None:
    from sentilite.core.default_model import DEFAULT_MODEL_PATH

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(DEFAULT_MODEL_PATH))
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=2, help="server worker threads = bare-loop threads")
    ap.add_argument("--queue", type=int, default=64)
    ap.add_argument("--image", type=Path, help="JPEG to send (default: an Emotion6 test photo)")
    args = ap.parse_args()
    body = args.image.read_bytes() if args.image else default_image()

    proc, url = start_server(args.model, args.threads, args.queue)
    lat: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    stop_at = time.perf_counter() + args.seconds
    t0 = time.perf_counter()
    cs = [threading.Thread(target=client, args=(url, body, stop_at, lat, errors, lock)) for _ in range(args.clients)]
    for c in cs:
        c.start()
    for c in cs:
        c.join()
    wall = time.perf_counter() - t0
    rss = peak_rss_mb(proc.pid)
    proc.terminate()
    proc.wait(30)
    bare = bare_throughput(args.model, args.threads, min(args.seconds, 20.0), body)

    rps = len(lat) / wall
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [float("nan")] * 99
    print(
        f"model {Path(args.model).name}, {args.clients} clients x {args.seconds:.0f} s, server --threads "
        f"{args.threads}, "
        f"image {len(body) / 1e3:.0f} kB, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}\n"
    )
    print("| what | figure | goal |")
    print("|---|---|---|")
    print(f"| requests answered 200 | {len(lat)} ({rps:.1f}/s) | – |")
    print(f"| errors | {sum(errors.values())} {errors or ''} | 0 |")
    print(f"| latency p50 / p99 | {statistics.median(lat):.1f} / {q[98]:.1f} ms | – |")
    print(f"| server peak RSS | {rss:.1f} MB | <= 120 MB |")
    print(f"| bare int8 invoke(), {args.threads} thread(s) x own interpreter | {bare:.1f}/s | – |")
    print(f"| server / bare throughput | {rps / bare:.2f} | >= 0.50 |")


if __name__ == "__main__":
    main()
