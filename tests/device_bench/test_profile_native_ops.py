"""benchmark_model's own op profile (``--enable_op_profiling``): parsed from real outputs of two
builds, and set beside ``sentilite profile`` over adb (fake adb replaying those outputs)."""

from __future__ import annotations

import json

import fake_adb
import pytest
from bench_samples import LOGCAT_PERCENTILES, MNV1_OP_PROFILING, XNNPACK_OP_PROFILING
from test_bench_adb import fake_binary

from sentilite.device_bench.benchmark_ops import by_type, parse_op_profile
from sentilite.device_bench.options import BenchOptions
from sentilite.device_bench.profile_api import ProfileOptions, run_profile


def test_builtin_kernel_rows_name_the_files_op_index_and_their_time():
    rows = parse_op_profile(LOGCAT_PERCENTILES + MNV1_OP_PROFILING)
    assert [r["op_index"] for r in rows] == [0, 1, 2, 3, 4, 27, 28, 29, 30]  # the run order, not "Top by"
    assert rows[2]["op"] == "CONV_2D" and rows[2]["ms"] == pytest.approx(147.808) and not rows[2]["inside_delegate"]
    assert rows[-1]["op"] == "SOFTMAX" and rows[-1]["name"] == "[MobilenetV1/Predictions/Reshape_1]:30"
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)


def test_rows_inside_xnnpack_become_op_types_with_time_per_invoke():
    rows = parse_op_profile(XNNPACK_OP_PROFILING)
    assert len(rows) == 9 and rows[0]["op"] == "QUANTIZE" and rows[0]["op_index"] == 0  # a builtin row
    inside = rows[1:]
    assert all(r["inside_delegate"] and r["op_index"] is None for r in inside)  # XNNPACK's own node numbers
    dw = rows[2]
    assert dw["op"] == "DEPTHWISE_CONV_2D" and dw["times_called"] == 13 and dw["ms"] == pytest.approx(0.051 * 13)
    assert {r["op"] for r in inside} == {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD"}
    table = {t["op"]: t for t in by_type(rows, {"CONV_2D": 1.0, "DEPTHWISE_CONV_2D": 1.0})}
    assert table["CONV_2D"]["native_ms"] == pytest.approx(0.407 + 0.023 * 13 + 0.473 + 0.109 + 0.066 * 4)
    assert table["CONV_2D"]["sentilite_share"] == 0.5 and table["ADD"]["sentilite_ms"] is None


def test_output_without_the_section_has_no_rows():
    assert parse_op_profile(LOGCAT_PERCENTILES) == []


def test_adb_profile_runs_the_native_op_profile_once_per_thread_count_and_sets_it_beside(
    tiny_variants, tmp_path, monkeypatch
):
    folder = tmp_path / "fakebin"
    fake_adb.install(folder)
    op_file = folder / "op_profile.txt"
    op_file.write_text(MNV1_OP_PROFILING)
    env = fake_adb.env_for(folder, LOGCAT_PERCENTILES, FAKE_ADB_OP_PROFILE=str(op_file))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    binary = fake_binary(tmp_path / "benchmark_model")
    bench = BenchOptions(device="adb", threads=(1, 2), repeat=1, runs=3, warmup=1, benchmark_binary=binary)
    opts = ProfileOptions(bench)
    prof = run_profile(tiny_variants["float32"], opts, out_dir=tmp_path / "prof")
    shell = [c for c in fake_adb.calls(folder / "adb_calls.jsonl") if "shell" in c and "benchmark_model" in " ".join(c)]
    profiled = [" ".join(c) for c in shell if "--enable_op_profiling=true" in " ".join(c)]
    assert len(profiled) == 2 and all("--graph=m0.tflite" in p for p in profiled), profiled
    for tp in prof.by_threads:
        native = tp["native"]
        assert native["per_op"] and len(native["rows"]) == 9
        assert native["sum_ms"] == pytest.approx(sum(r["ms"] for r in native["rows"]))
        first = next(r for r in tp["ops"] if r["index"] == 0)
        assert first["native_ms"] == pytest.approx(60.957)
    md = (tmp_path / "prof" / "profile.md").read_text()
    assert "benchmark_model's own op profile" in md and "| CONV_2D | 356.861 |" in md
    on_disk = json.loads((tmp_path / "prof" / "profile.json").read_text())
    assert on_disk["profiles"][0]["native"]["rows"][0]["name"].startswith("[MobilenetV1")
    ops_csv = (tmp_path / "prof" / "ops.csv").read_text().splitlines()
    assert "native_ms" in ops_csv[0] and "60.957" in next(ln for ln in ops_csv[1:] if ln.startswith("1,0,"))
