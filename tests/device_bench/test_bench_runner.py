"""The self-contained device runner: statistics, inputs, delegate detection, standalone use."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sentilite.core import probe
from sentilite.device_bench import measure as M
from sentilite.device_bench import runner as R

RUNNER = Path(R.__file__)


def test_summary_statistics_match_numpy():
    rng = np.random.default_rng(0)
    samples = list(rng.gamma(4.0, 2.0, size=101))
    s = probe.summarize(samples)
    assert s["count"] == 101 and s["min"] == min(samples) and s["max"] == max(samples)
    for key, q in (("median", 50), ("p90", 90), ("p99", 99)):
        assert s[key] == pytest.approx(np.percentile(samples, q))
    assert s["mean"] == pytest.approx(np.mean(samples)) and s["std"] == pytest.approx(np.std(samples, ddof=1))
    assert s["cv"] == pytest.approx(s["std"] / s["mean"]) and s["throughput_ips"] == pytest.approx(1000 / s["mean"])
    assert probe.summarize([]) == {"count": 0} and probe.summarize([2.0])["std"] == 0.0


def test_cpu_masks():
    assert probe.parse_cpu_mask("f0") == {4, 5, 6, 7}
    assert probe.parse_cpu_mask("0x3") == {0, 1}
    assert probe.parse_cpu_mask("4-5,7") == {4, 5, 7}


@pytest.mark.parametrize(
    "dtype, spec, lo, hi",
    [
        (np.uint8, {"kind": "random"}, 0, 255),
        (np.int8, {"kind": "random"}, -128, 127),
        (np.float32, {"kind": "random", "float_range": [-1.0, 1.0]}, -1.0, 1.0),
        (np.float32, {"kind": "random", "float_range": [-2.1179, 2.64]}, -2.1179, 2.64),
    ],
)
def test_random_inputs_fill_the_inputs_range(dtype, spec, lo, hi):
    detail = {"shape": [1, 32, 32, 3], "dtype": dtype}
    (x,) = M.make_input(detail, {"input": spec}, "/", np)
    assert x.shape == (1, 32, 32, 3) and x.dtype == dtype
    assert x.min() >= lo and x.max() <= hi
    span = hi - lo
    assert x.min() < lo + 0.05 * span and x.max() > hi - 0.05 * span  # really spread over the range
    (y,) = M.make_input(detail, {"input": spec}, "/", np)
    assert np.array_equal(x, y)  # seeded: the same inputs every time


def test_npy_inputs_are_checked_against_the_model(tmp_path):
    np.save(tmp_path / "in.npy", np.zeros((3, 1, 8, 8, 3), np.uint8))
    detail = {"shape": [1, 8, 8, 3], "dtype": np.uint8}
    xs = M.make_input(detail, {"input": {"kind": "npy", "path": "in.npy"}}, str(tmp_path), np)
    assert len(xs) == 3 and xs[0].shape == (1, 8, 8, 3)
    with pytest.raises(ValueError, match="the model wants"):
        M.make_input(
            {"shape": [1, 8, 8, 3], "dtype": np.float32},
            {"input": {"kind": "npy", "path": "in.npy"}},
            str(tmp_path),
            np,
        )


def test_measure_job_reports_the_protocol(tiny_variants):
    job = {"id": "m0-t1-r0", "model": str(tiny_variants["float32"]), "threads": 1}
    r = M.measure_job(job, {"runs": 7, "warmup": 2}, "/", time.monotonic()).to_dict()
    assert r["error"] is None and r["latency_ms"]["count"] == 7 and len(r["samples_ms"]) == 7
    assert r["warmup_runs"] == 2 and r["load_ms"] > 0 and r["first_ms"] > 0
    assert r["runtime"]["name"] == "ai-edge-litert" and r["delegate"]["applied"] and r["delegate"]["name"] == "XNNPACK"
    assert r["rss_peak_mb"] >= r["rss_bare_mb"] > 0 and r["rss_growth_mb"] >= 0
    assert r["input"]["kind"] == "random" and r["output"]["finite"]


def test_min_seconds_and_no_xnnpack(tiny_variants):
    job = {"model": str(tiny_variants["int8"]), "threads": 1}
    t0 = time.perf_counter()
    r = M.measure_job(job, {"runs": 1, "warmup": 0, "min_seconds": 0.3, "xnnpack": False}, "/", None).to_dict()
    assert time.perf_counter() - t0 >= 0.3 and r["timed_seconds"] >= 0.3 and r["latency_ms"]["count"] > 1
    assert r["delegate"]["applied"] is False and r["xnnpack_requested"] is False


def test_a_broken_model_is_an_error_result(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 100)
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "settings": {"runs": 2, "job_timeout": 60},
                "jobs": [{"id": "m0-t1-r0", "model": "bad.tflite", "threads": 1}],
            }
        )
    )
    proc = subprocess.run(
        [sys.executable, str(RUNNER), "--spec", str(spec)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1
    lines = [
        json.loads(ln[len(R.RESULT_PREFIX) :]) for ln in proc.stdout.splitlines() if ln.startswith(R.RESULT_PREFIX)
    ]
    (res,) = [ln for ln in lines if "event" not in ln]
    assert "cannot load bad.tflite" in res["error"]


def test_check_reports_the_runtime():
    proc = subprocess.run([sys.executable, str(RUNNER), "--check"], capture_output=True, text=True, timeout=120)
    info = json.loads(proc.stdout)
    assert (
        proc.returncode == 0
        and info["ok"]
        and info["runtime"]["name"] == "ai-edge-litert"
        and info["system"]["cores"] >= 1
    )


def test_runner_file_alone_runs_without_sentilite_or_tensorflow(tiny_variants, tmp_path):
    """What a Raspberry Pi gets: the runner bundle, numpy and LiteRT; no sentilite, no TensorFlow."""
    from sentilite.device_bench.transports.base import RUNNER_BUNDLE

    alone = tmp_path / "pi"
    alone.mkdir()
    for name, src in RUNNER_BUNDLE.items():
        shutil.copy(src, alone / name)
    shutil.copy(tiny_variants["int8"], alone / "model.tflite")
    block = tmp_path / "block"
    block.mkdir()
    (block / "sitecustomize.py").write_text(
        "import sys\nfor n in ('tensorflow', 'keras', 'sentilite', 'device_bench', 'cv2', 'PIL'):\n    "
        "sys.modules[n] = None\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(block)}
    proc = subprocess.run(
        [sys.executable, "runner.py", "--model", "model.tflite", "--threads", "1,2", "--runs", "3", "--out", "r.json"],
        cwd=alone,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    saved = json.loads((alone / "r.json").read_text())
    assert [r["threads"] for r in saved["results"]] == [1, 2]
    assert all(r["error"] is None and r["latency_ms"]["count"] == 3 for r in saved["results"])
