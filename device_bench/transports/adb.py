"""Android over adb: TFLite's native ``benchmark_model`` (or the Python runner where Python exists).

``--benchmark-binary`` (the ``benchmark_model`` built for the phone's ABI) and the models are
pushed to a fresh folder under /data/local/tmp, the binary made executable and run once per
model x thread count x repeat (each a fresh process), optionally under ``taskset MASK`` to pin
it to the big cores; its report is parsed into the common result schema
(:mod:`device_bench.benchmark_model`). The folder is removed afterwards, also on failure.
``adb:SERIAL`` picks one of several devices. With ``--remote-python`` (a device that has
Python, e.g. a rooted phone or a board running Android with Python installed) the Python runner
is pushed and run instead. Termux is easiest to reach over SSH (``ssh://user@phone:8022``).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from sentilite.core.errors import DeviceError, InputFileError, RuntimeMissingError

from .. import benchmark_model as bm
from ..benchmark_ops import parse_op_profile
from ..models import remote_file_name
from ..record import BenchResult
from ..records import SystemInfo
from .base import RUNNER_BUNDLE, Log, OnResult, Plan, last_line, stream_runner, write_spec

REMOTE_BASE = "/data/local/tmp"
_SERIAL_RE = re.compile(r"^[A-Za-z0-9._:\-]+$")
_MASK_RE = re.compile(r"^(0x)?[0-9a-fA-F]+$")
#: ELF e_machine values for Android ABIs.
_ABI_MACHINE = {"arm64-v8a": 183, "armeabi-v7a": 40, "armeabi": 40, "x86_64": 62, "x86": 3}
_MACHINE_NAME = {183: "arm64 (aarch64)", 40: "32-bit ARM", 62: "x86_64", 3: "x86"}
#: What adb itself prints when the device is gone (not what a program on the device prints).
_GONE_RE = re.compile(
    r"^(?:adb: )?(?:error: )?(?:device '[^']*' not found|device not found|no devices/emulators found|device offline|"
    r"device unauthorized.*|closed|protocol fault.*)\s*$",
    re.MULTILINE | re.IGNORECASE,
)


def parse_device(device: str) -> Optional[str]:
    """``adb`` -> None (the only device), ``adb:SERIAL`` -> SERIAL."""
    _, _, serial = device.partition(":")
    serial = serial.strip() or None
    if serial is not None and (not _SERIAL_RE.match(serial) or serial.startswith("-")):
        raise DeviceError(f"{serial!r} does not look like an adb serial.", "see `adb devices` for the serials")
    return serial


def elf_machine(path: Path) -> Optional[int]:
    with open(path, "rb") as fh:
        head = fh.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    return int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")


class ADBTransport:
    kind = "adb"

    def __init__(
        self,
        serial: Optional[str] = None,
        benchmark_binary: Optional[str] = None,
        remote_python: Optional[str] = None,
        taskset: Optional[str] = None,
        adb: str = "adb",
    ) -> None:
        self.adb = adb
        self.serial = serial
        self.binary = Path(benchmark_binary) if benchmark_binary else None
        self.remote_python = remote_python
        if taskset is not None and not _MASK_RE.match(str(taskset)):
            raise DeviceError(f"--taskset {taskset!r} is not a hexadecimal CPU mask.", "e.g. --taskset f0 for CPUs 4-7")
        self.taskset = taskset
        self.label = f"adb:{serial}" if serial else "adb"
        self.system: SystemInfo = {}
        self.remote_dir: Optional[str] = None
        if self.binary is None and not remote_python:
            raise DeviceError(
                "Android has no Python, so adb needs TFLite's native benchmark tool.",
                "pass --benchmark-binary path/to/benchmark_model (the android_aarch64 build from "
                "https://www.tensorflow.org/lite/performance/measurement), or --remote-python for a device with Python",
            )
        if self.binary is not None and not self.binary.is_file():
            raise InputFileError(
                f"--benchmark-binary {self.binary} does not exist.",
                "download benchmark_model for the phone's ABI (android_aarch64 for most phones) and pass its path",
            )

    # -- adb calls ----------------------------------------------------------------------------
    def base(self) -> list[str]:
        return [self.adb] + (["-s", self.serial] if self.serial else [])

    def call(self, args: Sequence[str], timeout: float = 120) -> subprocess.CompletedProcess:
        try:
            return subprocess.run([*self.base(), *args], capture_output=True, text=True, timeout=timeout)
        except FileNotFoundError:
            raise DeviceError(
                "The `adb` command is not installed.",
                "install Android platform-tools (sudo apt install adb) and put adb on PATH",
            ) from None
        except subprocess.TimeoutExpired:
            raise DeviceError(
                f"{self.label}: `adb {' '.join(args[:2])}` did not finish within {timeout:.0f} s.",
                "check the USB/Wi-Fi connection",
            ) from None

    def shell(self, command: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return self.call(["shell", command], timeout)

    @staticmethod
    def _gone(stderr: str) -> bool:
        return bool(_GONE_RE.search(stderr or ""))

    def select_device(self) -> str:
        if shutil.which(self.adb) is None and not Path(self.adb).is_file():
            raise DeviceError(
                "The `adb` command is not installed.",
                "install Android platform-tools (sudo apt install adb) and put adb on PATH",
            )
        try:
            proc = subprocess.run([self.adb, "devices"], capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            raise DeviceError(
                "`adb devices` did not answer within 60 s.", "restart the adb server: adb kill-server"
            ) from None
        devices: dict[str, str] = {}
        for line in proc.stdout.splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 2:
                devices[parts[0]] = parts[1]
        listing = ", ".join(f"{s} ({st})" for s, st in devices.items()) or "none"
        if self.serial is None:
            ready = [s for s, st in devices.items() if st == "device"]
            if not ready and len(devices) == 1:
                ready = list(devices)  # the one device, whatever its state: say what is wrong with it
            if len(ready) != 1:
                raise DeviceError(
                    f"adb sees {len(ready)} usable devices ({listing}).",
                    "connect one device with USB debugging on, or pick one with --device adb:SERIAL",
                )
            self.serial = ready[0]
        elif self.serial not in devices:
            raise DeviceError(
                f"No adb device with serial {self.serial!r}; connected: {listing}.",
                "check the serial with `adb devices`",
            )
        state = devices[self.serial]
        if state == "unauthorized":
            raise DeviceError(
                f"{self.serial} has not authorised this computer.",
                "unlock the phone and accept the USB debugging prompt",
            )
        if state != "device":
            raise DeviceError(f"{self.serial} is {state}.", "reconnect it (adb reconnect) and check `adb devices`")
        self.label = f"adb:{self.serial}"
        return self.serial

    def read_system(self) -> SystemInfo:
        script = (
            'echo "manufacturer=$(getprop ro.product.manufacturer)"; echo "model=$(getprop ro.product.model)"; '
            'echo "abi=$(getprop ro.product.cpu.abi)"; echo "android=$(getprop ro.build.version.release)"; '
            'echo "hardware=$(getprop ro.hardware)"; echo "cores=$(nproc 2>/dev/null)"; '
            'echo "governor=$(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null)"; '
            'echo "temp=$(cat /sys/class/thermal/thermal_zone0/temp 2>/dev/null)"'
        )
        proc = self.shell(script, 60)
        if proc.returncode != 0 and self._gone(proc.stderr):
            raise DeviceError(
                f"{self.label} is not reachable: {last_line(proc.stderr.splitlines())}.", "check `adb devices`"
            )
        kv = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
        temp = kv.get("temp", "").strip()
        try:
            temp_c: Optional[float] = float(temp) / (1000.0 if abs(float(temp)) > 200 else 1.0) if temp else None
        except ValueError:
            temp_c = None
        self.system = {
            "cpu": kv.get("hardware") or None,
            "board": f"{kv.get('manufacturer', '')} {kv.get('model', '')}".strip() or None,
            "machine": kv.get("abi") or None,
            "platform": f"Android {kv.get('android')}" if kv.get("android") else None,
            "cores": int(kv["cores"]) if kv.get("cores", "").strip().isdigit() else None,
            "governor": kv.get("governor") or None,
            "temperature_c": temp_c,
            "affinity_mask": self.taskset,
        }
        return self.system

    def check_binary_abi(self) -> None:
        if self.binary is None:
            return
        machine = elf_machine(self.binary)
        if machine is None:
            raise InputFileError(
                f"--benchmark-binary {self.binary} is not an executable for Linux/Android (no ELF header).",
                "pass the benchmark_model binary itself, not an archive or .apk",
            )
        abi = self.system.get("machine")
        want = _ABI_MACHINE.get(str(abi))
        if want is not None and machine != want and not (abi == "arm64-v8a" and machine == 40):
            raise DeviceError(
                f"{self.binary} is built for {_MACHINE_NAME.get(machine, machine)}, but {self.label} is {abi}.",
                "download the benchmark_model build for the phone's ABI (android_aarch64 for arm64-v8a)",
            )

    def make_remote_dir(self, needed: int) -> str:
        d = f"{REMOTE_BASE}/sentilite-bench-{uuid.uuid4().hex[:12]}"
        proc = self.shell(f"mkdir -p {shlex.quote(d)} && df -k {shlex.quote(d)}", 60)
        if proc.returncode != 0:
            raise DeviceError(
                f"Cannot create {d} on {self.label}: {last_line((proc.stderr + proc.stdout).splitlines())}.",
                "check `adb shell ls /data/local/tmp`",
            )
        self.remote_dir = d
        rows = [ln.split() for ln in proc.stdout.splitlines() if ln.strip()]
        if len(rows) >= 2 and len(rows[-1]) >= 4 and rows[-1][-3].isdigit():
            free = int(rows[-1][-3]) * 1024
            if free < needed + (1 << 20):
                self.cleanup()
                raise DeviceError(
                    f"Not enough disk space on {self.label}: {free / 1e6:.1f} MB free in {REMOTE_BASE}, the "
                    f"benchmark needs {needed / 1e6:.1f} MB.",
                    "free some space on the phone (or benchmark fewer models at a time)",
                )
        return d

    def push(self, local: Path, remote_name: str) -> str:
        assert self.remote_dir
        dest = f"{self.remote_dir}/{remote_name}"
        # An absolute path: a relative one starting with '-' would be read by adb as an option.
        proc = self.call(["push", str(Path(local).resolve()), dest], 600)
        if proc.returncode != 0:
            text = proc.stderr + proc.stdout
            if "no space" in text.lower():
                raise DeviceError(
                    f"Not enough disk space on {self.label} to push {local.name}: {last_line(text.splitlines())}.",
                    "free some space on the phone",
                )
            raise DeviceError(
                f"Pushing {local.name} to {self.label} failed: {last_line(text.splitlines())}.",
                "check the connection (`adb devices`)",
            )
        return dest

    def cleanup(self) -> bool:
        if not self.remote_dir:
            return True
        try:
            proc = self.shell(f"rm -rf {shlex.quote(self.remote_dir)}", 60)
        except DeviceError:
            return False
        if proc.returncode == 0:
            self.remote_dir = None
            return True
        return False

    # -- the run --------------------------------------------------------------------------------
    def run(self, plan: Plan, work: Path, on_result: OnResult, log: Log) -> SystemInfo:
        if any(e.kind != "tflite" for e in plan.entries):
            raise DeviceError("The Keras baseline runs locally only.", "benchmark .keras models with --device local")
        self.select_device()
        self.read_system()
        log(f"{self.label}: {self.system.get('board')} ({self.system.get('machine')}, {self.system.get('platform')})")
        self.check_binary_abi()
        files = [e.path for e in plan.entries] + list(plan.input_files.values())
        files += [self.binary] if self.binary and not self.remote_python else list(RUNNER_BUNDLE.values())
        needed = sum(Path(f).stat().st_size for f in files)
        remote_dir = self.make_remote_dir(needed)
        try:
            if self.remote_python:
                self._run_python(plan, work, on_result, log)
            else:
                self._run_native(plan, work, on_result, log)
        finally:
            if not self.cleanup():
                log(
                    f"warning: could not remove {remote_dir} on {self.label}; remove it by hand (adb shell rm -rf "
                    f"{remote_dir})"
                )
        return self.system

    def _run_native(self, plan: Plan, work: Path, on_result: OnResult, log: Log) -> None:
        assert self.binary is not None
        self.push(self.binary, "benchmark_model")
        chmod = self.shell(f"chmod 755 {shlex.quote(self.remote_dir + '/benchmark_model')}", 60)
        if chmod.returncode != 0:
            raise DeviceError(
                f"Cannot make benchmark_model executable on {self.label}: {last_line(chmod.stderr.splitlines())}.",
                "check /data/local/tmp permissions",
            )
        extra: dict[int, list[str]] = {}
        for i, e in enumerate(plan.entries):
            self.push(e.path, remote_file_name(i, e))
            if i in plan.input_files:
                name, shape = _input_name_and_shape(e.path)
                raw = work / f"in{i}.raw"
                first = np.load(plan.input_files[i])[0]
                raw.write_bytes(np.ascontiguousarray(first).tobytes())
                self.push(raw, raw.name)
                extra[i] = bm.input_args(name, shape, raw.name)
        settings = dict(plan.settings)
        timeout = float(settings.get("job_timeout") or 600)
        prefix = f"taskset {self.taskset} " if self.taskset else ""
        for job in plan.jobs(("tflite",), model_file=remote_file_name):
            args = bm.command(
                job["model"],
                job["threads"],
                settings,
                "./benchmark_model",
                extra.get(job["model_index"], ()),
                op_profiling=bool(job.get("op_profiling")),
            )
            cmd = f"cd {shlex.quote(self.remote_dir)} && {prefix}" + " ".join(shlex.quote(a) for a in args)
            try:
                proc = self.shell(cmd, timeout)
            except DeviceError as exc:
                on_result(BenchResult.failed(job, str(exc)).to_dict())
                raise
            text = proc.stdout + "\n" + proc.stderr
            try:
                result = bm.to_result(bm.parse_output(text), job, settings)
            except ValueError as exc:
                if self._gone(proc.stderr) and "Inference timings" not in text:
                    on_result(BenchResult.failed(job, f"{self.label} disconnected").to_dict())
                    raise DeviceError(
                        f"{self.label} disconnected during the run: {last_line(proc.stderr.splitlines())}.",
                        "reconnect it (`adb devices`) and run again",
                    ) from None
                result = BenchResult.failed(
                    job, f"benchmark_model failed on {self.label} (exit code {proc.returncode}): {exc}"
                ).to_dict()
            else:
                result["command"] = cmd
                if job.get("op_profiling"):
                    result["native_ops"] = list(parse_op_profile(text))
            on_result(result)

    def _run_python(self, plan: Plan, work: Path, on_result: OnResult, log: Log) -> None:
        assert self.remote_dir and self.remote_python
        for name, src in RUNNER_BUNDLE.items():
            self.push(src, name)
        from .ssh import remote_path

        py = remote_path(self.remote_python)
        d = shlex.quote(self.remote_dir)
        rt = plan.settings.get("runtime")
        check = self.shell(f"cd {d} && {py} runner.py --check" + (f" --runtime {shlex.quote(rt)}" if rt else ""), 120)
        if check.returncode == 127 or "not found" in check.stderr:
            raise RuntimeMissingError(
                f"{self.label} has no `{self.remote_python}`.", "install Python there or use --benchmark-binary"
            )
        if check.returncode != 0:
            raise RuntimeMissingError(
                f"{self.label} cannot run .tflite models with `{self.remote_python}`: "
                f"{last_line((check.stdout + check.stderr).splitlines())}.",
                f"on the device run: {self.remote_python} -m pip install numpy ai-edge-litert",
            )
        jobs = plan.jobs(("tflite",), model_file=remote_file_name)
        spec = write_spec(work / "spec_adb.json", plan.spec(jobs))
        self.push(spec, "spec.json")
        for i, e in enumerate(plan.entries):
            self.push(e.path, remote_file_name(i, e))
        for f in plan.input_files.values():
            self.push(f, f.name)
        mask = f"taskset {self.taskset} " if self.taskset else ""
        cmd = [*self.base(), "shell", f"cd {d} && {mask}{py} runner.py --spec spec.json"]
        out = stream_runner(cmd, on_result, float(plan.settings.get("job_timeout") or 600) + 60)
        if not any(ev.get("event") == "done" for ev in out.events):
            detail = last_line(out.stderr_tail) or last_line(out.stdout_other) or f"exit code {out.returncode}"
            raise DeviceError(
                f"The runner failed on {self.label} ({out.results} results received): {detail}.",
                "check `adb devices` and the device",
            )


def _input_name_and_shape(path: Path) -> tuple[str, list[int]]:
    from sentilite.core.runtime import make_interpreter

    interp, _ = make_interpreter(path, num_threads=1, allocate=False)
    d = interp.get_input_details()[0]
    return str(d["name"]), [int(v) for v in d["shape"]]
