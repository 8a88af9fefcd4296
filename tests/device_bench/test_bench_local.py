"""Local benchmarks through the API and the CLI: rows, files, inputs, repeats, errors, compare."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sentilite.app.cli import cli
from sentilite.core.errors import DeviceError, InputFileError
from sentilite.device_bench.api import parse_threads, run_bench
from sentilite.device_bench.inputs import encode_images, list_images
from sentilite.device_bench.models import describe_model


def cli_run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, prog_name="sentilite")


@pytest.fixture(scope="module")
def four_variants_result(tiny_variants, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench_local")
    models = [tiny_variants[v] for v in ("float32", "float16", "dynamic-int8", "int8")]
    return run_bench(models, threads="1,2", runs=5, warmup=1, out_dir=out), out


def test_every_variant_and_thread_count_gets_a_row(four_variants_result):
    res, out = four_variants_result
    assert res.ok and res.errors == []
    assert [(r["variant"], r["threads"]) for r in res.rows] == [
        (v, t) for v in ("float32", "float16", "dynamic-int8", "int8") for t in (1, 2)
    ]
    for r in res.rows:
        assert r["size_mb"] > 0 and r["load_ms"] > 0 and r["first_ms"] > 0
        assert r["median_ms"] > 0 and r["p90_ms"] >= r["median_ms"] and r["throughput_ips"] > 0
        assert 0 < r["rss_peak_mb"] < 200 and r["rss_growth_mb"] >= 0
        assert r["runtime"].startswith("ai-edge-litert") and r["delegate"] == "XNNPACK" and r["runs"] == 5
    assert len(res.runs) == 8 and len({r["id"] for r in res.runs}) == 8
    assert res.system["cores"] >= 1 and "cpu" in res.system


def test_result_files(four_variants_result):
    res, out = four_variants_result
    saved = json.loads((out / "results.json").read_text())
    assert saved["format"] == "sentilite-bench-results" and saved["complete"] and len(saved["rows"]) == 8
    assert (
        saved["protocol"]["runs"] == 5
        and saved["protocol"]["threads"] == [1, 2]
        and "random" in saved["protocol"]["inputs"]
    )
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 8 and float(rows[0]["median_ms"]) > 0
    table = (out / "results.md").read_text()
    assert (
        "| model | variant | threads | size MB | load ms | first ms | median ms | p90 ms | img/s | peak RSS MB |"
        in table
    )
    assert (out / "latency_vs_size.png").stat().st_size > 1000


def test_images_are_encoded_on_the_host_through_the_contract(tiny_variants, synthetic_splits, tmp_path):
    from sentilite.core.classifier import TFLiteClassifier
    from sentilite.core.imageio import load_image

    folder = synthetic_splits["train"].parent
    paths = list_images(folder, 4)
    entry = describe_model(tiny_variants["int8"])
    arr = encode_images(entry, paths)
    clf = TFLiteClassifier(tiny_variants["int8"])
    assert arr.shape == (4, 1, 32, 32, 3) and arr.dtype == np.uint8
    assert np.array_equal(arr[2], clf.encode(load_image(paths[2])))
    res = run_bench([tiny_variants["int8"], tiny_variants["float32"]], runs=3, warmup=0, images=folder, max_images=4)
    assert res.errors == [] and all(r["input"]["kind"] == "npy" and r["input"]["samples"] == 4 for r in res.runs)
    assert res.runs[1]["input"]["dtype"] == "float32"


def test_repeats_give_a_confidence_interval(tiny_variants):
    res = run_bench([tiny_variants["int8"]], runs=5, warmup=1, repeat=3)
    (row,) = res.rows
    assert row["repeats"] == 3 and len(row["repeat_medians_ms"]) == 3 and row["runs"] == 15
    # The medians are each repeat's own median, and the interval is the t interval of their mean.
    own = sorted(float(np.median(r["samples_ms"])) for r in res.runs)
    assert sorted(row["repeat_medians_ms"]) == pytest.approx(own, abs=1e-4)  # samples_ms are rounded to 0.1 µs
    medians = row["repeat_medians_ms"]
    m, sd = np.mean(medians), np.std(medians, ddof=1)
    half = 4.303 * sd / np.sqrt(3)  # Student t, 95 %, 2 degrees of freedom
    assert row["median_ci95_ms"] == pytest.approx([m - half, m + half])
    assert sorted(r["repeat_index"] for r in res.runs) == [0, 1, 2]


def test_confidence_interval_of_known_values():
    from sentilite.device_bench.stats import confidence_interval

    lo, hi = confidence_interval([10.0, 12.0, 14.0])  # mean 12, sd 2, n 3
    assert (lo, hi) == pytest.approx((12 - 4.303 * 2 / 3**0.5, 12 + 4.303 * 2 / 3**0.5))
    assert confidence_interval([5.0]) is None


def test_taskset_pins_the_runner(tiny_variants):
    res = run_bench([tiny_variants["int8"]], runs=2, warmup=0, taskset="1")
    assert res.runs[0]["cpu_affinity"] == [0] and res.protocol["cpu_mask"] == "1"


def test_high_variation_is_flagged():
    from sentilite.device_bench.stats import aggregate

    steady = {"latency_ms": {"median": 10, "cv": 0.01}, "samples_ms": [10, 10.1, 9.9, 10], "kind": "tflite"}
    noisy = {"latency_ms": {"median": 10, "cv": 0.5}, "samples_ms": [5, 10, 20, 10], "kind": "tflite"}
    assert aggregate([steady])["flags"] == []
    assert aggregate([noisy])["flags"][0] == "high variation (CV 56% > 10%)"  # pooled samples 5, 10, 20, 10
    other = dict(steady, latency_ms={"median": 14, "cv": 0.01}, samples_ms=[14, 14.1, 13.9, 14])
    assert any("repeats disagree" in f for f in aggregate([steady, other])["flags"])


def test_a_model_that_cannot_load_does_not_lose_the_others(tiny_variants, tmp_path):
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(Path(tiny_variants["int8"]).read_bytes()[:64] + b"\0" * 64)
    res = run_bench([broken, tiny_variants["int8"]], runs=3, out_dir=tmp_path / "out")
    assert res.errors == [] and not res.ok
    bad, good = res.rows
    assert "cannot load broken" in bad["error"] and good["error"] is None and good["median_ms"] > 0
    result = cli_run("bench", str(broken), str(tiny_variants["int8"]), "--runs", "2", "--out", str(tmp_path / "cli"))
    assert result.exit_code != 0
    assert "1 of 2 measurements failed; first: broken x1" in result.output
    assert (tmp_path / "cli" / "results.json").is_file()


def test_argument_errors_are_clear(tiny_variants, tmp_path):
    with pytest.raises(InputFileError, match="Model file not found"):
        run_bench([tmp_path / "missing.tflite"])
    with pytest.raises(InputFileError, match="thread counts must be 1 or more"):
        parse_threads("0,2")
    with pytest.raises(DeviceError, match="Unknown device 'usb'"):
        run_bench([tiny_variants["int8"]], device="usb")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(Exception, match="not a model file"):
        run_bench([tmp_path / "notes.txt"])
    assert parse_threads("1, 2,2,4") == [1, 2, 4] and parse_threads(3) == [3]


def test_cli_bench_and_compare(tiny_variants, tmp_path):
    a = cli_run(
        "bench",
        str(tiny_variants["int8"]),
        "--threads",
        "1,2",
        "--runs",
        "3",
        "--warmup",
        "1",
        "--out",
        str(tmp_path / "a"),
    )
    assert a.exit_code == 0, a.output
    assert "| model_int8 | int8 | 2 |" in a.output
    b = cli_run("bench", str(tiny_variants["float32"]), "--runs", "3", "--json", "--out", str(tmp_path / "b"))
    assert b.exit_code == 0, b.output
    rows = json.loads(b.output[b.output.index("[") : b.output.rindex("]") + 1])
    assert rows[0]["variant"] == "float32"
    c = cli_run(
        "bench", "compare", str(tmp_path / "a" / "results.json"), str(tmp_path / "b"), "--out", str(tmp_path / "c")
    )
    assert c.exit_code == 0, c.output
    assert "| device | model |" in c.output and "[a]" in c.output and "[b]" in c.output
    merged = json.loads((tmp_path / "c" / "comparison.json").read_text())
    assert len(merged["rows"]) == 3 and (tmp_path / "c" / "latency_vs_size.png").is_file()
    bad = cli_run("bench", "compare", str(tmp_path / "nope.json"), "--out", str(tmp_path / "d"))
    assert bad.exit_code == 2 and "Results file not found" in bad.output


def test_cli_help_for_both_forms():
    run_help = cli_run("bench", "--help").output
    assert (
        "Usage: sentilite bench [OPTIONS] [MODEL]..." in run_help
        and "sentilite bench compare RESULTS.json..." in run_help
    )
    for example in (
        "--device ssh://pi@raspberrypi.local",
        "--device adb --benchmark-binary",
        "sentilite bench compare",
    ):
        assert example in run_help
    compare_help = cli_run("bench", "compare", "--help").output
    assert "Usage: sentilite bench compare [OPTIONS] RESULTS.json..." in compare_help and "Examples:" in compare_help


def test_cli_errors_are_one_line(tmp_path):
    r = cli_run("bench", str(tmp_path / "missing.tflite"), "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "Model file not found" in r.output
    r = cli_run("bench", str(tmp_path / "x.tflite"), "--device", "ssh://pi@bad host")
    assert r.exit_code == 2


def test_without_model_the_bundled_one_is_used(tiny_variants, tmp_path, monkeypatch):
    import sentilite.core.default_model as dm

    monkeypatch.setattr(dm, "DEFAULT_MODEL_PATH", tmp_path / "none.tflite")
    r = cli_run("bench", "--runs", "2", "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "no bundled default model" in r.output
    monkeypatch.setattr(dm, "DEFAULT_MODEL_PATH", Path(tiny_variants["int8"]))
    r = cli_run("bench", "--runs", "2", "--out", str(tmp_path / "o"))
    assert r.exit_code == 0 and "no MODEL given: benchmarking the bundled default model" in r.output


@pytest.mark.slow
def test_keras_baseline_uses_the_same_protocol(tiny_model, tiny_variants, tmp_path):
    _, _, keras_path = tiny_model
    res = run_bench([keras_path, tiny_variants["float32"]], runs=3, warmup=1, out_dir=tmp_path)
    assert res.errors == [], res.errors
    keras_row, tfl_row = res.rows
    assert keras_row["variant"] == "keras" and keras_row["runtime"].startswith("keras ")
    assert keras_row["median_ms"] > 0 and keras_row["rss_peak_mb"] > tfl_row["rss_peak_mb"]
    assert keras_row["load_ms"] > 0 and keras_row["runs"] == 3 and keras_row["delegate"] == "none"
    with pytest.raises(InputFileError, match="Keras baseline runs locally only"):
        run_bench([keras_path], device="ssh://pi@raspberrypi.local")


def test_interrupt_keeps_what_was_measured_and_leaves_no_process(tiny_variants, tmp_path):
    import psutil

    def stop(_result):
        time.sleep(0.4)  # the runner has started the next measurement (>= 1 s) by now
        raise KeyboardInterrupt

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    t0 = time.time()
    with pytest.raises(KeyboardInterrupt):
        run_bench(
            [tiny_variants["int8"], tiny_variants["float32"]], runs=2, min_seconds=1.0, out_dir=tmp_path, on_result=stop
        )
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["complete"] is False and len(saved["runs"]) == 1 and "interrupted" in saved["errors"][0]
    time.sleep(0.2)
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert left == []
    jobs = []
    for p in psutil.process_iter(["cmdline", "create_time"]):
        cmd = p.info["cmdline"] or []
        if (
            any(c.endswith("device_bench/runner.py") for c in cmd)
            and "--job" in cmd
            and p.info["create_time"] >= t0 - 1
        ):
            jobs.append(p)
    assert jobs == [], "a measurement process outlived the interrupt"


def test_a_cpu_mask_that_selects_no_cpu_is_refused(tiny_variants):
    from sentilite.core.errors import DeviceError

    with pytest.raises(DeviceError, match="selects no CPU .*hexadecimal: 1 = CPU 0"):
        run_bench([tiny_variants["int8"]], runs=2, taskset="0")


@pytest.mark.parametrize("kernels", ["builtin", "reference"])
def test_the_kernel_library_is_a_choice_and_recorded(tiny_variants, kernels):
    res = run_bench([tiny_variants["int8"]], runs=2, warmup=0, kernels=kernels)
    run = res.runs[0]
    assert run["error"] is None and run["kernels"] == kernels and run["delegate"]["applied"] is False
    assert res.rows[0]["kernels"] == kernels and res.protocol["kernels"] == kernels
