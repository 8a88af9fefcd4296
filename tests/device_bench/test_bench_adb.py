"""The adb transport against a fake ``adb`` (first on PATH) replaying real benchmark_model output."""

from __future__ import annotations

import json
from pathlib import Path

import fake_adb
import pytest
from bench_samples import LOGCAT_PERCENTILES, MI11_OLD_BUILD

from sentilite.core.errors import DeviceError, InputFileError
from sentilite.device_bench.api import run_bench


def fake_binary(path: Path, machine: int = 183) -> Path:
    """A file with an ELF header for ``machine`` (183 = aarch64) standing in for benchmark_model."""
    head = bytearray(64)
    head[:4] = b"\x7fELF"
    head[4], head[5] = 2, 1  # 64-bit, little endian
    head[18:20] = machine.to_bytes(2, "little")
    path.write_bytes(bytes(head))
    return path


@pytest.fixture
def adb(tmp_path, monkeypatch):
    folder = tmp_path / "fakebin"
    fake_adb.install(folder)

    def setup(output: str = LOGCAT_PERCENTILES, **extra: str):
        for k, v in fake_adb.env_for(folder, output, **extra).items():
            monkeypatch.setenv(k, v)
        return folder

    setup()
    return setup


def calls(folder: Path) -> list[list[str]]:
    return fake_adb.calls(folder / "adb_calls.jsonl")


def shell_lines(folder: Path) -> list[str]:
    return [" ".join(c[c.index("shell") + 1 :]) for c in calls(folder) if "shell" in c]


def test_benchmark_model_over_adb_parses_into_the_common_schema(adb, tiny_variants, tmp_path):
    folder = adb()
    binary = fake_binary(tmp_path / "benchmark_model")
    res = run_bench(
        [tiny_variants["int8"], tiny_variants["float32"]],
        device="adb:R58M12345",
        threads=(1, 2),
        runs=7,
        warmup=2,
        benchmark_binary=binary,
        taskset="f0",
        out_dir=tmp_path / "out",
    )
    assert res.errors == [], res.errors
    assert len(res.rows) == 4 and all(r["error"] is None for r in res.rows)
    r = res.rows[0]
    assert r["device"] == "adb:R58M12345" and r["runtime"].startswith("benchmark_model")
    assert r["median_ms"] == pytest.approx(141.253) and r["mean_ms"] == pytest.approx(145.528)
    assert r["load_ms"] == pytest.approx(92.318) and r["first_ms"] == pytest.approx(187.533)
    assert r["throughput_ips"] == pytest.approx(1000 / 145.528)
    assert r["rss_growth_mb"] == pytest.approx(73.4102)
    assert r["delegate"] == "XNNPACK (539/548 nodes)"
    assert (
        res.system["board"] == "Google Pixel 7"
        and res.system["machine"] == "arm64-v8a"
        and res.system["temperature_c"] == 38.5
    )
    every = calls(folder)
    assert all(c[:2] == ["-s", "R58M12345"] for c in every if c[0] != "devices")
    pushes = [c for c in every if "push" in c]
    remote_dir = pushes[0][-1].rsplit("/", 1)[0]
    assert remote_dir.startswith("/data/local/tmp/sentilite-bench-")
    assert [p[-1].rsplit("/", 1)[1] for p in pushes] == ["benchmark_model", "m0.tflite", "m1.tflite"]
    lines = shell_lines(folder)
    assert any(line.startswith("chmod 755 ") and line.endswith("/benchmark_model") for line in lines)
    runs = [line for line in lines if "./benchmark_model" in line]
    assert len(runs) == 4
    assert runs[0].startswith(
        f"cd {remote_dir} && taskset f0 ./benchmark_model --graph=m0.tflite --num_threads=1 --warmup_runs=2"
    )
    assert "--num_runs=7" in runs[0] and "--report_peak_memory_footprint=true" in runs[0]
    assert "--num_threads=2" in runs[1] and "--graph=m1.tflite" in runs[2]
    assert lines[-1] == f"rm -rf {remote_dir}"
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["complete"] and saved["runs"][0]["command"].endswith("--report_peak_memory_footprint=true")


def test_older_benchmark_model_output(adb, tiny_variants, tmp_path):
    adb(MI11_OLD_BUILD)
    res = run_bench([tiny_variants["int8"]], device="adb", benchmark_binary=fake_binary(tmp_path / "bm"))
    (r,) = res.rows
    assert r["device"] == "adb:R58M12345"  # the only device was picked
    assert r["mean_ms"] == pytest.approx(249.684) and r["median_ms"] is None and r["min_ms"] == pytest.approx(247.067)
    # That build's "Peak memory footprint" is the process's peak, not growth over the bare tool.
    assert r["rss_peak_mb"] == pytest.approx(138.809) and r["rss_growth_mb"] is None


