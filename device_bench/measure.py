"""Measuring one .tflite model at one thread count: the benchmark protocol itself.

Ships to devices as ``sentilite_measure.py`` beside ``runner.py`` (standard library, numpy and
a LiteRT runtime only). Also used by the Keras baseline runner, so both time the same way.
"""

import os
import time

if __package__:  # imported from an installed sentilite
    from sentilite.core import probe

    from . import sustained
    from .record import BenchResult
else:
    try:  # on a device, beside runner.py
        import sentilite_probe as probe
        import sentilite_sustained as sustained
        from sentilite_record import BenchResult
    except ImportError:  # imported by runner.py run as a plain file on the host
        from sentilite.core import probe
        from sentilite.device_bench import sustained
        from sentilite.device_bench.record import BenchResult

#: (name shown to users, module holding the Interpreter class) in the order they are tried.
#: The same order as sentilite.core.runtime.DEFAULT_ORDER (a test keeps them equal).
RUNTIMES = (
    ("ai-edge-litert", "ai_edge_litert.interpreter"),
    ("tflite-runtime", "tflite_runtime.interpreter"),
    # TensorFlow's interpreter is an attribute of the lazily loaded `tensorflow` module
    # (`import tensorflow.lite` gives a package without it).
    ("tensorflow", "tensorflow"),
)


def _interpreter_module(name, module):
    """The object holding ``Interpreter`` (and ``OpResolverType``) for runtime ``name``."""
    return module.lite if name == "tensorflow" else module


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

    preference = preference or os.environ.get("SENTILITE_RUNTIME")
    names = [n for n, _ in RUNTIMES]
    if preference:
        wanted = [
            p.strip() for p in (preference.split(",") if isinstance(preference, str) else preference) if p.strip()
        ]
        order = [(n, m) for w in wanted for n, m in RUNTIMES if n == w]
        if not order:
            raise SystemExit("unknown runtime {!r}; choose from {}".format(preference, ", ".join(names)))
    else:
        order = list(RUNTIMES)
    tried = []
    for name, module_name in order:
        try:
            module = _interpreter_module(name, importlib.import_module(module_name))
            interpreter = module.Interpreter
            resolver = getattr(module, "OpResolverType", None)
            if resolver is None and name == "tensorflow":
                resolver = getattr(getattr(module, "experimental", None), "OpResolverType", None)
            top = importlib.import_module(module_name.split(".")[0])
            return name, _version_of(name, top), interpreter, module, resolver
        except Exception as exc:  # noqa: BLE001 - ImportError, or a broken wheel (NumPy ABI...)
            tried.append("{} ({}: {})".format(name, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else ""))
    raise RuntimeError("no TFLite runtime could be imported; tried " + "; ".join(tried))


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
                "input file {} holds {} {} but the model wants {} {}".format(
                    spec["path"], arr.dtype, tuple(arr.shape[1:]), dtype, shape
                )
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


def timed_invocations(run, n_inputs, settings, t_start):
    """The protocol's timing: first call, warm-up, then timed calls until runs and min_seconds.

    ``run(i)`` feeds input ``i % n_inputs`` and invokes once. Shared by the LiteRT and the
    Keras runners so both measure the same way.
    """
    perf = time.perf_counter
    t0 = perf()
    run(0)
    first_ms = (perf() - t0) * 1000.0
    first_result_s = time.monotonic() - t_start if t_start is not None else None
    warm = []
    for i in range(int(settings.get("warmup", 5))):
        t0 = perf()
        run((i + 1) % n_inputs)
        warm.append((perf() - t0) * 1000.0)
    runs = max(1, int(settings.get("runs", 50)))
    min_s = float(settings.get("min_seconds") or 0.0)
    max_s = float(settings.get("max_seconds") or 0.0)
    samples = []
    start = perf()
    i = 0
    while True:
        t0 = perf()
        run(i % n_inputs)
        t1 = perf()
        samples.append((t1 - t0) * 1000.0)
        i += 1
        if (max_s and t1 - start >= max_s) or (i >= runs and t1 - start >= min_s):
            break
    stats = probe.summarize(samples)
    return {
        "first_ms": first_ms,
        "time_to_first_result_s": first_result_s,
        "warmup_runs": len(warm),
        "warmup_mean_ms": sum(warm) / len(warm) if warm else None,
        "latency_ms": stats,
        "timed_seconds": perf() - start,
        "throughput_ips": stats.get("throughput_ips"),
        "samples_ms": [round(v, 4) for v in samples],
    }


