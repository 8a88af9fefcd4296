"""Real signals to real CLI processes, and a real full disk (a tmpfs): nothing half-written, no
process or temporary folder left behind, and no measurement lost.

The planted defect each test guards against is named in its docstring."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import psutil
import pytest


def sentilite(*args: str, tmp: Path) -> subprocess.Popen:
    env = {**os.environ, "SENTILITE_NO_PROGRESS": "1", "TMPDIR": str(tmp)}
    return subprocess.Popen(
        [sys.executable, "-m", "sentilite", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def wait_for(predicate, proc: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(
                f"exited {proc.returncode} before the moment to signal it: {proc.stderr.read()[-2000:]}"
            )
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("the moment to signal never came")


def partials(folder: Path, name: str) -> list[Path]:
    return sorted(folder.glob(f".{name}.partial-*"))


def convert_args(tiny_model, splits, out: Path) -> list[str]:
    return [
        "convert",
        str(tiny_model[2]),
        "--calib",
        str(splits["train"]),
        "--eval",
        str(splits["val"]),
        "--out",
        str(out),
        "--variants",
        "float32,float16,int8",
        "--calib-size",
        "12",
        "--latency-runs",
        "2",
        "--kernel-check-images",
        "0",
    ]


def started_writing(folder: Path, name: str):
    return lambda: any(any(p.glob("*.tflite")) for p in partials(folder, name))


def test_sigterm_during_convert_leaves_no_staging_folder(tiny_model, synthetic_splits, tmp_path):
    """SIGTERM once a variant is written to the staging folder. Planted defect: drop
    sigterm_as_interrupt from the CLI; SIGTERM's default action then leaves `.out.partial-*`."""
    (tmp_path / "tmp").mkdir()
    proc = sentilite(*convert_args(tiny_model, synthetic_splits, tmp_path / "out"), tmp=tmp_path / "tmp")
    wait_for(started_writing(tmp_path, "out"), proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "terminated (SIGTERM)" in err, (proc.returncode, err[-2000:])
    assert partials(tmp_path, "out") == [] and not (tmp_path / "out").exists()
    assert list((tmp_path / "tmp").iterdir()) == []  # the exported SavedModel's temporary folder too


def test_after_a_sigkill_the_next_convert_removes_the_stale_staging_folder(tiny_model, synthetic_splits, tmp_path):
    """SIGKILL cannot be cleaned up after; the next run into the same --out removes what it left.
    Planted defect: drop remove_stale_stages from staged(); the old partial folder stays."""
    (tmp_path / "tmp").mkdir()
    proc = sentilite(*convert_args(tiny_model, synthetic_splits, tmp_path / "out"), tmp=tmp_path / "tmp")
    wait_for(started_writing(tmp_path, "out"), proc)
    proc.kill()
    proc.communicate(timeout=60)
    stale = partials(tmp_path, "out")
    assert len(stale) == 1  # what a kill leaves: the precondition of this test
    other = tmp_path / ".out.partial-someone-elses"  # no owner file: never judged stale
    other.mkdir()
    again = sentilite(*convert_args(tiny_model, synthetic_splits, tmp_path / "out"), tmp=tmp_path / "tmp")
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-2000:]
    assert partials(tmp_path, "out") == [other] and (tmp_path / "out" / "report.md").is_file()
    assert not any(p.name == ".sentilite-owner" for p in (tmp_path / "out").iterdir())


def dead(p: psutil.Process) -> bool:
    try:
        return p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def runner_processes(parent: psutil.Process) -> list[psutil.Process]:
    """The measuring processes (one per model x threads x repeat: runner.py --job ...)."""
    out = []
    try:
        for p in parent.children(recursive=True):
            cmd = p.cmdline()
            if "--job" in cmd and any(c.endswith("runner.py") for c in cmd):
                out.append(p)
    except psutil.NoSuchProcess:
        pass
    return out


