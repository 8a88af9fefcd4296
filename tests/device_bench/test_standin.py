"""The Raspberry Pi stand-in (Debian bookworm arm64 under qemu-user, Cortex-A72) over SSH on 127.0.0.1.

`.ci/run` builds it (``sentilite standin build``, cached under ~/.cache/sentilite); the fixture
starts it, which runs its numerics self-check, and stops it at the end. Everything measured
here is labelled as emulated: these tests check the SSH path, the device's kernels and answers,
never its speed.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
from conftest import EMOTION6, require_shared

from sentilite.core.default_model import DEFAULT_MODEL_PATH
from sentilite.device_bench.api import run_bench
from sentilite.device_bench.options import BenchOptions, SSHOptions

pytestmark = pytest.mark.arm64


@pytest.fixture(scope="module")
def standin():
    if os.geteuid() != 0:
        pytest.skip("the Raspberry Pi stand-in needs root (mmdebstrap, chroot, mount); .ci/run runs as root")
    missing = [t for t in ("mmdebstrap", "qemu-aarch64-static") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}: apt-get install mmdebstrap qemu-user-static (.ci/run installs them)")
    from sentilite.device_bench import standin as S

    logs: list[str] = []
    S.stop(quiet=True)  # a fresh start, so that the self-check runs here
    state = S.start(check=True, log=logs.append)
    yield {**state, "logs": logs}
    S.stop(quiet=True)


def ssh_kw(state):
    return {"device": state["device"], "ssh_config": state["ssh_config"], "remote_python": state["remote_python"]}


def test_it_checked_its_own_numerics_before_anything_else(standin):
    import json
    from pathlib import Path

    passed = [ln for ln in standin["logs"] if ln.startswith("self-check passed")]
    assert passed, standin["logs"]
    report = json.loads((Path(standin["ssh_config"]).parent / "selfcheck.json").read_text())
    assert report["reference_bit_exact"] is True and report["int8_xnnpack_distinct_outputs"] == 4
    assert report["float32_xnnpack_vs_reference_max_abs"] < 1e-4 and report["int8_xnnpack_vs_host_max_steps"] <= 1


def test_bench_over_ssh_names_aarch64_litert_kernels_and_emulation(standin, tmp_path):
    res = run_bench(
        [DEFAULT_MODEL_PATH],
        out_dir=tmp_path / "out",
        threads="1,2",
        runs=3,
        warmup=1,
        taskset="1",
        job_timeout=900,
        **ssh_kw(standin),
    )
    assert res.errors == [], res.errors
    assert res.system["machine"] == "aarch64" and res.system["emulation"]["emulated"]
    assert "cortex-a72" in res.system["emulation"]["how"].lower() and res.system["cores"] == 4
    for run in res.runs:
        assert run["runtime"]["name"] == "ai-edge-litert" and run["runtime"]["version"] and run["kernels"] == "xnnpack"
        assert run["delegate"]["applied"] and run["emulation"]["emulated"] and run["cpu_affinity"] == [0]
    assert [r["threads"] for r in res.rows] == [1, 2] and all(r["emulated"] for r in res.rows)
    table = (tmp_path / "out" / "results.md").read_text()
    assert "emulated aarch64: timings are not device speeds" in table
    # No TensorFlow on the device: the runner had only LiteRT.
    probe = subprocess.run(
        [
            "ssh",
            "-F",
            standin["ssh_config"],
            "-p",
            str(standin["port"]),
            "127.0.0.1",
            standin["remote_python"],
            "-c",
            "'import importlib.util as u; print(u.find_spec(\"tensorflow\"))'",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert probe.stdout.strip() == "None", probe.stderr


def _op_count(path) -> int:
    """The file's own operators (as the interpreter lists them before any delegate is applied)."""
    from sentilite.core.runtime import make_interpreter

    interp, _ = make_interpreter(path, kernels="builtin")
    return len(interp._get_ops_details())


def test_profile_on_the_standin_times_every_op_on_aarch64_and_says_emulated(standin, tmp_path):
    from sentilite.device_bench.profile_api import ProfileOptions, run_profile

    opts = BenchOptions(
        device=standin["device"],
        remote_python=standin["remote_python"],
        runs=3,
        warmup=1,
        repeat=1,
        job_timeout=900,
        ssh=SSHOptions(config=standin["ssh_config"]),
    )
    prof = run_profile(DEFAULT_MODEL_PATH, ProfileOptions(opts), out_dir=tmp_path / "p")
    assert prof.errors == [] and prof.system["machine"] == "aarch64"
    rows = prof.by_threads[0]["ops"]
    assert len(rows) == _op_count(DEFAULT_MODEL_PATH) and all(r["ms"] is not None for r in rows)
    assert {r["kernels"] for r in rows if r["op"] == "CONV_2D"} == {"XNNPACK"}
    assert "emulated" in (tmp_path / "p" / "profile.md").read_text()


@pytest.mark.shared
def test_evaluate_on_the_standin_with_xnnpack_and_builtin_kernels(standin):
    require_shared(EMOTION6)
    from sentilite.device_bench.remote_eval import evaluate_on_device

    options = BenchOptions(
        device=standin["device"],
        remote_python=standin["remote_python"],
        ssh=SSHOptions(config=standin["ssh_config"]),
        job_timeout=1200,
    )
    res = evaluate_on_device(
        DEFAULT_MODEL_PATH, EMOTION6 / "sentiment_test.txt", options, kernels=("xnnpack", "builtin"), max_images=20
    )
    assert res["emulation"]["emulated"] and res["system"]["machine"] == "aarch64"
    from sentilite.core.classifier import TFLiteClassifier
    from sentilite.core.datasets import read_split_file
    from sentilite.core.imageio import load_image

    samples = read_split_file(EMOTION6 / "sentiment_test.txt").samples[:20]
    clf = TFLiteClassifier(DEFAULT_MODEL_PATH)
    host_accuracy = float(np.mean([clf.predict(load_image(s.path)).argmax() == s.label for s in samples]))
    for k in ("xnnpack", "builtin"):
        r = res["kernels"][k]
        assert r["n"] == 20 and r["device_runtime"]["name"] == "ai-edge-litert"
        assert r["host_accuracy"] == pytest.approx(host_accuracy)  # the same 20 photos, scored here independently
        assert abs(r["accuracy"] - host_accuracy) <= 1 - r["top1_agreement_with_host"] + 1e-9  # only flips move it
        assert r["delegate"]["applied"] == (k == "xnnpack")
    # aarch64 XNNPACK answers as x86 XNNPACK does (the issue measured 199/199 images, max 1 step).
    assert res["kernels"]["xnnpack"]["top1_agreement_with_host"] >= 0.95
    assert res["kernels"]["xnnpack"]["max_abs_diff_p"] < 0.05