def test_wrong_serial_lists_the_connected_devices(adb, tiny_variants, tmp_path):
    folder = adb()
    res = run_bench([tiny_variants["int8"]], device="adb:NOPE123", benchmark_binary=fake_binary(tmp_path / "bm"))
    assert "No adb device with serial 'NOPE123'; connected: R58M12345 (device)" in res.errors[0]
    assert not [c for c in calls(folder) if "push" in c]


def test_missing_or_absent_benchmark_binary(adb, tiny_variants, tmp_path):
    folder = adb()
    with pytest.raises(InputFileError, match="--benchmark-binary .*does not exist"):
        run_bench([tiny_variants["int8"]], device="adb", benchmark_binary=tmp_path / "nope")
    with pytest.raises(DeviceError, match="pass --benchmark-binary"):
        run_bench([tiny_variants["int8"]], device="adb")
    assert calls(folder) == []


def test_binary_for_the_wrong_abi(adb, tiny_variants, tmp_path):
    adb(FAKE_ADB_ABI="x86_64")
    res = run_bench([tiny_variants["int8"]], device="adb", benchmark_binary=fake_binary(tmp_path / "bm", 183))
    assert "built for arm64 (aarch64), but adb:R58M12345 is x86_64" in res.errors[0]


def test_not_enough_disk_space_on_the_phone(adb, tiny_variants, tmp_path):
    folder = adb(FAKE_ADB_FREE_KB="100")
    res = run_bench([tiny_variants["int8"]], device="adb", benchmark_binary=fake_binary(tmp_path / "bm"))
    assert "Not enough disk space on adb:R58M12345: 0.1 MB free" in res.errors[0]
    assert not [c for c in calls(folder) if "push" in c]
    assert shell_lines(folder)[-1].startswith("rm -rf /data/local/tmp/sentilite-bench-")


def test_push_failing_for_space_is_clear(adb, tiny_variants, tmp_path):
    folder = adb(FAKE_ADB_PUSH_FAIL="1")
    res = run_bench([tiny_variants["int8"]], device="adb", benchmark_binary=fake_binary(tmp_path / "bm"))
    assert "Not enough disk space on adb:R58M12345 to push" in res.errors[0]
    assert shell_lines(folder)[-1].startswith("rm -rf ")


def test_model_the_phone_cannot_load_is_a_row_error(adb, tiny_variants, tmp_path):
    adb(FAKE_ADB_FAIL_GRAPH="m0.tflite")
    res = run_bench(
        [tiny_variants["int8"], tiny_variants["float32"]], device="adb", benchmark_binary=fake_binary(tmp_path / "bm")
    )
    assert res.errors == []
    bad, good = res.rows
    assert "Failed to mmap model m0.tflite" in bad["error"] and good["error"] is None


def test_device_lost_mid_run_keeps_earlier_results(adb, tiny_variants, tmp_path):
    adb(FAKE_ADB_GONE_AFTER="1")
    res = run_bench(
        [tiny_variants["int8"], tiny_variants["float32"]],
        device="adb",
        benchmark_binary=fake_binary(tmp_path / "bm"),
        out_dir=tmp_path / "out",
    )
    assert len(res.errors) == 1 and "disconnected during the run" in res.errors[0]
    assert res.rows[0]["error"] is None and res.rows[0]["mean_ms"] == pytest.approx(145.528)
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["complete"] is False and saved["rows"][0]["median_ms"] == pytest.approx(141.253)


@pytest.mark.parametrize(
    "devices, match",
    [
        ("R58M12345:unauthorized", "has not authorised this computer"),
        ("A1:device,B2:device", "adb sees 2 usable devices"),
        ("", "adb sees 0 usable devices"),
    ],
)
def test_device_selection_errors(adb, tiny_variants, tmp_path, devices, match):
    adb(FAKE_ADB_DEVICES=devices)
    res = run_bench([tiny_variants["int8"]], device="adb", benchmark_binary=fake_binary(tmp_path / "bm"))
    assert match in res.errors[0]


def test_images_are_pushed_as_raw_model_input(adb, tiny_variants, synthetic_splits, tmp_path):
    folder = adb()
    images = synthetic_splits["train"].parent
    res = run_bench(
        [tiny_variants["int8"]],
        device="adb",
        benchmark_binary=fake_binary(tmp_path / "bm"),
        images=images,
        max_images=3,
    )
    assert res.errors == []
    pushes = [c[-1].rsplit("/", 1)[1] for c in calls(folder) if "push" in c]
    assert "in0.raw" in pushes
    run = next(line for line in shell_lines(folder) if "./benchmark_model" in line)
    assert "--input_layer_shape=1,32,32,3" in run and "--input_layer_value_files=" in run and ":in0.raw" in run


