"""Where a benchmark runs: ``local``, ``ssh://user@host[:port]`` or ``adb[:SERIAL]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sentilite.core.errors import DeviceError

from .base import Plan, Transport, stream_runner

if TYPE_CHECKING:
    from ..options import BenchOptions

__all__ = ["Plan", "Transport", "make_transport", "stream_runner", "device_kind"]


def device_kind(device: str) -> str:
    d = (device or "local").strip()
    if d == "local":
        return "local"
    if d.startswith("ssh://"):
        return "ssh"
    if d == "adb" or d.startswith("adb:"):
        return "adb"
    raise DeviceError(
        f"Unknown device {device!r}.", "use --device local, --device ssh://user@host[:port] or --device adb[:SERIAL]"
    )


def make_transport(options: BenchOptions) -> Transport:
    """The transport for ``options.device``, configured from the options."""
    kind = device_kind(options.device)
    if kind == "local":
        from .local import LocalTransport

        return LocalTransport(options.remote_python)
    if kind == "ssh":
        from .ssh import SSHTarget, SSHTransport

        return SSHTransport(
            SSHTarget.parse(options.device), remote_python=options.remote_python or "python3", options=options.ssh
        )
    from .adb import ADBTransport, parse_device

    return ADBTransport(
        parse_device(options.device),
        benchmark_binary=str(options.benchmark_binary) if options.benchmark_binary else None,
        remote_python=options.remote_python,
        taskset=options.taskset,
    )
