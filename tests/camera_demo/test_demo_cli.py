"""`sentilite demo` as a process: help, display errors, Ctrl-C / SIGTERM and SIGKILL."""

import os
import signal
import subprocess
import sys
import time

import pytest
from demo_helpers import read_frames, read_log

from sentilite.core.synthetic import make_synthetic_video


def demo_cmd(*args):
    return [sys.executable, "-m", "sentilite", "demo", *map(str, args)]


def env_without_display():
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return env


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    # 150 frames played at 30 fps: 5 s, time enough to stop it from outside.
    return make_synthetic_video(tmp_path_factory.mktemp("clip") / "long.avi", frames=150, size=(120, 160))


def wait_for_lines(path, n, proc, timeout=30.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if path.exists() and path.read_text().count("\n") >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"{path} did not reach {n} lines")


def test_help_shows_examples():
    out = subprocess.run(demo_cmd("--help"), capture_output=True, text=True, timeout=60).stdout
    assert "Examples:" in out and "sentilite demo --source 0" in out and "--no-display" in out and "--sync" in out


def test_window_without_a_display_is_one_clear_error(tiny_variants, long_clip):
    proc = subprocess.run(
        demo_cmd("--model", tiny_variants["int8"], "--source", long_clip),
        capture_output=True,
        text=True,
        timeout=60,
        env=env_without_display(),
    )
    assert proc.returncode == 2
    err = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "--no-display" in err[0] and "Traceback" not in proc.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stop_signal_exits_cleanly_with_valid_files(tiny_variants, long_clip, tmp_path, sig):
    rec, log = tmp_path / "rec.mp4", tmp_path / "log.jsonl"
    proc = subprocess.Popen(
        demo_cmd(
            "--model", tiny_variants["int8"], "--source", long_clip, "--no-display", "--record", rec, "--log", log
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env_without_display(),
    )
    wait_for_lines(log, 10, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert ("interrupted" if sig == signal.SIGINT else "terminated") in out and "demo summary" in out
    records = read_log(log)
    assert 10 <= len(records) < 150
    assert len(read_frames(rec)) == len(records)  # the .mp4 was finalised: playable, every frame


def test_log_stays_parseable_after_sigkill(tiny_variants, long_clip, tmp_path):
    log = tmp_path / "killed.jsonl"
    proc = subprocess.Popen(
        demo_cmd("--model", tiny_variants["int8"], "--source", long_clip, "--no-display", "--log", log),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env_without_display(),
    )
    wait_for_lines(log, 15, proc)
    proc.kill()  # SIGKILL: no handler runs, nothing is flushed or closed by the process
    proc.wait(timeout=30)
    records = read_log(log)
    assert len(records) >= 15 and all("probs" in r and "latency_ms" in r for r in records)


def test_lost_camera_exits_with_code_3_naming_the_files(monkeypatch, tmp_path):
    from click.testing import CliRunner

    import sentilite.camera_demo.api as demo_api
    from sentilite.app.cli import cli

    summary = {"stop_reason": "source_lost", "source": {"description": "camera 0"}, "frames": 5}
    monkeypatch.setattr(demo_api, "run_demo", lambda config: summary)
    out = tmp_path / "s.json"
    result = CliRunner().invoke(
        cli, ["demo", "--source", "0", "--no-display", "--log", "x.jsonl", "--summary-json", str(out)]
    )
    assert result.exit_code == 3
    assert "camera 0 stopped delivering frames" in result.output and "x.jsonl" in result.output
    assert out.exists()
