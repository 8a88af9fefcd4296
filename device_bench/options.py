"""What ``sentilite bench`` is asked to do: one typed options object, validated once.

:class:`BenchOptions` carries the protocol (threads, runs, warm-up, repeats, inputs) and where
it runs; the SSH settings sit in their own :class:`SSHOptions`, handed whole to the SSH
transport. The CLI, quickstart and the Python API all build the same object.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Optional, Sequence, Union

from sentilite.core.errors import DeviceError, InputFileError

from .inputs import DEFAULT_MAX_IMAGES
from .records import RunnerSettings
from .stats import DEFAULT_CV_THRESHOLD

PathLike = Union[str, os.PathLike]


@dataclass(frozen=True)
class SSHOptions:
    """How to reach a device over SSH (the user's own keys or agent; never a password)."""

    options: Sequence[str] = ()  # extra ``ssh -o KEY=VALUE``
    config: Optional[PathLike] = None  # ``ssh -F``
    identity: Optional[PathLike] = None  # ``ssh -i``
    connect_timeout: float = 10.0
    alive_interval: float = 5.0
    alive_count: int = 3


#: the names the keyword API has always used for the SSH fields
_SSH_KEYWORDS = {
    "ssh_options": "options",
    "ssh_config": "config",
    "identity": "identity",
    "connect_timeout": "connect_timeout",
    "alive_interval": "alive_interval",
    "alive_count": "alive_count",
}


def parse_threads(threads: Union[int, str, Sequence[int]]) -> list[int]:
    """``1``, ``"1,2,4"`` or ``(1, 2)`` -> ``[1, 2]`` (each >= 1, no duplicates, order kept)."""
    items = str(threads).split(",") if isinstance(threads, (int, str)) else list(threads)
    try:
        vals = [int(str(t).strip()) for t in items if str(t).strip()]
    except ValueError:
        raise InputFileError(f"--threads {threads!r} is not a list of whole numbers.", "e.g. --threads 1,2,4") from None
    if not vals or any(v < 1 for v in vals):
        raise InputFileError(f"--threads {threads!r}: thread counts must be 1 or more.", "e.g. --threads 1,2,4")
    return list(dict.fromkeys(vals))


@dataclass(frozen=True)
class BenchOptions:
    """The benchmark protocol and where it runs (``local``, ``ssh://user@host[:port]``, ``adb[:SERIAL]``)."""

    device: str = "local"
    threads: Union[int, str, Sequence[int]] = (1,)
    runs: int = 50
    warmup: int = 5
    min_seconds: Optional[float] = None
    max_seconds: Optional[float] = None
    repeat: int = 1
    images: Optional[PathLike] = None  # real images encoded through each model's contract
    max_images: int = DEFAULT_MAX_IMAGES
    xnnpack: bool = True
    kernels: Optional[str] = None  # xnnpack | builtin | reference (None: xnnpack, or builtin with xnnpack=False)
    runtime: Optional[str] = None  # force a runtime in the Python runner
    taskset: Optional[str] = None  # CPU mask
    remote_python: Optional[str] = None  # ssh/adb: the device's Python
    benchmark_binary: Optional[PathLike] = None  # adb: TFLite's native benchmark_model
    ssh: SSHOptions = field(default_factory=SSHOptions)
    sustained: Optional[float] = None  # seconds of continuous load: latency and temperature over time
    cv_threshold: float = DEFAULT_CV_THRESHOLD
    job_timeout: float = 600.0
    plot: bool = True

    @classmethod
    def from_keywords(cls, base: Optional[BenchOptions] = None, **kw: Any) -> BenchOptions:
        """``base`` (or the defaults) with keyword overrides; SSH keywords go into :attr:`ssh`."""
        opts = base or cls()
        ssh_kw = {_SSH_KEYWORDS[k]: kw.pop(k) for k in list(kw) if k in _SSH_KEYWORDS}
        unknown = set(kw) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown bench option(s): {', '.join(sorted(unknown))}")
        if ssh_kw:
            kw["ssh"] = replace(opts.ssh, **ssh_kw)
        return replace(opts, **kw)

    def thread_list(self) -> list[int]:
        return parse_threads(self.threads)

    def validate(self) -> None:
        """Raise a one-line :class:`InputFileError` for values no protocol can use."""
        self.thread_list()
        if int(self.runs) < 1 or int(self.warmup) < 0 or int(self.repeat) < 1:
            raise InputFileError(
                f"runs={self.runs}, warmup={self.warmup}, repeat={self.repeat}: need runs >= 1, warmup >= 0, repeat "
                f">= 1.",
                "e.g. --runs 50 --warmup 5",
            )
        if self.kernels is not None and self.kernels not in ("xnnpack", "builtin", "reference"):
            raise InputFileError(
                f"--kernels {self.kernels!r} is not a kernel library.", "choose xnnpack, builtin or reference"
            )
        if self.taskset is not None:
            from sentilite.core.probe import parse_cpu_mask

            try:
                parse_cpu_mask(self.taskset)
            except ValueError as exc:
                what = (
                    str(exc)
                    if "selects no CPU" in str(exc)
                    else f"--taskset {self.taskset!r} is not a hexadecimal CPU mask"
                )
                raise DeviceError(what + ".", "e.g. --taskset 1 (CPU 0) or --taskset f0 (CPUs 4-7)") from None
        if self.min_seconds is not None and float(self.min_seconds) < 0:
            raise InputFileError(f"--min-seconds {self.min_seconds} is negative.", "e.g. --min-seconds 10")

    def runner_settings(self, device_kind: str) -> RunnerSettings:
        """The settings every runner reads from the spec (JSON-serialisable)."""
        return {
            "runs": int(self.runs),
            "warmup": int(self.warmup),
            "min_seconds": float(self.min_seconds) if self.min_seconds else 0.0,
            "max_seconds": float(self.max_seconds) if self.max_seconds else 0.0,
            "xnnpack": bool(self.xnnpack) and self.kernels in (None, "xnnpack"),
            "kernels": self.kernels or ("xnnpack" if self.xnnpack else "builtin"),
            "cpu_mask": self.taskset if device_kind != "adb" else None,  # adb uses the taskset command instead
            # $SENTILITE_RUNTIME is the host's choice for every device: checked and measured alike.
            "runtime": self.runtime or os.environ.get("SENTILITE_RUNTIME") or None,
            "job_timeout": float(self.job_timeout) + float(self.sustained or 0),
            "sustained_seconds": float(self.sustained or 0),
        }
