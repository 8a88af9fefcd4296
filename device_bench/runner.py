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
import math
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time

RESULT_PREFIX = "@@sentilite-bench@@ "
SCHEMA = "sentilite-bench-result"
SCHEMA_VERSION = 1
RUNNER_VERSION = "1"

#: (name shown to users, module holding the Interpreter class) in the order they are tried.
RUNTIMES = (
    ("ai-edge-litert", "ai_edge_litert.interpreter"),
    ("tflite-runtime", "tflite_runtime.interpreter"),
    ("tensorflow", "tensorflow.lite"),
)
INSTALL_HINT = (
    "python3 -m pip install ai-edge-litert  (LiteRT; 64-bit OS, Python 3.9+; where pip refuses to install "
    "system-wide, e.g. Raspberry Pi OS Bookworm: python3 -m venv ~/litert && ~/litert/bin/pip install "
    "ai-edge-litert, then pass --remote-python ~/litert/bin/python). On an old device without a LiteRT wheel: "
    "python3 -m pip install tflite-runtime 'numpy<2'"
)
NUMPY_HINT = "python3 -m pip install numpy  (or on Raspberry Pi OS / Debian: sudo apt install python3-numpy)"


# -- small helpers (pure Python so the host can reuse them without a runtime) ------------------


def percentile(sorted_values, q):
    """Linear-interpolated percentile (numpy's default method) of an ascending list."""
    n = len(sorted_values)
    if n == 0:
        return None
    pos = (n - 1) * q / 100.0
    lo = int(math.floor(pos))
    hi = min(lo + 1, n - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize(samples_ms):
    """min / median / mean / p90 / p99 / max / std (sample, n-1) / cv / throughput of timings."""
    s = sorted(float(v) for v in samples_ms)
    n = len(s)
    if n == 0:
        return {"count": 0}
    mean = sum(s) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in s) / (n - 1)) if n > 1 else 0.0
    return {
        "count": n,
        "min": s[0],
        "median": percentile(s, 50),
        "mean": mean,
        "p90": percentile(s, 90),
        "p99": percentile(s, 99),
        "max": s[-1],
        "std": std,
        "cv": std / mean if mean > 0 else None,
        "throughput_ips": 1000.0 / mean if mean > 0 else None,
    }


def _read(path, limit=4096):
    try:
        with open(path) as fh:
            return fh.read(limit).strip()
    except (OSError, UnicodeDecodeError):
        return None


def proc_status_mb(key):
    """A VmRSS / VmHWM value of this process in MiB (Linux, Android), else None."""
    text = _read("/proc/self/status", 1 << 16)
    if not text:
        return None
    for line in text.splitlines():
        if line.startswith(key + ":"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1]) / 1024.0
    return None


def rss_mb():
    v = proc_status_mb("VmRSS")
    if v is not None:
        return v
    try:  # macOS and friends: only the peak is available
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2.0**20 if sys.platform == "darwin" else peak / 1024.0
    except Exception:  # noqa: BLE001
        return None


def peak_rss_mb():
    """Peak RSS of this process image (VmHWM, which starts afresh at exec), else ru_maxrss."""
    v = proc_status_mb("VmHWM")
    if v is not None:
        return v
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2.0**20 if sys.platform == "darwin" else peak / 1024.0
    except Exception:  # noqa: BLE001
        return None


def temperature_c():
    """Highest readable thermal-zone temperature in degrees C (Pi: the SoC), else None."""
    best = None
    base = "/sys/class/thermal"
    try:
        zones = [z for z in os.listdir(base) if z.startswith("thermal_zone")]
    except OSError:
        zones = []
    for z in sorted(zones):
        raw = _read(os.path.join(base, z, "temp"), 64)
        try:
            v = float(raw) / 1000.0 if raw is not None else None
        except ValueError:
            v = None
        if v is not None and -40 < v < 150 and (best is None or v > best):
            best = v
    if best is None:
        raw = _read("/sys/devices/virtual/thermal/thermal_zone0/temp", 64)
        try:
            best = float(raw) / 1000.0 if raw else None
        except ValueError:
            best = None
    return best


