"""sentilite profile: one-op models with the real weights, timed on a device, adding up to the whole.

The cut is checked against the whole graph itself: each one-op model, fed the whole model's own
intermediate tensors, must write the very tensor the whole model wrote (builtin kernels, exact).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from sentilite.core.default_model import DEFAULT_MODEL_PATH
from sentilite.core.errors import InputFileError
from sentilite.device_bench.cpu_peak import peak_from_isa
from sentilite.device_bench.op_split import split_ops
from sentilite.device_bench.options import BenchOptions
from sentilite.device_bench.profile_api import ProfileOptions, run_profile


def _whole_tensors(path, x):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(
        model_path=str(path),
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return {d["name"]: it.get_tensor(d["index"]) for d in it.get_tensor_details() if d["name"]}


@pytest.mark.parametrize("variant", ["float32", "float16", "dynamic-int8", "int8"])
def test_each_one_op_model_writes_what_the_whole_graph_wrote(tiny_variants, variant):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    path = tiny_variants[variant]
    probe = Interpreter(model_path=str(path))
    d = probe.get_input_details()[0]
    x = np.random.default_rng(0).uniform(0, 255 if d["dtype"] == np.uint8 else 1, d["shape"]).astype(d["dtype"])
    whole = _whole_tensors(path, x)
    units = split_ops(path.read_bytes(), fuse_pads=False)
    assert len(units) >= 4 and all(u.data is not None for u in units)
    # what a one-op model may be fed: the model's input and what earlier ops wrote, never a weight
    activations = {probe.get_input_details()[0]["name"], *(n for u in units for n in u.outputs)}
    if variant == "float16":  # its fp16 weights reach each op through a DEQUANTIZE held with it
        assert any(len(u.held) > 1 for u in units)
    for u in units:
        one = Interpreter(
            model_content=u.data, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        )
        one.allocate_tensors()
        for det in one.get_input_details():
            assert det["name"] in activations, f"#{u.index} {u.op} lost a constant: {det['name']}"
            one.set_tensor(det["index"], whole[det["name"]])
        one.invoke()
        out = one.get_output_details()[0]
        assert out["name"] == u.outputs[0]
        np.testing.assert_array_equal(one.get_tensor(out["index"]), whole[u.outputs[0]], err_msg=f"#{u.index} {u.op}")


def test_mobilenet_v2_has_its_known_macs_layers_and_fused_pads():
    units = split_ops(DEFAULT_MODEL_PATH.read_bytes())
    # MobileNetV2 1.0 at 224 px: 300 M multiply-accumulates (Sandler et al. 2018), + the in-graph normalisation
    assert 295e6 < sum(u.macs for u in units) < 305e6
    by_layer = {u.layer: u for u in units}
    assert by_layer["stem_conv"].op == "CONV_2D" and by_layer["b1d_dw"].op == "DEPTHWISE_CONV_2D"
    pads = [u for u in units if u.op == "PAD"]
    assert len(pads) == 5 and all(p.data is None and p.absorbed_into is not None for p in pads)
    convs = {u.index: u for u in units}
    assert all(convs[p.absorbed_into].held == (p.index, p.absorbed_into) for p in pads)
    unfused = split_ops(DEFAULT_MODEL_PATH.read_bytes(), fuse_pads=False)
    assert all(u.data is not None for u in unfused)


@pytest.fixture(scope="module")
def local_profile(tiny_variants, tmp_path_factory):
    out = tmp_path_factory.mktemp("profile")
    opts = ProfileOptions(BenchOptions(threads="1,2", runs=5, warmup=1, repeat=2), top=5)
    return run_profile(tiny_variants["int8"], opts, out_dir=out), out


def test_local_profile_times_every_op_and_adds_up(local_profile, tiny_variants):
    prof, out = local_profile
    assert prof.errors == [] and [tp["threads"] for tp in prof.by_threads] == [1, 2]
    n_ops = len(split_ops(tiny_variants["int8"].read_bytes()))
    for tp in prof.by_threads:
        rows = tp["ops"]
        assert len(rows) == n_ops and all(r["ms"] is not None and r["ms"] >= 0 for r in rows), rows
        assert abs(sum(r["share"] for r in rows) - 1) < 1e-6
        f = tp["faithfulness"]
        assert f["whole_ms"] > 0 and f["sum_ms"] > 0 and f["top10_same"] is not None and f["explanation"]
        assert f["sum_raw_ms"] >= f["sum_ms"]
        assert {r["kernels"] for r in rows} <= {"XNNPACK", "builtin"}
        assert any(r["op"] == "CONV_2D" and r["kernels"] == "XNNPACK" and r["macs"] > 0 for r in rows)
    # the gap's denominator is timed over a window that one burst of load cannot fill, even at runs=5
    wholes = [r for r in prof.runs if str(r.get("id", "")).startswith("whole-")]
    assert len(wholes) == 4 and all(r["timed_seconds"] >= 1.0 for r in wholes), [r["timed_seconds"] for r in wholes]
    saved = json.loads((out / "profile.json").read_text())
    assert saved["format"] == "sentilite-profile" and len(saved["profiles"]) == 2
    with open(out / "ops.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 2 * n_ops
    md = (out / "profile.md").read_text()
    assert "## 1 thread(s)" in md and "### By op type" in md and "CONV_2D" in md and "## Threads: 1 against 2" in md
    overlay = json.loads((out / "latency.nodedata.json").read_text())
    assert set(overlay["results"]) == {str(r["index"]) for r in prof.by_threads[0]["ops"]}
    assert (out / "top_ops.png").stat().st_size > 5000


def test_builtin_kernels_run_every_op_and_xnnpack_names_what_it_left(tiny_variants, tmp_path):
    opts = ProfileOptions(BenchOptions(runs=3, warmup=1, repeat=1, kernels="builtin", xnnpack=False))
    prof = run_profile(tiny_variants["int8"], opts, out_dir=tmp_path)
    tp = prof.by_threads[0]
    assert {r["kernels"] for r in tp["ops"]} == {"builtin"} and tp["on_builtin"] == []
    from sentilite.device_bench import ProfileOptions as PublicOptions
    from sentilite.device_bench import profile  # the part's public verb

    xnn = profile(tiny_variants["int8"], PublicOptions(BenchOptions(runs=3, warmup=1, repeat=1)))
    rows = xnn.by_threads[0]["ops"]
    left = sorted({r["op"] for r in rows if r["kernels"] == "builtin"})
    assert xnn.by_threads[0]["on_builtin"] == left


@pytest.mark.parametrize("variant", ["float32", "float16", "dynamic-int8"])
def test_every_variant_convert_writes_profiles_with_every_op_timed(tiny_variants, variant):
    prof = run_profile(tiny_variants[variant], ProfileOptions(BenchOptions(runs=3, warmup=1, repeat=1)))
    rows = prof.by_threads[0]["ops"]
    assert prof.errors == [] and rows and all(r["ms"] is not None and not r.get("error") for r in rows), rows
    if variant == "float16":  # the fp16 weights' DEQUANTIZEs are timed with the ops that read them
        assert not any(r["op"] == "DEQUANTIZE" for r in rows) and any(len(r["held_ops"]) > 1 for r in rows)


def test_bad_inputs_are_clear_errors(tmp_path, tiny_model):
    with pytest.raises(InputFileError, match="does not exist"):
        run_profile(tmp_path / "missing.tflite")
    with pytest.raises(InputFileError, match="convert it first"):
        run_profile(tiny_model[2])
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer" * 10)
    with pytest.raises(InputFileError, match="flatbuffer"):
        run_profile(junk)
    with pytest.raises(InputFileError, match="benchmark-binary"):
        run_profile(DEFAULT_MODEL_PATH, ProfileOptions(BenchOptions(device="adb")))


def test_cli_prints_op_types_and_writes_the_report(tiny_variants, tmp_path):
    cmd = [sys.executable, "-m", "sentilite", "profile", str(tiny_variants["float32"]), "--runs", "3", "--repeat", "1"]
    proc = subprocess.run([*cmd, "--out", str(tmp_path / "p")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "1 thread(s): whole" in proc.stdout and "CONV_2D" in proc.stdout
    assert (tmp_path / "p" / "profile.md").is_file() and "latency.nodedata.json" in proc.stderr


@pytest.mark.parametrize(
    "isa, expect",
    [
        ({"vendor": "AuthenticAMD", "flags": ["avx2", "fma", "sse4_1"], "mhz": 2000.0}, (16, 32)),  # Zen 3
        ({"vendor": "AuthenticAMD", "flags": ["avx512f", "avx512_vnni", "avx2"], "mhz": 2000.0}, (16, 64)),  # Zen 4
        ({"vendor": "GenuineIntel", "flags": ["avx512f", "avx512_vnni", "avx2"], "mhz": 2000.0}, (32, 128)),
        ({"vendor": "0x41", "flags": ["asimd"], "mhz": 1800.0}, (8, 16)),  # Cortex-A72 (Raspberry Pi 4)
        ({"vendor": "0x41", "flags": ["asimd", "asimddp"], "mhz": 2400.0}, (8, 32)),  # Cortex-A76 (Pi 5)
    ],
)
def test_nominal_peak_follows_the_isa(isa, expect):
    peak = peak_from_isa(isa)
    assert (peak.float32_per_cycle, peak.int8_per_cycle) == expect
    assert peak.macs_per_s("int8", threads=2) == 2 * expect[1] * isa["mhz"] * 1e6
    assert peak_from_isa({**isa, "mhz": None}) is None


def test_top10_stability_counts_swaps_among_identical_layers_as_ties_only():
    from sentilite.device_bench.profile_math import _top10_same

    # twelve ops; in the second repeat op 9 (the first's 10th) drops to 11th behind op 10, a near-equal twin
    rows = [{"index": i, "runs_ms": [1.0 - 0.05 * i, 1.0 - 0.05 * i]} for i in range(12)]
    rows[9]["runs_ms"] = [0.55, 0.5490]
    rows[10]["runs_ms"] = [0.50, 0.5495]
    assert _top10_same(rows) == (9, 10)
    rows[9]["runs_ms"] = [0.55, 0.30]  # a real change, not a tie
    assert _top10_same(rows) == (9, 9)
    assert _top10_same([{"index": 0, "runs_ms": [1.0]}]) == (None, None)


def test_benchmark_model_builds_without_a_median_give_their_mean_for_the_whole_model_and_the_ops():
    from sentilite.device_bench.profile_native import regroup
    from sentilite.device_bench.transports.base import JobKey

    old_build = {"latency_ms": {"median": None, "mean": 4.0}, "delegate": {"applied": True}}
    raw = [(JobKey(0, 1, 0), old_build), (JobKey(1, 1, 0), {"latency_ms": {"median": 0.5, "mean": 0.6}})]
    whole, ops = regroup(raw, 2)
    assert whole["id"] == "whole-t1-r0" and whole["latency_ms"]["median"] == 4.0
    assert ops["ops"] == [{"median_ms": 0.5, "delegated": False, "error": None}]
