"""The SSH transport against a real OpenSSH server on 127.0.0.1 standing in for a Raspberry Pi.

Covers the whole remote path: check, mktemp, scp, run, streamed results, cleanup; a device
whose Python lacks LiteRT or is missing; a hostile model file name; an unreachable host; a
connection killed mid-run and one that stalls (ServerAlive timeout), keeping the results
gathered before the failure. Everything talks to loopback only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sshd_server import free_port, start_sshd, unavailable_reason

from sentilite.core.errors import DeviceError, RuntimeMissingError
from sentilite.device_bench.api import run_bench
from sentilite.device_bench.transports.ssh import SSHTarget, SSHTransport

pytestmark = [pytest.mark.ssh, pytest.mark.slow]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


def bench(sshd, models, **kw):
    logs: list[str] = []
    kw.setdefault("remote_python", sys.executable)
    kw.setdefault("runs", 3)
    kw.setdefault("warmup", 1)
    res = run_bench(models, device=sshd.device, ssh_config=sshd.ssh_config, log=logs.append, **kw)
    return res, logs


def remote_dirs_in(logs: list[str]) -> list[str]:
    return list(dict.fromkeys(ln.rsplit(":", 1)[1] for ln in logs if ln.startswith("copying ")))


def wait_gone(path: str, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not os.path.exists(path):
            return True
        time.sleep(0.1)
    return False


def test_remote_run_streams_results_and_removes_its_folder(sshd, tiny_variants, synthetic_splits, tmp_path):
    res, logs = bench(
        sshd,
        [tiny_variants["int8"], tiny_variants["float32"]],
        threads=(1, 2),
        out_dir=tmp_path / "out",
        images=synthetic_splits["train"].parent,
        max_images=2,
    )
    assert res.errors == [], res.errors
    assert [(r["model"], r["threads"]) for r in res.rows] == [
        ("model_int8", 1),
        ("model_int8", 2),
        ("model_float32", 1),
        ("model_float32", 2),
    ]
    for r in res.rows:
        assert r["error"] is None and r["median_ms"] > 0 and r["rss_peak_mb"] > 0
        assert r["device"] == sshd.device and r["runtime"].startswith("ai-edge-litert")
    assert res.system.get("cores")
    assert all(r["input"]["kind"] == "npy" and r["input"]["samples"] == 2 for r in res.runs)
    (remote,) = remote_dirs_in(logs)
    assert remote.startswith("/") and "sentilite-bench." in remote
    assert wait_gone(remote), f"{remote} was not removed"
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["complete"] and len(saved["runs"]) == 4


def test_hostile_file_name_cannot_inject_shell(sshd, tiny_variants, tmp_path, monkeypatch):
    """Each injected command first changes to the home folder (``cd`` with no argument needs no
    slash, which a file name cannot hold), so wherever the remote shell runs it, its witness
    lands in a folder that outlives the run (the old check looked in the remote folder, which the
    runner deletes). Today the name never reaches the device (files go as model_N.tflite); a
    change that put it into a remote command line unquoted would leave a witness in the home
    folder."""
    import uuid

    tag = uuid.uuid4().hex[:8]
    evil_dir = tmp_path / "models"
    evil_dir.mkdir()
    evil = evil_dir / f"a b;cd;touch PWNED{tag}a;$(cd;touch PWNED{tag}b)`cd;touch PWNED{tag}c`'\"x.tflite"
    shutil.copy(tiny_variants["int8"], evil)
    monkeypatch.chdir(tmp_path)
    try:
        res, logs = bench(sshd, [evil])
        assert res.errors == [] and res.rows[0]["error"] is None
        assert res.rows[0]["model"] == evil.stem
        for where in (tmp_path, evil_dir, Path.home(), Path("/tmp")):
            assert not list(where.glob(f"PWNED{tag}*")), f"a file name ran a command in {where}"
    finally:
        for witness in Path.home().glob(f"PWNED{tag}*"):
            witness.unlink()


def test_python_without_litert_names_what_to_install(sshd, tiny_variants, tmp_path):
    block = tmp_path / "block"
    block.mkdir()
    (block / "sitecustomize.py").write_text(
        "import sys\nfor n in ('ai_edge_litert', 'tflite_runtime', 'tensorflow'):\n    sys.modules[n] = None\n"
    )
    shim = tmp_path / "python-without-litert"
    shim.write_text(f'#!/bin/sh\nPYTHONPATH={block} exec {sys.executable} "$@"\n')
    shim.chmod(0o755)
    with pytest.raises(RuntimeMissingError) as err:
        bench(sshd, [tiny_variants["int8"]], remote_python=str(shim), raise_on_error=True)
    msg = str(err.value)
    assert "cannot run .tflite models" in msg and "no TFLite runtime could be imported" in msg
    assert f"{shim} -m pip install ai-edge-litert" in msg and "tflite-runtime" in msg


def test_missing_remote_python_is_a_clear_error(sshd, tiny_variants):
    res, _ = bench(sshd, [tiny_variants["int8"]], remote_python="/nonexistent/python3")
    assert len(res.errors) == 1
    assert "has no `/nonexistent/python3`" in res.errors[0] and "apt install python3" in res.errors[0]
    assert res.rows == []


def test_unreachable_host_is_a_clear_error(tiny_variants, tmp_path):
    port = free_port()  # nothing listens there
    t0 = time.monotonic()
    res = run_bench(
        [tiny_variants["int8"]],
        device=f"ssh://nobody@127.0.0.1:{port}",
        out_dir=tmp_path / "out",
        ssh_options=["StrictHostKeyChecking=no", f"UserKnownHostsFile={tmp_path / 'kh'}"],
    )
    assert time.monotonic() - t0 < 30
    assert len(res.errors) == 1
    assert "Connection refused" in res.errors[0] and "SSH server" in res.errors[0]
    assert json.loads((tmp_path / "out" / "results.json").read_text())["complete"] is False


def test_bad_device_strings_are_refused_before_connecting():
    for bad in [
        "ssh://-oProxyCommand=touch@host",
        "ssh://pi@-oProxyCommand=x",
        "ssh://pi@host:99999",
        "ssh://pi@ho st",
    ]:
        with pytest.raises(DeviceError):
            SSHTarget.parse(bad)
    assert SSHTarget.parse("ssh://pi@raspberrypi.local").label == "ssh://pi@raspberrypi.local"
    assert SSHTarget.parse("ssh://pi@[::1]:2222").port == 2222


def _slow_jobs(tiny_variants):
    # 3 jobs of ~1.5 s each: the connection can be broken after the first result.
    return dict(
        models=[tiny_variants["int8"], tiny_variants["float32"], tiny_variants["float16"]], runs=1, min_seconds=1.5
    )


def test_connection_killed_mid_run_keeps_earlier_results(sshd, tiny_variants, tmp_path):
    killed = []

    def on_result(_r):
        if not killed:
            killed.append(sshd.signal_sessions(signal.SIGKILL))

    jobs = _slow_jobs(tiny_variants)
    res, logs = bench(sshd, jobs.pop("models"), out_dir=tmp_path / "out", on_result=on_result, **jobs)
    assert killed and killed[0] >= 1
    assert len(res.errors) == 1 and "failed during the run (1 result received before it)" in res.errors[0]
    ok = [r for r in res.rows if r["error"] is None]
    assert [r["model"] for r in ok] == ["model_int8"]
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["complete"] is False and saved["rows"][0]["median_ms"] > 0 and saved["errors"]
    (remote,) = remote_dirs_in(logs)
    assert wait_gone(remote), "the remote folder outlived the dropped connection"


def test_stalled_connection_times_out(sshd, tiny_variants, tmp_path):
    stopped = []

    def on_result(_r):
        if not stopped:
            stopped.append(sshd.signal_sessions(signal.SIGSTOP))

    jobs = _slow_jobs(tiny_variants)
    t0 = time.monotonic()
    try:
        res, logs = bench(
            sshd,
            jobs.pop("models"),
            out_dir=tmp_path / "out",
            on_result=on_result,
            alive_interval=1,
            alive_count=2,
            **jobs,
        )
    finally:
        sshd.signal_sessions(signal.SIGCONT)
    assert stopped and stopped[0] >= 1
    assert time.monotonic() - t0 < 40
    assert len(res.errors) == 1 and ("Timeout" in res.errors[0] or "not responding" in res.errors[0]), res.errors
    assert [r["model"] for r in res.rows if r["error"] is None][0] == "model_int8"
    (remote,) = remote_dirs_in(logs)
    assert wait_gone(remote), "the remote folder outlived the stalled connection"


def test_model_the_device_cannot_load_is_a_row_error(sshd, tiny_variants, tmp_path):
    broken = tmp_path / "broken.tflite"
    data = bytearray(Path(tiny_variants["int8"]).read_bytes())
    broken.write_bytes(bytes(data[:64]) + b"\0" * 256)  # TFL3 header, no model behind it
    res, _ = bench(sshd, [broken, tiny_variants["int8"]])
    assert res.errors == []
    by_model = {r["model"]: r for r in res.rows}
    assert "cannot load" in by_model["broken"]["error"]
    assert by_model["model_int8"]["error"] is None


def test_not_enough_disk_space_is_reported(tmp_path, tiny_variants):
    # A stand-in ssh whose df reports 100 KB free: the check must stop before copying.
    fake = tmp_path / "ssh"
    fake.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do last="$a"; done\n'
        'case "$last" in\n'
        "  *mktemp*) echo /tmp/sentilite-bench.FAKE; echo '/dev/root 1000 900 100 90% /';;\n"
        "  *) : ;;\n"
        "esac\n"
    )
    fake.chmod(0o755)
    t = SSHTransport(SSHTarget.parse("ssh://pi@raspberrypi.local"), ssh=str(fake))
    with pytest.raises(DeviceError, match=r"Not enough disk space on ssh://pi@raspberrypi.local: 0.1 MB free"):
        t.make_remote_dir(needed_bytes=5_000_000)
    assert t.remote_dir is None  # cleaned up


def test_no_password_ever_reaches_a_command_line(sshd, tiny_variants, monkeypatch):
    seen: list[list[str]] = []
    real = subprocess.Popen

    def spy(cmd, *a, **kw):
        seen.append(list(cmd))
        return real(cmd, *a, **kw)

    monkeypatch.setattr(subprocess, "Popen", spy)
    bench(sshd, [tiny_variants["int8"]])
    ssh_calls = [c for c in seen if Path(c[0]).name in ("ssh", "scp")]
    assert ssh_calls
    for c in ssh_calls:
        assert "BatchMode=yes" in c and any(a.startswith("ConnectTimeout=") for a in c)
        assert any(a.startswith("ServerAliveInterval=") for a in c)
        assert not any("pass" in a.lower() and "passwordauthentication" not in a.lower() for a in c)


def test_no_remote_folder_is_left_after_a_run_or_a_failed_check(sshd, tiny_variants, tmp_path):
    """Runs of its own (one that works, one whose device lacks a runtime): each folder is removed."""
    block = tmp_path / "block"
    block.mkdir()
    (block / "sitecustomize.py").write_text(
        "import sys\nsys.modules['ai_edge_litert'] = sys.modules['tflite_runtime'] = None\n"
        "sys.modules['tensorflow'] = None\n"
    )
    shim = tmp_path / "python-without-litert"
    shim.write_text(f'#!/bin/sh\nPYTHONPATH={block} exec {sys.executable} "$@"\n')
    shim.chmod(0o755)
    _, ok_logs = bench(sshd, [tiny_variants["int8"]])
    failed, failed_logs = bench(sshd, [tiny_variants["int8"]], remote_python=str(shim))
    assert failed.errors and "cannot run .tflite models" in failed.errors[0]
    dirs = remote_dirs_in(ok_logs) + remote_dirs_in(failed_logs)
    assert len(dirs) == 2 and all("sentilite-bench." in d for d in dirs)
    assert [d for d in dirs if not wait_gone(d, 10)] == []


def test_remote_paths_are_quoted_but_tilde_still_means_home(tmp_path):
    from sentilite.device_bench.transports.ssh import remote_path

    (tmp_path / "my env").mkdir()
    py = tmp_path / "my env" / "python;x"
    py.write_text("#!/bin/sh\necho ran\n")
    py.chmod(0o755)
    for given in (str(py), "~/my env/python;x"):
        out = subprocess.run(
            ["sh", "-c", f"{remote_path(given)}"],
            capture_output=True,
            text=True,
            env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        )
        assert out.stdout.strip() == "ran", (given, out.stderr)


def test_cli_over_ssh(sshd, tiny_variants, tmp_path):
    from click.testing import CliRunner

    from sentilite.app.cli import cli

    def run(*args):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False, prog_name="sentilite")

    ok = run(
        "bench",
        str(tiny_variants["int8"]),
        "--device",
        sshd.device,
        "--ssh-config",
        str(sshd.ssh_config),
        "--remote-python",
        sys.executable,
        "--runs",
        "2",
        "--warmup",
        "0",
        "--out",
        str(tmp_path / "ok"),
    )
    assert ok.exit_code == 0, ok.output
    assert "| model_int8 | int8 | 1 |" in ok.output and (tmp_path / "ok" / "results.csv").is_file()
    bad = run(
        "bench",
        str(tiny_variants["int8"]),
        "--device",
        f"ssh://pi@127.0.0.1:{free_port()}",
        "--out",
        str(tmp_path / "bad"),
    )
    assert bad.exit_code == 2
    last = bad.output.strip().splitlines()[-1]
    assert last.startswith("error: SSH to ssh://pi@127.0.0.1:") and "Connection refused" in last


def test_sigterm_to_the_cli_ends_the_remote_runner_and_removes_its_folder(sshd, tiny_variants, tmp_path):
    """A real SIGTERM to `sentilite bench --device ssh://...` while the device measures: the
    runner on the device ends (the SSH session goes, and with it the runner's stdin) and the
    remote folder is removed; what was measured is kept. Planted defect: drop sigterm_as_interrupt
    from the CLI; the runner then measures on and the folder stays."""
    import subprocess

    import psutil

    env = {**os.environ, "SENTILITE_NO_PROGRESS": "1"}
    t0 = time.time()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sentilite",
            "bench",
            str(tiny_variants["int8"]),
            str(tiny_variants["float32"]),
            "--device",
            sshd.device,
            "--ssh-config",
            str(sshd.ssh_config),
            "--remote-python",
            sys.executable,
            "--runs",
            "3",
            "--min-seconds",
            "4",
            "--no-plot",
            "--out",
            str(tmp_path / "out"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )

    def remote_jobs() -> list[psutil.Process]:
        found = []
        for p in psutil.process_iter(["cmdline", "create_time"]):
            cmd = p.info["cmdline"] or []
            if "--job" in cmd and p.info["create_time"] >= t0 - 1 and any("sentilite-bench." in c for c in cmd):
                found.append(p)
        return found

    import threading

    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True).start()
    deadline = time.monotonic() + 120
    jobs: list[psutil.Process] = []
    while time.monotonic() < deadline and proc.poll() is None:
        if any("thread(s): median" in ln for ln in lines):  # the first result is in
            jobs = [p for p in remote_jobs() if "1" == p.info["cmdline"][p.info["cmdline"].index("--index") + 1]]
            if jobs:
                break
        time.sleep(0.05)
    assert jobs, "the second measurement never started on the device"
    remote = next(c for c in jobs[0].info["cmdline"] if "sentilite-bench." in c).split("/spec")[0]
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    time.sleep(0.2)
    err = "".join(lines)
    assert proc.returncode == 143 and "terminated (SIGTERM)" in err, err[-2000:]
    _, alive = psutil.wait_procs(jobs, timeout=10)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == [], "the device's runner outlived the CLI"
    assert wait_gone(remote), f"{remote} was not removed"
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["complete"] is False and len(saved["runs"]) == 1


def test_profile_over_ssh_times_every_op_there_and_cleans_up(sshd, tiny_variants, tmp_path):
    from sentilite.device_bench.options import BenchOptions, SSHOptions
    from sentilite.device_bench.profile_api import ProfileOptions, run_profile

    logs: list[str] = []
    ssh = SSHOptions(config=sshd.ssh_config)
    opts = ProfileOptions(BenchOptions(device=sshd.device, remote_python=sys.executable, runs=3, warmup=1, ssh=ssh))
    prof = run_profile(tiny_variants["int8"], opts, out_dir=tmp_path / "p", log=logs.append)
    assert prof.errors == [] and prof.device == sshd.device
    rows = prof.by_threads[0]["ops"]
    assert rows and all(r["ms"] is not None for r in rows)
    assert prof.by_threads[0]["faithfulness"]["whole_ms"] > 0
    assert any(ln.startswith("copying ") for ln in logs)  # the one-op models went over scp
    for d in remote_dirs_in(logs):
        assert wait_gone(d), d