def cpu_model():
    text = _read("/proc/cpuinfo", 1 << 16) or ""
    found = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            k, v = k.strip().lower(), v.strip()
            if k in ("model name", "hardware", "model", "processor", "cpu part") and v and k not in found:
                found[k] = v
    board = _read("/proc/device-tree/model", 256)
    board = board.replace("\x00", "").strip() if board else None
    name = found.get("model name") or found.get("hardware")
    if not name and found.get("processor") and not found["processor"].isdigit():
        name = found["processor"]
    model = found.get("model")
    if model and model.isdigit():  # x86 reports a model *number* there
        model = None
    return {"cpu": name or platform.processor() or platform.machine(), "board": board or model}


def affinity():
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def system_info():
    """What we can read about the machine without privileges; missing facts are None."""
    info = cpu_model()
    freq = _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", 64)
    try:
        load = os.getloadavg()
    except (AttributeError, OSError):
        load = None
    info.update(
        {
            "hostname": platform.node(),
            "machine": platform.machine(),
            "platform": platform.platform(),
            "cores": os.cpu_count(),
            "affinity": affinity(),
            "governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", 64),
            "cpu_mhz": round(int(freq) / 1000.0) if freq and freq.isdigit() else None,
            "temperature_c": temperature_c(),
            "loadavg": [round(v, 2) for v in load] if load else None,
            "python": platform.python_version(),
        }
    )
    return info


def _version_of(pkg_name, module):
    v = getattr(module, "__version__", None)
    if isinstance(v, str):
        return v
    try:
        from importlib.metadata import version  # Python 3.8+

        return version(pkg_name)
    except Exception:  # noqa: BLE001
        return "unknown"


def load_runtime(preference=None):
    """(name, version, Interpreter class, module, OpResolverType or None); tried in order."""
    import importlib

    names = [n for n, _ in RUNTIMES]
    if preference:
        wanted = [p.strip() for p in (preference.split(",") if isinstance(preference, str) else preference) if p.strip()]
        order = [(n, m) for w in wanted for n, m in RUNTIMES if n == w]
        if not order:
            raise SystemExit("unknown runtime {!r}; choose from {}".format(preference, ", ".join(names)))
    else:
        order = list(RUNTIMES)
    tried = []
    for name, module_name in order:
        try:
            module = importlib.import_module(module_name)
            interpreter = module.Interpreter
            resolver = getattr(module, "OpResolverType", None)
            if resolver is None and name == "tensorflow":
                resolver = getattr(getattr(module, "experimental", None), "OpResolverType", None)
            top = importlib.import_module(module_name.split(".")[0])
            return name, _version_of(name, top), interpreter, module, resolver
        except Exception as exc:  # noqa: BLE001 - ImportError, or a broken wheel (NumPy ABI...)
            tried.append("{} ({}: {})".format(name, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else ""))
    raise RuntimeError("no TFLite runtime could be imported; tried " + "; ".join(tried))


class CaptureStderr:
    """Collect what native code writes to fd 2 (delegate banners, TFLite errors)."""

    def __init__(self):
        self.text = ""

    def __enter__(self):
        self._file = tempfile.TemporaryFile()
        try:
            sys.stderr.flush()
            self._saved = os.dup(2)
            os.dup2(self._file.fileno(), 2)
        except OSError:
            self._saved = None
        return self

    def __exit__(self, *exc):
        if self._saved is not None:
            try:
                sys.stderr.flush()
            except Exception:  # noqa: BLE001
                pass
            os.dup2(self._saved, 2)
            os.close(self._saved)
        self._file.seek(0)
        self.text = self._file.read().decode("utf-8", "replace")
        self._file.close()
        return False


def parse_cpu_mask(mask):
    """'f0' / '0xf0' (taskset hex mask) or '4-7' / '0,2' (a CPU list) -> set of CPUs."""
    m = str(mask).strip().lower()
    if "," in m or "-" in m:
        cpus = set()
        for part in m.split(","):
            if "-" in part:
                a, b = part.split("-", 1)
                cpus.update(range(int(a), int(b) + 1))
            elif part:
                cpus.add(int(part))
        return cpus
    value = int(m[2:] if m.startswith("0x") else m, 16)
    return {i for i in range(value.bit_length()) if value >> i & 1}


# -- one measurement ------------------------------------------------------------------------------