#: kernel library -> LiteRT OpResolverType member (None: the default, XNNPACK where it applies)
KERNELS = {"xnnpack": None, "builtin": "BUILTIN_WITHOUT_DEFAULT_DELEGATES", "reference": "BUILTIN_REF"}


def kernels_of(settings):
    """The kernel library a job asks for (``--no-xnnpack`` is "builtin")."""
    kernels = settings.get("kernels") or ("xnnpack" if settings.get("xnnpack", True) else "builtin")
    if kernels not in KERNELS:
        raise RuntimeError("unknown kernels {!r}; choose from {}".format(kernels, ", ".join(KERNELS)))
    return kernels


def sustained_timing(run, n_inputs, seconds):
    """The sustained-mode loop (see sustained.py): (timing fields, sustained verdict and series)."""
    samples, series = sustained.run_sustained(run, n_inputs, seconds)
    stats = probe.summarize(samples)
    timing = {
        "first_ms": samples[0],
        "time_to_first_result_s": None,
        "warmup_runs": 0,
        "warmup_mean_ms": None,
        "latency_ms": stats,
        "timed_seconds": seconds,
        "throughput_ips": stats.get("throughput_ips"),
        "samples_ms": None,
    }
    return timing, sustained.verdict(series, seconds)


def load_interpreter(job, settings, model_path, runtime):
    """(interpreter, load ms, captured native log) or a one-line RuntimeError."""
    name, version, Interpreter, _module, Resolver = runtime
    kwargs = {"model_path": model_path, "num_threads": int(job["threads"])}
    resolver = KERNELS[kernels_of(settings)]
    if resolver is not None:
        if Resolver is None:
            raise RuntimeError(
                f"{name} {version} cannot choose its kernels (no OpResolverType): only XNNPACK/default here"
            )
        kwargs["experimental_op_resolver_type"] = getattr(Resolver, resolver)
    t0 = time.perf_counter()
    with probe.CaptureStderr() as cap:
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
            "{} {} cannot load {}: {}{}".format(
                name,
                version,
                job.get("name") or job["model"],
                msg,
                (" [" + "; ".join(native[:3]) + "]") if native else "",
            )
        )
    return interp, load_ms, cap.text


def outputs_job(job, settings, base_dir, t_start):
    """Run the model on every input of the job's ``.npy`` and return the raw outputs (on-device
    evaluation: the host scores them and compares them with its own run)."""
    import numpy as np

    runtime = load_runtime(settings.get("runtime"))
    interp, load_ms, load_log = load_interpreter(job, settings, os.path.join(base_dir, job["model"]), runtime)
    # a multi-head model: the host names the output that holds the sentiment head (files keep
    # their outputs in the converter's order, not the contract's)
    detail, out = interp.get_input_details()[0], interp.get_output_details()[int(job.get("output_index", 0))]
    xs = make_input(detail, job, base_dir, np)
    values = []
    t0 = time.perf_counter()
    for x in xs:
        interp.set_tensor(detail["index"], x)
        interp.invoke()
        values.append(interp.get_tensor(out["index"])[0].tolist())
    seconds = time.perf_counter() - t0
    scale, zero_point = out["quantization"]
    return BenchResult(
        id=job.get("id"),
        name=job.get("name") or os.path.basename(job["model"]),
        model_file=job["model"],
        kind="outputs",
        threads=int(job["threads"]),
        runtime={"name": runtime[0], "version": runtime[1], "import_s": None},
        delegate=delegate_facts(interp, load_log),
        xnnpack_requested=kernels_of(settings) == "xnnpack",
        kernels=kernels_of(settings),
        emulation=probe.emulation(),
        load_ms=load_ms,
        timed_seconds=seconds,
        input={"kind": "npy", "samples": len(xs), "dtype": np.dtype(detail["dtype"]).name},
        outputs={
            "dtype": np.dtype(out["dtype"]).name,
            "scale": float(scale),
            "zero_point": int(zero_point),
            "values": values,
        },
        rss_peak_mb=probe.peak_rss_mb(),
        load_log=load_log.strip()[-2000:] or None,
    )


