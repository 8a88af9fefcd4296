"""What every transport shares: the benchmark plan, and reading a runner's results as they come.

A runner prints each result as one ``@@sentilite-bench@@ {json}`` line the moment it exists.
:func:`stream_runner` reads those lines from a local process (the runner itself, ``ssh``
or ``adb shell``), hands each to a callback at once, and stops the process when it goes
silent for too long, so a dropped connection or a hung device ends in a clear error while the
results already received are kept.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from sentilite.core import probe

from ..models import ModelEntry
from ..record import RESULT_PREFIX

OnResult = Callable[[dict[str, Any]], None]
Log = Callable[[str], None]

RUNNER_FILE = Path(__file__).resolve().parents[1] / "runner.py"
#: name on the device -> file here: the runner and the stdlib-only helpers it imports there
RUNNER_BUNDLE: dict[str, Path] = {
    "runner.py": RUNNER_FILE,
    "sentilite_measure.py": RUNNER_FILE.with_name("measure.py"),
    "sentilite_record.py": RUNNER_FILE.with_name("record.py"),
    "sentilite_probe.py": Path(probe.__file__).resolve(),
}


@dataclass
class Plan:
    """Everything a transport needs to run one benchmark."""

    entries: list[ModelEntry]
    threads: list[int]
    repeat: int
    settings: dict[str, Any]  # runs, warmup, min_seconds, xnnpack, cpu_mask, runtime, job_timeout
    inputs: dict[int, dict[str, Any]]  # model index -> runner input spec
    input_files: dict[int, Path] = field(default_factory=dict)  # model index -> .npy on the host

    def jobs(self, kinds: Sequence[str] = ("tflite",), model_file: Optional[Callable[[int, ModelEntry], str]] = None) -> list[dict[str, Any]]:
        """Jobs in run order: repeats outermost, so drift affects every model alike."""
        out = []
        for r in range(self.repeat):
            for i, e in enumerate(self.entries):
                if e.kind not in kinds:
                    continue
                for t in self.threads:
                    out.append(
                        {
                            "id": job_id(i, t, r),
                            "model": model_file(i, e) if model_file else str(e.path.resolve()),
                            "name": e.name,
                            "kind": e.kind,
                            "threads": t,
                            "repeat": r,
                            "model_index": i,
                            "input": self.inputs.get(i) or {"kind": "random"},
                        }
                    )
        return out

    def spec(self, jobs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"format": "sentilite-bench-spec", "version": 1, "settings": self.settings, "jobs": jobs}


def job_id(model_index: int, threads: int, repeat: int) -> str:
    return f"m{model_index}-t{threads}-r{repeat}"


def write_spec(path: Path, spec: dict[str, Any]) -> Path:
    path.write_text(json.dumps(spec, indent=1))
    return path


@dataclass
class StreamOutcome:
    returncode: Optional[int]
    stderr_tail: list[str]
    stdout_other: list[str]
    events: list[dict[str, Any]]
    timed_out: bool
    results: int


def stream_runner(
    cmd: Sequence[str],
    on_result: OnResult,
    idle_timeout: float,
    cwd: Optional[Path] = None,
    env: Optional[dict[str, str]] = None,
    keep_stdin_open: bool = False,
    on_start: Optional[Callable[[subprocess.Popen], None]] = None,
) -> StreamOutcome:
    """Run ``cmd``, passing each result line to ``on_result`` as it arrives.

    Stops the process when no line arrived for ``idle_timeout`` seconds. With
    ``keep_stdin_open`` the process's stdin stays an open pipe (the remote runner exits when
    it closes, i.e. when the SSH session is gone).
    """
    proc = subprocess.Popen(
        list(cmd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.PIPE if keep_stdin_open else subprocess.DEVNULL,
        cwd=cwd,
        env=env,
        start_new_session=True,  # its own process group: stopping it stops the runner's children too
    )
    if on_start:
        on_start(proc)
    lines: queue.Queue = queue.Queue()
    err: list[str] = []

    def pump_out() -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
        lines.put(None)

    def pump_err() -> None:
        assert proc.stderr is not None
        for raw in iter(proc.stderr.readline, b""):
            err.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
            del err[:-40]

    threads = [threading.Thread(target=pump_out, daemon=True), threading.Thread(target=pump_err, daemon=True)]
    for t in threads:
        t.start()
    other: list[str] = []
    events: list[dict[str, Any]] = []
    n = 0
    timed_out = False
    last = time.monotonic()
    try:
        while True:
            try:
                line = lines.get(timeout=0.25)
            except queue.Empty:
                if time.monotonic() - last > idle_timeout:
                    timed_out = True
                    kill_group(proc)
                    break
                continue
            if line is None:
                break
            last = time.monotonic()
            if line.startswith(RESULT_PREFIX):
                try:
                    obj = json.loads(line[len(RESULT_PREFIX):])
                except ValueError:
                    other.append(line)
                    continue
                if "event" in obj:
                    events.append(obj)
                else:
                    n += 1
                    on_result(obj)
            elif line.strip():
                other.append(line)
                del other[:-40]
    except BaseException:
        kill_group(proc)  # a failing callback or Ctrl-C must not leave the runner (or ssh) behind
        proc.wait()
        raise
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        rc = proc.wait()
    for t in threads:
        t.join(timeout=2)
    if proc.stdin:
        try:
            proc.stdin.close()
        except OSError:
            pass
    return StreamOutcome(rc, [e for e in err if e.strip()][-12:], other, events, timed_out, n)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process and everything in its process group."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, AttributeError):
        try:
            proc.kill()
        except OSError:
            pass


def link_or_copy(src: Path, dst: Path) -> Path:
    """Hard-link ``src`` to ``dst`` (copy across file systems)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def last_line(lines: Sequence[str], default: str = "") -> str:
    for ln in reversed(lines):
        if ln.strip():
            return ln.strip()
    return default