def delegate_facts(interp, load_log):
    """Was XNNPACK (or another delegate) applied? From the op list and the runtime's banner."""
    facts = {"applied": False, "name": None, "partitions": 0, "nodes": None}
    try:
        ops = interp._get_ops_details()
    except Exception:  # noqa: BLE001 - private API; absent in some builds
        ops = None
    if ops is not None:
        delegates = [o for o in ops if o.get("op_name") == "DELEGATE"]
        facts["partitions"] = len(delegates)
        facts["nodes"] = len(ops) - len(delegates)
        facts["applied"] = bool(delegates)
    log = load_log or ""
    if "XNNPACK" in log or "XNNPack" in log:
        if ops is None:
            facts["applied"] = True
    if facts["applied"]:
        # The runner passes no delegates of its own, so a DELEGATE node is the runtime's default
        # one: XNNPACK. (Its banner is printed only by the first interpreter of a process.)
        facts["name"] = "XNNPACK"
    return facts


def make_input(detail, job, base_dir, np, loaded=None):
    """List of ready input arrays for the model's first input."""
    spec = job.get("input") or {"kind": "random"}
    shape = tuple(int(v) for v in detail["shape"])
    dtype = np.dtype(detail["dtype"])
    if spec.get("kind") == "npy":
        arr = loaded if loaded is not None else np.load(os.path.join(base_dir, spec["path"]))
        if arr.shape == shape:
            arr = arr[None]
        if tuple(arr.shape[1:]) != shape or arr.dtype != dtype:
            raise ValueError(
                "input file {} holds {} {} but the model wants {} {}".format(spec["path"], arr.dtype, tuple(arr.shape[1:]), dtype, shape)
            )
        return [np.ascontiguousarray(a) for a in arr]
    # Python's own generator: importing numpy.random would add ~6 MB to the process's RSS.
    import random

    gen = random.Random(int(spec.get("seed", 0)))
    count = 1
    for v in shape:
        count *= v
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = spec.get("int_range") or (int(info.min), int(info.max))
        lo, hi = max(int(lo), int(info.min)), min(int(hi), int(info.max))
        if dtype.itemsize == 1:
            raw = np.frombuffer(gen.getrandbits(8 * count).to_bytes(count, "little"), dtype=np.uint8)
            if hi - lo == 255:
                return [(raw.view(dtype) if dtype == np.int8 else raw).reshape(shape).copy()]
            vals = (raw % (hi - lo + 1)).astype(np.int16) + lo
            return [vals.astype(dtype).reshape(shape)]
        raw = np.frombuffer(gen.getrandbits(32 * count).to_bytes(4 * count, "little"), dtype=np.uint32)
        vals = (raw % np.uint32(hi - lo + 1)).astype(np.int64) + lo
        return [vals.astype(dtype).reshape(shape)]
    lo, hi = (float(v) for v in (spec.get("float_range") or (0.0, 1.0)))
    raw = np.frombuffer(gen.getrandbits(32 * count).to_bytes(4 * count, "little"), dtype=np.uint32)
    return [(lo + (hi - lo) * (raw / 4294967296.0)).astype(dtype).reshape(shape)]