def _op_timing():
    """The ``ops`` mode (``sentilite profile``), imported when asked for (it imports this module)."""
    try:
        import sentilite_optiming as mod  # on a device, beside runner.py
    except ImportError:
        from sentilite.device_bench import op_timing as mod
    return mod


def measure_job(job, settings, base_dir, t_start):
    """Run one model at one thread count; return its :class:`BenchResult` (raises on failure)."""
    settings = {**settings, **(job.get("settings") or {})}  # a job may override the spec's settings
    if job.get("mode") == "outputs":
        return outputs_job(job, settings, base_dir, t_start)
    if job.get("mode") == "ops":
        return _op_timing().ops_job(job, settings, base_dir, t_start)
    return timing_job(job, settings, base_dir, t_start)


def timing_job(job, settings, base_dir, t_start):
    """The benchmark protocol on one model at one thread count (see the module's docstring)."""
    if settings.get("cpu_mask"):
        os.sched_setaffinity(0, probe.parse_cpu_mask(settings["cpu_mask"]))
    t_imp = time.perf_counter()
    import numpy as np

    runtime = load_runtime(settings.get("runtime"))
    import_s = time.perf_counter() - t_imp
    pre_inputs = None
    if (job.get("input") or {}).get("kind") == "npy":
        # Loaded before the bare-RSS reading: the harness's inputs are not the model's memory.
        pre_inputs = np.load(os.path.join(base_dir, job["input"]["path"]))
    rss_bare = probe.rss_mb()
    temp_before = probe.temperature_c()
    interp, load_ms, load_log = load_interpreter(job, settings, os.path.join(base_dir, job["model"]), runtime)

    inputs = interp.get_input_details()
    outputs = interp.get_output_details()
    detail = inputs[0]
    dtype = np.dtype(detail["dtype"])
    if len(inputs) != 1 or dtype not in (np.float32, np.uint8, np.int8):
        raise RuntimeError(
            "{} has {} input(s) of type {}; the runner measures image classifiers with one float32, "
            "uint8 or int8 input (use TFLite's benchmark_model for other models)".format(
                job.get("name") or job["model"], len(inputs), ", ".join(np.dtype(d["dtype"]).name for d in inputs)
            )
        )
    xs = make_input(detail, job, base_dir, np, pre_inputs)
    index, set_tensor, invoke = detail["index"], interp.set_tensor, interp.invoke
    set_tensor(index, xs[0])

    def run(i):
        if len(xs) > 1:
            set_tensor(index, xs[i])
        invoke()

    sustained = None
    if float(settings.get("sustained_seconds") or 0) > 0:
        timing, sustained = sustained_timing(run, len(xs), float(settings["sustained_seconds"]))
    else:
        timing = timed_invocations(run, len(xs), settings, t_start)
    out = interp.get_tensor(outputs[0]["index"])
    peak = probe.peak_rss_mb()
    return BenchResult(
        id=job.get("id"),
        name=job.get("name") or os.path.basename(job["model"]),
        model_file=job["model"],
        kind="tflite",
        threads=int(job["threads"]),
        repeat_index=int(job.get("repeat", 0)),
        runtime={"name": runtime[0], "version": runtime[1], "import_s": import_s},
        delegate=delegate_facts(interp, load_log),
        xnnpack_requested=kernels_of(settings) == "xnnpack",
        kernels=kernels_of(settings),
        emulation=probe.emulation(),
        input={
            "kind": (job.get("input") or {}).get("kind", "random"),
            "samples": len(xs),
            "dtype": np.dtype(detail["dtype"]).name,
            "shape": [int(v) for v in detail["shape"]],
            "bytes": int(sum(x.nbytes for x in xs)),
        },
        output={
            "dtype": np.dtype(outputs[0]["dtype"]).name,
            "shape": [int(v) for v in outputs[0]["shape"]],
            "finite": bool(np.all(np.isfinite(out.astype(np.float64)))),
        },
        cpu_affinity=probe.affinity(),
        load_ms=load_ms,
        rss_bare_mb=rss_bare,
        rss_peak_mb=peak,
        temperature_c={"before": temp_before, "after": probe.temperature_c()},
        load_log=load_log.strip()[-2000:] or None,
        sustained=sustained,
        **timing,
    )
