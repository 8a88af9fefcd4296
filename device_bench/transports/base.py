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
from typing import Any, Callable, Optional, Protocol, Sequence

from sentilite.core import probe

from ..models import ModelEntry
from ..record import RESULT_PREFIX
from ..records import RunnerJob, RunnerSettings, RunnerSpec, RunResult, SystemInfo

OnResult = Callable[[RunResult], None]
Log = Callable[[str], None]

RUNNER_FILE = Path(__file__).resolve().parents[1] / "runner.py"
#: name on the device -> file here: the runner and the stdlib-only helpers it imports there
RUNNER_BUNDLE: dict[str, Path] = {
    "runner.py": RUNNER_FILE,
    "sentilite_measure.py": RUNNER_FILE.with_name("measure.py"),
    "sentilite_record.py": RUNNER_FILE.with_name("record.py"),
    "sentilite_sustained.py": RUNNER_FILE.with_name("sustained.py"),
    "sentilite_optiming.py": RUNNER_FILE.with_name("op_timing.py"),
    "sentilite_probe.py": Path(probe.__file__).resolve(),
}


class Transport(Protocol):
    """Where a plan runs: the local machine, an SSH host or an adb device."""

    kind: str  # "local", "ssh" or "adb"
    label: str  # shown in every row: "local", "pi@raspberrypi.local", "adb:R58M..."
    system: SystemInfo  # what the device said about itself (CPU, cores, temperature...)

    def run(self, plan: Plan, work: Path, on_result: OnResult, log: Log) -> SystemInfo:
        """Run every job of ``plan``, calling ``on_result`` per result as it arrives; returns ``system``."""
        ...


@dataclass(frozen=True)
class JobKey:
    """What one job measures: which model, at how many threads, in which repeat."""

    model_index: int
    threads: int
    repeat: int
    variant: int = 0  # index into Plan.variants (per-job mode and settings, e.g. the kernels)


@dataclass
class Plan:
    """Everything a transport needs to run one benchmark."""

    entries: list[ModelEntry]
    threads: list[int]
    repeat: int
    settings: RunnerSettings  # runs, warmup, min_seconds, xnnpack, cpu_mask, runtime, job_timeout
    inputs: dict[int, dict[str, Any]]  # model index -> runner input spec
    input_files: dict[int, Path] = field(default_factory=dict)  # model index -> .npy on the host
    #: per-job overrides, one set of jobs each: {"mode": "outputs", "settings": {"kernels": "builtin"}}
    variants: list[dict[str, Any]] = field(default_factory=lambda: [{}])

    def job_table(self) -> dict[str, JobKey]:
        """Every job by id, repeats outermost (so drift affects every model alike)."""
        table: dict[str, JobKey] = {}
        for r in range(self.repeat):
            for i in range(len(self.entries)):
                for t in self.threads:
                    for v in range(len(self.variants)):
                        table[f"job{len(table)}"] = JobKey(i, t, r, v)
        return table

    def jobs(
        self, kinds: Sequence[str] = ("tflite",), model_file: Optional[Callable[[int, ModelEntry], str]] = None
    ) -> list[RunnerJob]:
        """The runner's job list for the entries of these kinds, in :meth:`job_table` order."""
        out = []
        for job_id, key in self.job_table().items():
            e = self.entries[key.model_index]
            if e.kind not in kinds:
                continue
            out.append(
                {
                    "id": job_id,
                    "model": model_file(key.model_index, e) if model_file else str(e.path.resolve()),
                    "name": e.name,
                    "kind": e.kind,
                    "threads": key.threads,
                    "repeat": key.repeat,
                    "model_index": key.model_index,
                    "input": self.inputs.get(key.model_index) or {"kind": "random"},
                    **self.variants[key.variant],
                }
            )
        return out

    def spec(self, jobs: list[RunnerJob]) -> RunnerSpec:
        return {"format": "sentilite-bench-spec", "version": 1, "settings": self.settings, "jobs": jobs}


def write_spec(path: Path, spec: RunnerSpec) -> Path:
    path.write_text(json.dumps(spec, indent=1))
    return path


@dataclass
class StreamOutcome:
    returncode: Optional[int]
    stderr_tail: list[str]
    stdout_other: list[str]
    events: list[RunResult]
    timed_out: bool
    results: int


class _Pipes:
    """Reader threads for a process's stdout (a queue of lines, None at EOF) and stderr (the tail)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: queue.Queue = queue.Queue()
        self.err: list[str] = []
        self.threads = [
            threading.Thread(target=self._out, args=(proc,), daemon=True),
            threading.Thread(target=self._err, args=(proc,), daemon=True),
        ]
        for t in self.threads:
            t.start()

    def _out(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
        self.lines.put(None)

    def _err(self, proc: subprocess.Popen) -> None:
        assert proc.stderr is not None
        for raw in iter(proc.stderr.readline, b""):
            self.err.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
            del self.err[:-40]

    def join(self) -> None:
        for t in self.threads:
            t.join(timeout=2)


@dataclass
class _Reading:
    other: list[str] = field(default_factory=list)
    events: list[RunResult] = field(default_factory=list)
    results: int = 0
    timed_out: bool = False


def _read_results(proc: subprocess.Popen, pipes: _Pipes, on_result: OnResult, idle_timeout: float) -> _Reading:
    """Hand each result line to ``on_result``; stop the process after ``idle_timeout`` s of silence."""
    got = _Reading()
    last = time.monotonic()
    while True:
        try:
            line = pipes.lines.get(timeout=0.25)
        except queue.Empty:
            if time.monotonic() - last > idle_timeout:
                got.timed_out = True
                kill_group(proc)
                return got
            continue
        if line is None:
            return got
        last = time.monotonic()
        obj = _parse_result_line(line)
        if obj is None:
            if line.strip():
                got.other.append(line)
                del got.other[:-40]
        elif "event" in obj:
            got.events.append(obj)
        else:
            got.results += 1
            on_result(obj)


def _parse_result_line(line: str) -> Optional[RunResult]:
    if not line.startswith(RESULT_PREFIX):
        return None
    try:
        return json.loads(line[len(RESULT_PREFIX) :])
    except ValueError:
        return None


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
    pipes = _Pipes(proc)
    try:
        got = _read_results(proc, pipes, on_result, idle_timeout)
    except BaseException:
        kill_group(proc)  # a failing callback or Ctrl-C must not leave the runner (or ssh) behind
        proc.wait()
        raise
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        rc = proc.wait()
    pipes.join()
    if proc.stdin:
        try:
            proc.stdin.close()
        except OSError:
            pass
    return StreamOutcome(
        rc, [e for e in pipes.err if e.strip()][-12:], got.other, got.events, got.timed_out, got.results
    )


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