def measure_job(job, settings, base_dir, t_start):
    """Run one model at one thread count; return the result dict (raises on failure)."""
    if settings.get("cpu_mask"):
        os.sched_setaffinity(0, parse_cpu_mask(settings["cpu_mask"]))
    t_imp = time.perf_counter()
    import numpy as np

    name, version, Interpreter, module, Resolver = load_runtime(settings.get("runtime"))
    import_s = time.perf_counter() - t_imp

    model_path = os.path.join(base_dir, job["model"])
    pre_inputs = None
    if (job.get("input") or {}).get("kind") == "npy":
        # Loaded before the bare-RSS reading: the harness's inputs are not the model's memory.
        pre_inputs = np.load(os.path.join(base_dir, job["input"]["path"]))
    rss_bare = rss_mb()
    temp_before = temperature_c()

    kwargs = {"model_path": model_path, "num_threads": int(job["threads"])}
    if not settings.get("xnnpack", True):
        if Resolver is None:
            raise RuntimeError(f"{name} {version} cannot disable XNNPACK (no OpResolverType)")
        kwargs["experimental_op_resolver_type"] = Resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    t0 = time.perf_counter()
    with CaptureStderr() as cap:
        try:
            interp = Interpreter(**kwargs)
            interp.allocate_tensors()
        except Exception as exc:  # noqa: BLE001
            load_error = exc
        else:
            load_error = None
    load_ms = (time.perf_counter() - t0) * 1000.0
    if load_error is not None:
        native = [ln.strip() for ln in cap.text.splitlines() if "error" in ln.lower()]
        msg = str(load_error).strip().splitlines()[0] if str(load_error).strip() else repr(load_error)
        raise RuntimeError(
            "{} {} cannot load {}: {}{}".format(name, version, job.get("name") or job["model"], msg, (" [" + "; ".join(native[:3]) + "]") if native else "")
        )

    inputs = interp.get_input_details()
    outputs = interp.get_output_details()
    detail = inputs[0]
    xs = make_input(detail, job, base_dir, np, pre_inputs)
    extra = [(d, make_input(d, {"input": {"kind": "random", "seed": i + 1}}, base_dir, np)[0]) for i, d in enumerate(inputs[1:])]
    index = detail["index"]
    for d, x in extra:
        interp.set_tensor(d["index"], x)
    invoke = interp.invoke
    set_tensor = interp.set_tensor
    perf = time.perf_counter

    set_tensor(index, xs[0])
    t0 = perf()
    invoke()
    first_ms = (perf() - t0) * 1000.0
    first_result_s = time.monotonic() - t_start if t_start is not None else None

    n_inputs = len(xs)
    warm = []
    for i in range(int(settings.get("warmup", 5))):
        if n_inputs > 1:
            set_tensor(index, xs[(i + 1) % n_inputs])
        t0 = perf()
        invoke()
        warm.append((perf() - t0) * 1000.0)

    runs = max(1, int(settings.get("runs", 50)))
    min_s = float(settings.get("min_seconds") or 0.0)
    max_s = float(settings.get("max_seconds") or 0.0)
    samples = []
    start = perf()
    i = 0
    while True:
        if n_inputs > 1:
            set_tensor(index, xs[i % n_inputs])
        t0 = perf()
        invoke()
        t1 = perf()
        samples.append((t1 - t0) * 1000.0)
        i += 1
        elapsed = t1 - start
        if max_s and elapsed >= max_s:
            break
        if i >= runs and elapsed >= min_s:
            break
    timed_s = perf() - start

    out = interp.get_tensor(outputs[0]["index"])
    finite = bool(np.all(np.isfinite(out.astype(np.float64))))
    peak = peak_rss_mb()
    stats = summarize(samples)
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "id": job.get("id"),
        "name": job.get("name") or os.path.basename(job["model"]),
        "model_file": job["model"],
        "kind": "tflite",
        "threads": int(job["threads"]),
        "repeat_index": int(job.get("repeat", 0)),
        "runtime": {"name": name, "version": version, "import_s": import_s},
        "delegate": delegate_facts(interp, cap.text),
        "xnnpack_requested": bool(settings.get("xnnpack", True)),
        "input": {
            "kind": (job.get("input") or {}).get("kind", "random"),
            "samples": n_inputs,
            "dtype": np.dtype(detail["dtype"]).name,
            "shape": [int(v) for v in detail["shape"]],
            "bytes": int(sum(x.nbytes for x in xs)),
        },
        "output": {"dtype": np.dtype(outputs[0]["dtype"]).name, "shape": [int(v) for v in outputs[0]["shape"]], "finite": finite},
        "cpu_affinity": affinity(),
        "load_ms": load_ms,
        "first_ms": first_ms,
        "warmup_runs": len(warm),
        "warmup_mean_ms": sum(warm) / len(warm) if warm else None,
        "latency_ms": stats,
        "timed_seconds": timed_s,
        "throughput_ips": stats.get("throughput_ips"),
        "samples_ms": [round(v, 4) for v in samples],
        "rss_bare_mb": rss_bare,
        "rss_peak_mb": peak,
        "rss_growth_mb": (peak - rss_bare) if (peak is not None and rss_bare is not None) else None,
        "time_to_first_result_s": first_result_s,
        "temperature_c": {"before": temp_before, "after": temperature_c()},
        "load_log": cap.text.strip()[-2000:] or None,
        "error": None,
    }


# -- orchestration ----------------------------------------------------------------------------------


