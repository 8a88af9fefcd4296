"""Where a benchmark runs: ``local``, ``ssh://user@host[:port]`` or ``adb[:SERIAL]``."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from sentilite.core.errors import DeviceError

from .base import Plan, stream_runner

__all__ = ["Plan", "make_transport", "stream_runner", "device_kind"]


def device_kind(device: str) -> str:
    d = (device or "local").strip()
    if d == "local":
        return "local"
    if d.startswith("ssh://"):
        return "ssh"
    if d == "adb" or d.startswith("adb:"):
        return "adb"
    raise DeviceError(
        f"Unknown device {device!r}.",
        "use --device local, --device ssh://user@host[:port] or --device adb[:SERIAL]",
    )


def make_transport(
    device: str = "local",
    *,
    remote_python: Optional[str] = None,
    ssh_options: Sequence[str] = (),
    ssh_config: Optional[str] = None,
    identity: Optional[str] = None,
    connect_timeout: float = 10.0,
    alive_interval: float = 5.0,
    alive_count: int = 3,
    benchmark_binary: Optional[str] = None,
    taskset: Optional[str] = None,
) -> Any:
    kind = device_kind(device)
    if kind == "local":
        from .local import LocalTransport

        return LocalTransport(remote_python)
    if kind == "ssh":
        from .ssh import SSHTarget, SSHTransport

        return SSHTransport(
            SSHTarget.parse(device),
            remote_python=remote_python or "python3",
            ssh_options=ssh_options,
            ssh_config=ssh_config,
            identity=identity,
            connect_timeout=connect_timeout,
            alive_interval=alive_interval,
            alive_count=alive_count,
        )
    from .adb import ADBTransport, parse_device

    return ADBTransport(parse_device(device), benchmark_binary=benchmark_binary, remote_python=remote_python, taskset=taskset)