def test_adb_does_not_run_keras_and_refuses_bad_masks(tiny_model, tiny_variants, tmp_path):
    with pytest.raises(InputFileError, match="Keras baseline runs locally only"):
        run_bench([tiny_model[2]], device="adb", benchmark_binary=fake_binary(tmp_path / "bm"))
    with pytest.raises(DeviceError, match="hexadecimal CPU mask"):
        run_bench(
            [tiny_variants["int8"]], device="adb", benchmark_binary=fake_binary(tmp_path / "bm"), taskset="f0; reboot"
        )


def test_python_runner_on_a_device_with_python(adb, tiny_variants, tmp_path):
    """Where the device has Python, the same runner as over SSH is pushed and run through adb."""
    import sys

    device_root = tmp_path / "device"
    folder = adb(FAKE_ADB_ROOT=str(device_root))
    res = run_bench(
        [tiny_variants["int8"]], device="adb", remote_python=sys.executable, threads=(1, 2), runs=3, warmup=1
    )
    assert res.errors == [], res.errors
    assert [r["threads"] for r in res.rows] == [1, 2] and all(r["error"] is None and r["p90_ms"] for r in res.rows)
    assert res.rows[0]["runtime"].startswith("ai-edge-litert")
    pushed = [c[-1].rsplit("/", 1)[1] for c in calls(folder) if "push" in c]
    bundle = [
        "runner.py",
        "sentilite_measure.py",
        "sentilite_record.py",
        "sentilite_sustained.py",
        "sentilite_optiming.py",
        "sentilite_probe.py",
    ]
    assert pushed[:7] == bundle + ["spec.json"] and "m0.tflite" in pushed
    assert not list((device_root / "data" / "local" / "tmp").glob("sentilite-bench-*"))  # removed afterwards
    res = run_bench([tiny_variants["int8"]], device="adb", remote_python="/nonexistent/python3")
    assert "has no `/nonexistent/python3`" in res.errors[0]


def test_profile_over_adb_runs_the_ops_with_the_device_python(adb, tiny_variants, tmp_path):
    import sys

    from sentilite.device_bench.options import BenchOptions
    from sentilite.device_bench.profile_api import ProfileOptions, run_profile

    adb(FAKE_ADB_ROOT=str(tmp_path / "device"))
    opts = ProfileOptions(BenchOptions(device="adb", remote_python=sys.executable, runs=3, warmup=1, repeat=1))
    prof = run_profile(tiny_variants["int8"], opts, out_dir=tmp_path / "p")
    assert prof.errors == [] and prof.device.startswith("adb")
    assert all(r["ms"] is not None for r in prof.by_threads[0]["ops"])


def test_profile_over_adb_with_benchmark_model_times_each_op_model_natively(adb, tiny_variants, tmp_path):
    from sentilite.device_bench.op_split import split_ops
    from sentilite.device_bench.options import BenchOptions
    from sentilite.device_bench.profile_api import ProfileOptions, run_profile

    folder = adb()
    binary = fake_binary(tmp_path / "benchmark_model")
    opts = ProfileOptions(BenchOptions(device="adb", benchmark_binary=binary, runs=3, warmup=1, repeat=2))
    prof = run_profile(tiny_variants["int8"], opts, out_dir=tmp_path / "p")
    assert prof.errors == [] and prof.device.startswith("adb")
    units = [u for u in split_ops(tiny_variants["int8"].read_bytes()) if u.data is not None]
    graphs = [ln for ln in shell_lines(folder) if "benchmark_model" in ln and "--graph=" in ln]
    # whole + overhead + every op model, and the whole model with --enable_op_profiling, in each repeat
    assert len(graphs) == 2 * (2 + len(units) + 1)
    assert sum("--enable_op_profiling=true" in g for g in graphs) == 2
    rows = prof.by_threads[0]["ops"]
    assert all(r["raw_ms"] == pytest.approx(141.253) for r in rows if r.get("raw_ms") is not None)
    assert {r["kernels"] for r in rows if r.get("raw_ms") is not None} == {"XNNPACK"}  # "Replacing ..." parsed
    assert prof.by_threads[0]["faithfulness"]["whole_ms"] == pytest.approx(141.253)


def test_a_model_path_starting_with_a_dash_is_not_read_as_an_adb_option(adb, tiny_variants, tmp_path, monkeypatch):
    folder = adb()
    (tmp_path / "-m.tflite").write_bytes(tiny_variants["int8"].read_bytes())
    monkeypatch.chdir(tmp_path)
    res = run_bench(["-m.tflite"], device="adb", benchmark_binary=fake_binary(tmp_path / "bm"))
    assert res.errors == [] and res.rows[0]["error"] is None
    pushed = [c[c.index("push") + 1] for c in calls(folder) if "push" in c]
    assert pushed and all(p.startswith("/") for p in pushed), pushed