def emit(obj, stream=None):
    stream = stream or sys.stdout
    stream.write(RESULT_PREFIX + json.dumps(obj, separators=(",", ":")) + "\n")
    stream.flush()


def error_result(job, message, settings=None):
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "id": job.get("id"),
        "name": job.get("name") or os.path.basename(job.get("model", "?")),
        "model_file": job.get("model"),
        "kind": job.get("kind", "tflite"),
        "threads": job.get("threads"),
        "repeat_index": job.get("repeat", 0),
        "error": message,
    }


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
        raise RuntimeError(f"no result within {timeout:.0f} s (the benchmark process was stopped; raise --timeout for slow devices)") from None
    finally:
        _CHILDREN.discard(proc)
    text = out.decode("utf-8", "replace")
    for line in text.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    tail = [ln for ln in err.decode("utf-8", "replace").strip().splitlines() if ln.strip()][-3:]
    if proc.returncode and proc.returncode < 0:
        detail = (": " + " | ".join(tail)) if tail else ""
        raise RuntimeError(f"the benchmark process died with signal {-proc.returncode} (out of memory?){detail}")
    raise RuntimeError("the benchmark process exited with code {}{}".format(proc.returncode, (": " + " | ".join(tail)) if tail else ""))


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
    measure = measure or measure_job
    with open(spec_path) as fh:
        spec = json.load(fh)
    base_dir = os.path.dirname(os.path.abspath(spec_path))
    settings = spec.get("settings", {})
    results = []
    emit({"event": "start", "jobs": len(spec["jobs"]), "system": system_info(), "runner_version": RUNNER_VERSION})
    for i, job in enumerate(spec["jobs"]):
        try:
            if isolate:
                res = run_child(spec_path, i, float(settings.get("job_timeout") or 0), command)
            else:
                res = measure(job, settings, base_dir, None)
        except Exception as exc:  # noqa: BLE001 - one model failing must not lose the others
            res = error_result(job, str(exc))
        res.setdefault("id", job.get("id"))
        results.append(res)
        emit(res)
        if out_path:
            write_json(out_path, {"schema": SCHEMA + "s", "system": system_info(), "results": results})
    emit({"event": "done", "jobs": len(results), "system_after": system_info()})
    return results


def run_job(spec_path, index, t0, measure=None):
    with open(spec_path) as fh:
        spec = json.load(fh)
    job = spec["jobs"][index]
    base_dir = os.path.dirname(os.path.abspath(spec_path))
    try:
        res = (measure or measure_job)(job, spec.get("settings", {}), base_dir, t0)
    except Exception as exc:  # noqa: BLE001
        res = error_result(job, str(exc))
    emit(res)
    return 0


def write_json(path, obj):
    tmp = path + ".part"
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=1)
    os.replace(tmp, path)


def check():
    """Report Python, numpy and runtime availability as one JSON object (exit 0 when usable)."""
    info = {"python": platform.python_version(), "executable": sys.executable, "machine": platform.machine(), "ok": False}
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
        name, version, _, _, _ = load_runtime(os.environ.get("SENTILITE_RUNTIME"))
        info["runtime"] = {"name": name, "version": version}
    except Exception as exc:  # noqa: BLE001
        info["runtime"] = None
        info["problem"] = str(exc)
        info["fix"] = INSTALL_HINT
        print(json.dumps(info))
        return 3
    info["ok"] = True
    info["system"] = system_info()
    print(json.dumps(info))
    return 0


def quick_spec(args):
    """A spec from --model/--threads arguments (for running the file by hand)."""
    jobs = []
    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    for m in args.model:
        for r in range(args.repeat):
            for t in threads:
                jobs.append({"id": f"{os.path.basename(m)}-t{t}-r{r}", "model": os.path.abspath(m), "name": os.path.basename(m), "threads": t, "repeat": r})
    settings = {"runs": args.runs, "warmup": args.warmup, "min_seconds": args.min_seconds, "xnnpack": not args.no_xnnpack, "job_timeout": 600}
    fd, path = tempfile.mkstemp(prefix="sentilite-spec-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump({"jobs": jobs, "settings": settings}, fh)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
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
    p.add_argument("--job", help=argparse.SUPPRESS)
    p.add_argument("--index", type=int, help=argparse.SUPPRESS)
    p.add_argument("--t0", type=float, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.check:
        return check()
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
