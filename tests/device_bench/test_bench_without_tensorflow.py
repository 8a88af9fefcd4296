"""`sentilite bench` on .tflite files, and the runner it starts, never try TensorFlow.

The CLI process and every runner process it starts run under the import guard of ``tfguard``
(a ``sitecustomize`` on PYTHONPATH): an attempt to import TensorFlow, even a caught one, is
logged, and the log must stay empty.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tfguard import attempts, guarded_env


def _blocking_env(tmp_path):
    return guarded_env(tmp_path)


def _cli_guarded(tmp_path, args: list[str]) -> subprocess.CompletedProcess:
    """``sentilite ARGS`` in a fresh process under the import guard; it must exit 0."""
    code = textwrap.dedent(f"""
        from sentilite.app.cli import main
        try:
            main({args!r})
        except SystemExit as e:
            assert e.code in (0, None), e.code
        print("ok")
    """)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=_blocking_env(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    assert "ok" in proc.stdout
    return proc


def test_bench_cli_and_runner_without_tensorflow(tiny_variants, tmp_path):
    out = tmp_path / "out"
    models = [str(tiny_variants["int8"]), str(tiny_variants["float32"])]
    proc = _cli_guarded(
        tmp_path, ["bench", *models, "--threads", "1,2", "--runs", "3", "--warmup", "1", "--out", str(out)]
    )
    assert "| model_int8 | int8 | 1 |" in proc.stdout
    saved = json.loads((out / "results.json").read_text())
    assert saved["complete"] and len(saved["rows"]) == 4
    assert all(r["error"] is None and r["runtime"].startswith("ai-edge-litert") for r in saved["rows"])
    assert attempts(tmp_path) == [], attempts(tmp_path)


def test_keras_model_without_tensorflow_is_a_clear_row_error(tiny_model, tmp_path):
    _, _, keras_path = tiny_model
    code = textwrap.dedent(f"""
        from sentilite.device_bench.api import run_bench
        res = run_bench([{str(keras_path)!r}], runs=2)
        print(res.rows[0]["error"])
    """)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=_blocking_env(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        "TensorFlow is needed for the Keras baseline" in proc.stdout and "pip install 'sentilite[train]'" in proc.stdout
    )
    assert attempts(tmp_path) and set(a.split(".")[0] for a in attempts(tmp_path)) <= {
        "keras",
        "tensorflow",
    }  # the Keras runner did try


def test_runner_stays_light(tiny_variants):
    """Project target: the runner process within ~80 MB RSS and its first result within 0.6 s
    (checked loosely here on a tiny model; bench/bench_harness_overhead.py measures MobileNetV2)."""
    from sentilite.device_bench.api import run_bench

    res = run_bench([tiny_variants["int8"]], runs=3, warmup=0)
    run = res.runs[0]
    assert run["rss_peak_mb"] < 80, run["rss_peak_mb"]
    assert run["time_to_first_result_s"] < 3.0, run["time_to_first_result_s"]


def test_profile_cli_and_its_runner_without_tensorflow(tiny_variants, tmp_path):
    out = tmp_path / "profile"
    proc = _cli_guarded(
        tmp_path, ["profile", str(tiny_variants["int8"]), "--runs", "3", "--repeat", "1", "--out", str(out)]
    )
    assert "1 thread(s): whole" in proc.stdout
    assert json.loads((out / "profile.json").read_text())["profiles"][0]["ops"]
    assert attempts(tmp_path) == [], attempts(tmp_path)