def test_sigterm_to_bench_ends_its_runners_and_keeps_what_was_measured(tiny_variants, tmp_path):
    """Two models, each measured for >= 3 s; SIGTERM while the second runs. Planted defect: drop
    sigterm_as_interrupt from the CLI; the runner then outlives the CLI and the temporary folder
    and the first model's result are lost."""
    (tmp_path / "tmp").mkdir()
    out = tmp_path / "bench"
    proc = sentilite(
        "bench",
        str(tiny_variants["int8"]),
        str(tiny_variants["float32"]),
        "--min-seconds",
        "3",
        "--runs",
        "5",
        "--no-plot",
        "--out",
        str(out),
        tmp=tmp_path / "tmp",
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True)
    reader.start()
    parent = psutil.Process(proc.pid)
    seen: list[psutil.Process] = []

    def second_job_running() -> bool:
        seen[:] = runner_processes(parent)
        measured = any("thread(s): median" in ln for ln in lines)
        try:
            return measured and any(p.cmdline()[p.cmdline().index("--index") + 1] == "1" for p in seen)
        except (psutil.Error, ValueError, IndexError):  # a process that ended meanwhile
            return False

    wait_for(second_job_running, proc)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    reader.join(10)
    err = "".join(lines)
    assert proc.returncode == 143 and "terminated (SIGTERM)" in err, (proc.returncode, err[-2000:])
    _, alive = psutil.wait_procs(seen, timeout=0.5)
    alive = [p for p in alive if not dead(p)]  # a killed child whose parent died too stays a zombie here
    assert alive == [], f"runner(s) outlived the CLI: {[p.pid for p in alive]}"
    assert list((tmp_path / "tmp").iterdir()) == []
    saved = json.loads((out / "results.json").read_text())
    assert saved["complete"] is False and len(saved["runs"]) == 1 and saved["runs"][0]["error"] is None
    assert "terminated (SIGTERM)" in saved["errors"][0]


@contextlib.contextmanager
def tmpfs(folder: Path, size: str, leave: int = 0) -> Iterator[Path]:
    """A tmpfs of ``size`` at ``folder``, filled until ``leave`` bytes are free (a real full disk);
    skips the test where mounting is not allowed (CI runs as root)."""
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a tmpfs (CI runs as root)")
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        with open(folder / "filler", "wb") as fh:
            try:
                while True:
                    st = os.statvfs(folder)
                    room = st.f_bavail * st.f_frsize - leave
                    if room <= 0:
                        break
                    fh.write(b"\0" * min(room, 65536))
                    fh.flush()
            except OSError:
                pass
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def full_tmpfs(tmp_path):
    with tmpfs(tmp_path / "full", "1m") as mnt:
        yield mnt


def test_bench_on_a_full_disk_says_so_and_keeps_the_results(tiny_variants, full_tmpfs, tmp_path):
    """Planted defect: write results.json without the disk-full handling; the CLI then ends in
    `unexpected OSError: [Errno 28]` and every measurement is lost."""
    (tmp_path / "tmp").mkdir()
    proc = sentilite(
        "bench",
        str(tiny_variants["int8"]),
        "--runs",
        "5",
        "--no-plot",
        "--out",
        str(full_tmpfs / "out"),
        tmp=tmp_path / "tmp",
    )
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2 and "Disk full at" in err and "free space there, or pass another --out" in err, err[
        -2000:
    ]
    assert "unexpected" not in err
    kept = Path(re.search(r"are kept in (\S+results\.json)", err).group(1))
    saved = json.loads(kept.read_text())
    assert len(saved["runs"]) == 1 and saved["runs"][0]["latency_ms"]["median"] > 0
    assert [p.name for p in full_tmpfs.iterdir() if p.name != "filler"] in ([], ["out"])
    if (full_tmpfs / "out").exists():
        assert [p.name for p in (full_tmpfs / "out").iterdir()] == []  # no torn results.json


@pytest.mark.parametrize("outputs, leave", [("log", 30_000), ("record+log", 3_000_000)], ids=["log", "record"])
def test_demo_on_a_disk_that_fills_leaves_a_parseable_log_and_a_playable_recording(
    tiny_variants, tmp_path, outputs, leave
):
    """The disk fills during the run: first the log's (30 KB free), then the recording's (3 MB
    free, room for ~200 frames). Planted defects: write the log without the short-write check
    (a torn last line), or record without the reserve (an .mp4 with no index)."""
    from demo_helpers import read_frames, read_log

    from sentilite.core.synthetic import make_synthetic_video

    clip = make_synthetic_video(tmp_path / "clip.avi", frames=600, size=(240, 320))
    with tmpfs(tmp_path / "disk", "4m", leave=leave) as disk:
        record = ["--record", str(disk / "demo.mp4")] if "record" in outputs else []
        proc = sentilite(
            "demo",
            "--model",
            str(tiny_variants["int8"]),
            "--source",
            str(clip),
            "--no-display",
            "--sync",
            *record,
            "--log",
            str(disk / "frames.jsonl"),
            "--summary-json",
            str(tmp_path / "summary.json"),
            tmp=tmp_path,
        )
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 2 and "full at" in err, err[-2000:]
        assert "unexpected" not in err and "Traceback" not in err
        records = read_log(disk / "frames.jsonl")  # every line parses, the last one included
        assert len(records) >= 10 and all("probs" in r for r in records)
        if record:
            assert len(read_frames(disk / "demo.mp4")) >= 10 and not (disk / "demo.mp4.incomplete").exists()
        summary = json.loads((tmp_path / "summary.json").read_text())
        assert summary["stop_reason"] == "disk_full" and "full at" in summary["output_error"]
        assert summary["frames"] < 600
