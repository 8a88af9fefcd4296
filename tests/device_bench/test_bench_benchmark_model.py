"""Parsing TFLite's benchmark_model reports (real outputs) into the common result schema."""

from __future__ import annotations

import pytest
from bench_samples import (
    CHROMEOS_XNNPACK,
    DOCS_APP_LOGCAT,
    FAILED_LOAD,
    LOGCAT_PERCENTILES,
    MI11_OLD_BUILD,
    RISCV_OP_PROFILING,
)

from sentilite.device_bench import benchmark_model as bm

JOB = {"id": "m0-t4-r0", "name": "mobilenet", "model": "m0.tflite", "threads": 4}


def test_riscv_output_with_op_profiling_and_scientific_notation():
    p = bm.parse_output(RISCV_OP_PROFILING)
    assert p["init_us"] == 17187 and p["first_us"] == 3512391
    assert p["warmup_avg_us"] == pytest.approx(3.51239e6) and p["inference_avg_us"] == pytest.approx(2.95034e6)
    # the timed phase, not the op-profiling "Timings (microseconds)" lines after the summary
    assert p["timed"] == {
        "count": 50,
        "first": 2990275,
        "curr": 2913402,
        "min": 2727568,
        "max": 3189954,
        "avg": 2.95034e6,
        "std": 109798,
    }
    assert p["warmup"] == {"count": 1, "curr": 3512391}
    assert p["mem_init_mb"] == pytest.approx(4.21094) and p["mem_overall_mb"] == pytest.approx(46.0859)
    assert p["model_size_mb"] == pytest.approx(16.9008) and p["session_init_ms"] == pytest.approx(17.187)
    r = bm.to_result(p, JOB, {"xnnpack": True})
    assert r["load_ms"] == pytest.approx(17.187) and r["first_ms"] == pytest.approx(3512.391)
    assert r["latency_ms"]["mean"] == pytest.approx(2950.34) and r["latency_ms"]["std"] == pytest.approx(109.798)
    assert r["latency_ms"]["min"] == pytest.approx(2727.568) and r["latency_ms"]["count"] == 50
    assert r["warmup_runs"] == 1 and r["warmup_mean_ms"] == pytest.approx(3512.39)
    assert r["rss_growth_mb"] == pytest.approx(46.0859) and r["rss_peak_mb"] is None


def test_old_build_peak_memory_line():
    p = bm.parse_output(MI11_OLD_BUILD)
    assert p["inference_avg_us"] == 249684 and p["mem_peak_mb"] == pytest.approx(138.809) and "mem_overall_mb" not in p
    r = bm.to_result(p, JOB, {})
    assert r["rss_peak_mb"] == pytest.approx(138.809) and r["rss_growth_mb"] is None
    assert p["warmup"] is None and p["timed"]["std"] == 1442


def test_xnnpack_delegate_and_periodic_peak_memory():
    p = bm.parse_output(CHROMEOS_XNNPACK)
    assert p["delegate"] == {"applied": True, "name": "XNNPACK", "delegated_nodes": 58, "nodes": 58, "partitions": 1}
    assert p["mem_peak_mb"] == pytest.approx(93.2383)
    assert p["warmup"]["count"] == 9 and p["timed"]["count"] == 1061
    r = bm.to_result(p, JOB, {})
    assert r["rss_peak_mb"] == pytest.approx(93.2383) and r["latency_ms"]["cv"] == pytest.approx(0.982 / 56.2658)


def test_logcat_prefixes_and_percentiles():
    p = bm.parse_output(LOGCAT_PERCENTILES)
    assert p["timed"]["median"] == 141253 and p["timed"]["p95"] == 187533
    r = bm.to_result(p, JOB, {})
    lat = r["latency_ms"]
    assert lat["median"] == pytest.approx(141.253) and lat["p5"] == pytest.approx(140.545) and lat["p90"] is None
    assert r["delegate"]["delegated_nodes"] == 539 and r["delegate"]["partitions"] == 19


def test_android_app_line_from_the_tflite_docs():
    p = bm.parse_output(DOCS_APP_LOGCAT)
    assert (p["warmup_avg_us"], p["init_us"], p["inference_avg_us"]) == (91471, 4108, 80660.1)
    r = bm.to_result(p, JOB, {})
    assert r["latency_ms"]["mean"] == pytest.approx(80.6601) and r["first_ms"] is None


def test_failed_run_raises_with_the_tools_error():
    with pytest.raises(ValueError, match="Failed to mmap model m0.tflite"):
        bm.parse_output(FAILED_LOAD)
    with pytest.raises(ValueError, match="no 'Inference timings' line"):
        bm.parse_output("STARTING!\nSegmentation fault\n")


def test_command_carries_the_protocol():
    args = bm.command("m0.tflite", 2, {"runs": 30, "warmup": 3, "min_seconds": 2.5, "xnnpack": False})
    assert args[:4] == ["./benchmark_model", "--graph=m0.tflite", "--num_threads=2", "--warmup_runs=3"]
    assert "--num_runs=30" in args and "--min_secs=2.5" in args and "--use_xnnpack=false" in args
    extra = bm.input_args("serving_default_input:0", [1, 224, 224, 3], "in0.raw")
    assert extra == [
        "--input_layer=serving_default_input:0",
        "--input_layer_shape=1,224,224,3",
        "--input_layer_value_files=serving_default_input::0:in0.raw",
    ]
