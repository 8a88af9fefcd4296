"""This machine: the runner file in a fresh subprocess per model x thread count.

.tflite models go through ``runner.py`` (the very file copied to remote devices); .keras models
through the Keras baseline (``python -m device_bench.keras_runner``), both with the same
protocol and result schema.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

from sentilite.core.errors import DeviceError, RuntimeMissingError

from ..records import SystemInfo
from .base import RUNNER_FILE, Log, OnResult, Plan, last_line, stream_runner, write_spec


class LocalTransport:
    kind = "local"

    def __init__(self, python: Optional[str] = None) -> None:
        self.python = python or sys.executable
        self.label = "local"
        self.system: SystemInfo = {}

    def check(self, runtime: Optional[str] = None) -> dict[str, Any]:
        """Is the runtime the runner will measure with importable by the Python that runs it?"""
        cmd = [self.python, str(RUNNER_FILE), "--check"] + (["--runtime", runtime] if runtime else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        try:
            info = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise DeviceError(
                f"The local Python ({self.python}) cannot run the benchmark runner: "
                f"{last_line(proc.stderr.splitlines(), 'no output')}.",
                "reinstall sentilite in this environment (pip install -e .)",
            ) from None
        if not info.get("ok"):
            raise RuntimeMissingError(
                f"This machine cannot run .tflite models: {info.get('problem')}.", info.get("fix")
            )
        self.system = info.get("system") or {}
        return info

    def run(self, plan: Plan, work: Path, on_result: OnResult, log: Log) -> SystemInfo:
        timeout = float(plan.settings.get("job_timeout") or 600) + 60
        env = dict(os.environ)
        tfl = plan.jobs(("tflite",))
        keras = plan.jobs(("keras",))
        if tfl:
            self.check(plan.settings.get("runtime"))
            spec = write_spec(work / "spec_tflite.json", plan.spec(tfl))
            out = stream_runner(
                [self.python, str(RUNNER_FILE), "--spec", str(spec)], on_result, timeout, cwd=work, env=env
            )
            self._raise_if_broken(out, "runner")
            self._keep_system(out)
        if keras:
            log("Keras baseline: each .keras model runs in its own process with TensorFlow (slow to start)")
            spec = write_spec(work / "spec_keras.json", plan.spec(keras))
            env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            cmd = [self.python, "-m", "sentilite.device_bench.keras_runner", "--spec", str(spec)]
            out = stream_runner(cmd, on_result, timeout, cwd=work, env=env)
            self._raise_if_broken(out, "Keras baseline")
            self._keep_system(out)
        return self.system

    def _keep_system(self, out: Any) -> None:
        for ev in out.events:
            if ev.get("event") == "start" and ev.get("system"):
                self.system = ev["system"]

    @staticmethod
    def _raise_if_broken(out: Any, what: str) -> None:
        if out.timed_out:
            raise DeviceError(f"The local {what} stopped answering.", "raise --timeout, or check the machine's load")
        done = any(ev.get("event") == "done" for ev in out.events)
        if not done:
            detail = last_line(out.stderr_tail) or last_line(out.stdout_other) or f"exit code {out.returncode}"
            raise DeviceError(
                f"The local {what} failed: {detail}.", "run again with --debug, or see the log in the output folder"
            )
