#!/usr/bin/env python3
"""sentilite benchmark runner: one self-contained file that measures .tflite models on a device.

It needs only the Python standard library (3.6+), numpy and a LiteRT runtime (``ai_edge_litert``,
else ``tflite_runtime``, else ``tensorflow.lite``); no TensorFlow, no sentilite install. Copy it
to a Raspberry Pi (``sentilite bench --device ssh://...`` does that for you) and run::

    python3 runner.py --check                       # Python, numpy and runtime found? (JSON)
    python3 runner.py --model m.tflite --threads 1,2 --runs 50
    python3 runner.py --spec spec.json [--out results.json]

Protocol, per model x thread count, each in a fresh process so one model's memory never
pollutes another's numbers: load (interpreter + allocate_tensors), first inference, warm-up
runs, then N timed ``invoke()`` calls (or as many as fit in a minimum duration) with min /
median / mean / p90 / p99 / std and throughput; peak RSS and its growth over the bare
process (Python + numpy + runtime + inputs); runtime name and version; whether XNNPACK (or
another delegate) was applied; CPU model, cores, governor and temperature where readable.

Inputs are never preprocessed here: either a ``.npy`` of ready model inputs (encoded on the
host through the model's embedded contract) or random values in a range the host gives.

Each result is printed as one line ``@@sentilite-bench@@ {json}`` as soon as it exists, so a
caller reading stdout keeps every result gathered before a failure.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time

if __package__:  # imported from an installed sentilite
    from sentilite.core import probe

    from . import measure as measuring
    from . import record
else:
    try:  # shipped to a device: the helper files sit beside this one
        import sentilite_measure as measuring
        import sentilite_probe as probe
        import sentilite_record as record
    except ImportError:  # run as a plain file from a sentilite checkout or install
        from sentilite.core import probe
        from sentilite.device_bench import measure as measuring
        from sentilite.device_bench import record

BenchResult = record.BenchResult
RESULT_PREFIX = record.RESULT_PREFIX
SCHEMA = record.SCHEMA
RUNNER_VERSION = "2"
#: what the device needs beside runner.py, by the name it has there (see transports.base)
HELPER_FILES = (
    "sentilite_measure.py",
    "sentilite_probe.py",
    "sentilite_record.py",
    "sentilite_sustained.py",
    "sentilite_optiming.py",
)

INSTALL_HINT = (
    "python3 -m pip install ai-edge-litert  (LiteRT; 64-bit OS, Python 3.9+; where pip refuses to install "
    "system-wide, e.g. Raspberry Pi OS Bookworm: python3 -m venv ~/litert && ~/litert/bin/pip install "
    "ai-edge-litert, then pass --remote-python ~/litert/bin/python). On an old device without a LiteRT wheel: "
    "python3 -m pip install tflite-runtime 'numpy<2'"
)
NUMPY_HINT = "python3 -m pip install numpy  (or on Raspberry Pi OS / Debian: sudo apt install python3-numpy)"


# -- orchestration ----------------------------------------------------------------------------------


def emit(obj, stream=None):
    stream = stream or sys.stdout
    stream.write(RESULT_PREFIX + json.dumps(obj, separators=(",", ":")) + "\n")
    stream.flush()


def run_child(spec_path, index, timeout, command=None):
    """Run job ``index`` of the spec in a fresh interpreter; return its result dict."""
    prefix = list(command) if command else [sys.executable, os.path.abspath(__file__)]
    cmd = prefix + ["--job", spec_path, "--index", str(index), "--t0", repr(time.monotonic())]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    _CHILDREN.add(proc)
    try:
        out, err = proc.communicate(timeout=timeout or None)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise RuntimeError(
            f"no result within {timeout:.0f} s (the benchmark process was stopped; raise --timeout for slow devices)"
        ) from None
    finally:
        _CHILDREN.discard(proc)
    text = out.decode("utf-8", "replace")
    for line in text.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    tail = [ln for ln in err.decode("utf-8", "replace").strip().splitlines() if ln.strip()][-3:]
    if proc.returncode and proc.returncode < 0:
        detail = (": " + " | ".join(tail)) if tail else ""
        raise RuntimeError(f"the benchmark process died with signal {-proc.returncode} (out of memory?){detail}")
    raise RuntimeError(
        "the benchmark process exited with code {}{}".format(proc.returncode, (": " + " | ".join(tail)) if tail else "")
    )


_CHILDREN = set()


def _watch_stdin():
    """Exit (stopping the current measurement) when stdin closes: the SSH session is gone."""

    def watch():
        try:
            while sys.stdin.buffer.read(1 << 12):
                pass
        except Exception:  # noqa: BLE001
            pass
        for p in list(_CHILDREN):
            try:
                p.kill()
            except Exception:  # noqa: BLE001
                pass
        os._exit(3)

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


def run_spec(spec_path, out_path=None, isolate=True, command=None, measure=None):
    """Run every job of a spec, each in a fresh process (``command`` + ``--job ...``)."""
    measure_fn = measure or measuring.measure_job
    with open(spec_path) as fh:
        spec = json.load(fh)
    base_dir = os.path.dirname(os.path.abspath(spec_path))
    settings = spec.get("settings", {})
    results = []
    emit({"event": "start", "jobs": len(spec["jobs"]), "system": probe.system_info(), "runner_version": RUNNER_VERSION})
    for i, job in enumerate(spec["jobs"]):
        try:
            if isolate:
                res = run_child(spec_path, i, float(settings.get("job_timeout") or 0), command)
            else:
                res = measure_fn(job, settings, base_dir, None)
        except Exception as exc:  # noqa: BLE001 - one model failing must not lose the others
            res = BenchResult.failed(job, str(exc))
        res = res if isinstance(res, dict) else res.to_dict()
        if res.get("id") is None:
            res["id"] = job.get("id")
        results.append(res)
        emit(res)
        if out_path:
            write_json(out_path, {"schema": SCHEMA + "s", "system": probe.system_info(), "results": results})
    emit({"event": "done", "jobs": len(results), "system_after": probe.system_info()})
    return results


def run_job(spec_path, index, t0, measure=None):
    with open(spec_path) as fh:
        spec = json.load(fh)
    job = spec["jobs"][index]
    base_dir = os.path.dirname(os.path.abspath(spec_path))
    try:
        res = (measure or measuring.measure_job)(job, spec.get("settings", {}), base_dir, t0)
    except Exception as exc:  # noqa: BLE001
        res = BenchResult.failed(job, str(exc))
    emit(res.to_dict())
    return 0


def write_json(path, obj):
    tmp = path + ".part"
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=1)
    os.replace(tmp, path)


def check(runtime=None):
    """Report Python, numpy and runtime availability as one JSON object (exit 0 when usable).

    ``runtime`` (else $SENTILITE_RUNTIME) is the one the measurement will use: the runtime
    checked is the runtime measured."""
    info = {
        "python": platform.python_version(),
        "executable": sys.executable,
        "machine": platform.machine(),
        "ok": False,
    }
    try:
        import numpy

        info["numpy"] = numpy.__version__
    except Exception as exc:  # noqa: BLE001
        info["numpy"] = None
        info["problem"] = f"numpy cannot be imported ({exc})"
        info["fix"] = NUMPY_HINT
        print(json.dumps(info))
        return 4
    try:
        name, version, _, _, _ = measuring.load_runtime(runtime)
        info["runtime"] = {"name": name, "version": version}
    except Exception as exc:  # noqa: BLE001
        info["runtime"] = None
        info["problem"] = str(exc)
        info["fix"] = INSTALL_HINT
        print(json.dumps(info))
        return 3
    info["ok"] = True
    info["system"] = probe.system_info()
    print(json.dumps(info))
    return 0


def quick_spec(args):
    """A spec from --model/--threads arguments (for running the file by hand)."""
    jobs = []
    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    for m in args.model:
        for r in range(args.repeat):
            for t in threads:
                jobs.append(
                    {
                        "id": f"{os.path.basename(m)}-t{t}-r{r}",
                        "model": os.path.abspath(m),
                        "name": os.path.basename(m),
                        "threads": t,
                        "repeat": r,
                    }
                )
    settings = {
        "runs": args.runs,
        "warmup": args.warmup,
        "min_seconds": args.min_seconds,
        "xnnpack": not args.no_xnnpack,
        "job_timeout": 600,
    }
    fd, path = tempfile.mkstemp(prefix="sentilite-spec-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump({"jobs": jobs, "settings": settings}, fh)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--check", action="store_true", help="report Python/numpy/runtime availability as JSON and exit")
    p.add_argument("--spec", help="JSON spec written by `sentilite bench`")
    p.add_argument("--out", help="also write all results to this JSON file")
    p.add_argument("--in-process", action="store_true", help="measure in this process (no fresh process per job)")
    p.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when stdin closes (used over SSH)")
    p.add_argument("--model", nargs="*", default=[], help="models to measure without a spec")
    p.add_argument("--threads", default="1")
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--min-seconds", type=float, default=0.0)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--no-xnnpack", action="store_true")
    p.add_argument(
        "--runtime",
        help="ai-edge-litert, tflite-runtime or tensorflow (default: $SENTILITE_RUNTIME, else in that order)",
    )
    p.add_argument("--job", help=argparse.SUPPRESS)
    p.add_argument("--index", type=int, help=argparse.SUPPRESS)
    p.add_argument("--t0", type=float, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.check:
        return check(args.runtime)
    if args.job:
        return run_job(args.job, args.index, args.t0)
    if args.exit_on_stdin_eof:
        _watch_stdin()
    spec = args.spec or (quick_spec(args) if args.model else None)
    if not spec:
        p.error("give --spec FILE, --model FILE... or --check")
    results = run_spec(spec, args.out, isolate=not args.in_process)
    if not args.spec:
        os.unlink(spec)
    return 1 if any(r.get("error") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
