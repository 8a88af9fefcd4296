"""A Raspberry Pi (or any Linux box) over SSH, with the system ``ssh`` and ``scp`` only.

Authentication is the user's own keys or agent: every call runs with ``BatchMode=yes``, so no
password is ever asked for, stored or passed on a command line. ``ConnectTimeout`` bounds the
connection and ``ServerAliveInterval`` x ``ServerAliveCountMax`` notices a connection that
dies mid-run. The steps:

1. ``mktemp -d`` makes a fresh folder, and ``df`` says whether the files fit;
2. check: the runner and its three stdlib-only helper files (``sentilite_*.py``) are copied
   there and ``runner.py --check`` runs, before any model is copied; a missing Python, numpy
   or LiteRT runtime ends here with the exact install command;
3. ``scp`` copies the spec, the models and any input ``.npy`` under fixed names
   (``m0.tflite``...), so no local file name ever reaches a remote shell;
4. the runner runs there, one fresh process per model x thread count, and its result lines
   stream back as they come; the folder is removed by a shell trap when the run ends, and
   again from here afterwards (also after a failure).

Remote paths are passed through :func:`shlex.quote`.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from sentilite.core.errors import DeviceError, RuntimeMissingError

from ..models import remote_file_name
from ..options import SSHOptions
from ..records import SystemInfo
from .base import RUNNER_BUNDLE, Log, OnResult, Plan, last_line, link_or_copy, stream_runner, write_spec

_USER_RE = re.compile(r"^[A-Za-z0-9._][A-Za-z0-9._-]*$")
_HOST_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
_SAFE_DIR_RE = re.compile(r"^/[A-Za-z0-9._/+-]+$")


@dataclass(frozen=True)
class SSHTarget:
    user: Optional[str]
    host: str
    port: Optional[int]

    @classmethod
    def parse(cls, device: str) -> SSHTarget:
        """``ssh://[user@]host[:port]`` (IPv6 as ``[addr]``)."""
        rest = device[len("ssh://") :] if device.startswith("ssh://") else device
        rest = rest.rstrip("/")
        user = None
        if "@" in rest:
            user, rest = rest.rsplit("@", 1)
        port = None
        if rest.startswith("["):
            host, _, tail = rest[1:].partition("]")
            if tail.startswith(":"):
                port = tail[1:]
            ok_host = bool(host) and all(c in "0123456789abcdefABCDEF:." for c in host)
        else:
            host, _, port_s = rest.partition(":")
            port = port_s or None
            ok_host = bool(_HOST_RE.match(host))
        problems = []
        if user is not None and not _USER_RE.match(user):
            problems.append(f"user name {user!r}")
        if not ok_host:
            problems.append(f"host {host!r}")
        if port is not None and (not str(port).isdigit() or not 0 < int(port) < 65536):
            problems.append(f"port {port!r}")
        if problems:
            raise DeviceError(
                f"Cannot read the device {device!r}: bad {', '.join(problems)}.",
                "write it as ssh://user@host or ssh://user@host:port (e.g. ssh://pi@raspberrypi.local)",
            )
        return cls(user, host, int(port) if port else None)

    @property
    def label(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ssh://{self.user + '@' if self.user else ''}{host}{':' + str(self.port) if self.port else ''}"

    def scp_prefix(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user + '@' if self.user else ''}{host}"


def remote_path(path: str) -> str:
    """A path for the remote shell, quoted; a leading ``~/`` still means the remote home."""
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


class SSHTransport:
    kind = "ssh"

    def __init__(
        self,
        target: SSHTarget,
        remote_python: str = "python3",
        options: Optional[SSHOptions] = None,
        ssh: str = "ssh",
        scp: str = "scp",
    ) -> None:
        self.target = target
        self.label = target.label
        self.remote_python = remote_python or "python3"
        options = options or SSHOptions()
        connect_timeout = options.connect_timeout
        ssh_options, ssh_config, identity = options.options, options.config, options.identity
        alive_interval, alive_count = options.alive_interval, options.alive_count
        self.connect_timeout = connect_timeout
        self.ssh, self.scp = ssh, scp
        opts = [
            "-o",
            "BatchMode=yes",
            "-o",
            f"ConnectTimeout={max(1, int(round(connect_timeout)))}",
            "-o",
            f"ServerAliveInterval={max(1, int(round(alive_interval)))}",
            "-o",
            f"ServerAliveCountMax={max(1, int(alive_count))}",
        ]
        if ssh_config:
            opts += ["-F", str(ssh_config)]
        if identity:
            opts += ["-i", str(identity), "-o", "IdentitiesOnly=yes"]
        for o in ssh_options:
            if "=" not in o or o.startswith("-"):
                raise DeviceError(
                    f"--ssh-option {o!r} is not KEY=VALUE.", "e.g. --ssh-option StrictHostKeyChecking=accept-new"
                )
            opts += ["-o", o]
        self.common = opts
        self.system: SystemInfo = {}
        self.remote_dir: Optional[str] = None

    # -- commands ------------------------------------------------------------------------------
    def ssh_cmd(self, remote_command: str) -> list[str]:
        cmd = [self.ssh, *self.common]
        if self.target.port:
            cmd += ["-p", str(self.target.port)]
        if self.target.user:
            cmd += ["-l", self.target.user]
        return cmd + ["--", self.target.host, remote_command]

    def scp_cmd(self, files: Sequence[Path], remote_dir: str) -> list[str]:
        cmd = [self.scp, "-q", "-B", *self.common]
        if self.target.port:
            cmd += ["-P", str(self.target.port)]
        return cmd + ["--", *[str(f) for f in files], f"{self.target.scp_prefix()}:{remote_dir}/"]

    def _run(self, remote_command: str, timeout: float, stdin: Optional[bytes] = None) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(self.ssh_cmd(remote_command), input=stdin, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DeviceError(
                f"{self.label} did not answer within {timeout:.0f} s.",
                "check that the device is on and reachable (ssh works by hand)",
            ) from None
        except FileNotFoundError:
            raise DeviceError(
                "The `ssh` command is not installed on this machine.",
                "install the OpenSSH client (sudo apt install openssh-client)",
            ) from None

    def connection_error(self, stderr: str, during: str) -> DeviceError:
        line = last_line(stderr.splitlines(), "the connection was lost (ssh exit code 255)").rstrip(".")
        t = self.target
        by_hand = f"ssh {'-p ' + str(t.port) + ' ' if t.port else ''}{t.scp_prefix()} true"
        low = stderr.lower()
        if "permission denied" in low:
            fix = (
                f"set up key login (sentilite never uses passwords): ssh-copy-id "
                f"{'-p ' + str(t.port) + ' ' if t.port else ''}"
                f"{t.scp_prefix()}, or pass --identity KEYFILE; `{by_hand}` must work without a prompt"
            )
        elif "host key verification failed" in low or "host key" in low:
            fix = (
                f"connect once by hand ({by_hand}) to check and accept the device's host key, or pass --ssh-option "
                f"StrictHostKeyChecking=accept-new"
            )
        elif "could not resolve" in low or "name or service not known" in low:
            fix = "check the host name (a .local name needs mDNS/avahi) or use the device's IP address"
        elif "connection refused" in low:
            fix = (
                f"start the SSH server on the device (sudo systemctl enable --now ssh) and check the port "
                f"({t.port or 22})"
            )
        elif "closed by remote host" in low or "connection reset" in low or "broken pipe" in low:
            fix = (
                "the connection dropped: check that the device is still on (power, overheating, reboot) and the "
                "network is stable, then run again"
            )
        elif "timed out" in low or "no route" in low or "unreachable" in low or "not responding" in low:
            fix = "check that the device is on and on this network, and that the connection is stable"
        else:
            fix = f"check that `{by_hand}` works without a password prompt"
        return DeviceError(f"SSH to {self.label} failed {during}: {line}.", fix)

    # -- steps -------------------------------------------------------------------------------
    def check(self, remote_dir: str, runtime: Optional[str] = None) -> dict[str, Any]:
        """Run ``runner.py --check`` in ``remote_dir`` (where the runner bundle was copied), for the
        runtime the measurement will use."""
        py = remote_path(self.remote_python)
        rt = f" --runtime {shlex.quote(runtime)}" if runtime else ""
        remote = (
            f"command -v {py} >/dev/null 2>&1 || exit 127; cd {shlex.quote(remote_dir)} && exec {py} runner.py "
            f"--check{rt}"
        )
        proc = self._run(remote, self.connect_timeout + 120)
        out = proc.stdout.decode("utf-8", "replace").strip()
        err = proc.stderr.decode("utf-8", "replace")
        if proc.returncode == 255:
            raise self.connection_error(err, "while checking the device")
        if proc.returncode == 127:
            raise RuntimeMissingError(
                f"{self.label} has no `{self.remote_python}`.",
                "install Python 3 and numpy there (Raspberry Pi OS: sudo apt install python3 python3-numpy "
                "python3-pip), "
                "or pass --remote-python /path/to/python3",
            )
        try:
            info = json.loads(out.splitlines()[-1])
        except (ValueError, IndexError):
            detail = last_line(err.splitlines(), f"exit code {proc.returncode}")
            if "SyntaxError" in err or "invalid syntax" in err:
                raise RuntimeMissingError(
                    f"`{self.remote_python}` on {self.label} is too old to run the benchmark runner ({detail}).",
                    "use Python 3.7 or newer (--remote-python /path/to/python3)",
                ) from None
            raise DeviceError(
                f"The runner check failed on {self.label}: {detail}.", "run `sentilite --debug bench ...` for details"
            ) from None
        if not info.get("ok"):
            fix = str(info.get("fix") or "")
            if self.remote_python != "python3":
                fix = fix.replace(
                    "python3 -m pip install ai-edge-litert  (",
                    f"{self.remote_python} -m pip install ai-edge-litert  (",
                    1,
                )
            raise RuntimeMissingError(
                f"{self.label} cannot run .tflite models with `{self.remote_python}` (Python {info.get('python')}): "
                f"{info.get('problem')}.",
                f"on the device run: {fix}",
            )
        self.system = info.get("system") or {}
        return info

    def make_remote_dir(self, needed_bytes: int) -> str:
        remote = (
            'd=$(mktemp -d "${TMPDIR:-/tmp}/sentilite-bench.XXXXXX") && printf "%s\\n" "$d" && (df -Pk "$d" | '
            "tail -n 1)"
        )
        proc = self._run(remote, self.connect_timeout + 60)
        err = proc.stderr.decode("utf-8", "replace")
        if proc.returncode == 255:
            raise self.connection_error(err, "while creating the temporary folder")
        lines = proc.stdout.decode("utf-8", "replace").strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise DeviceError(
                f"Cannot create a temporary folder on {self.label}: {last_line(err.splitlines(), 'mktemp failed')}.",
                "make sure /tmp (or $TMPDIR) on the device exists and is writable",
            )
        remote_dir = lines[0].strip()
        if not _SAFE_DIR_RE.match(remote_dir):
            self.remote_dir = remote_dir
            self.cleanup()
            raise DeviceError(
                f"The device's temporary folder {remote_dir!r} has an unusual name.", "unset TMPDIR on the device"
            )
        self.remote_dir = remote_dir
        if len(lines) > 1:
            fields = lines[-1].split()
            if len(fields) >= 4 and fields[3].isdigit():
                free = int(fields[3]) * 1024
                if free < needed_bytes + (1 << 20):
                    self.cleanup()
                    raise DeviceError(
                        f"Not enough disk space on {self.label}: {free / 1e6:.1f} MB free in "
                        f"{remote_dir.rsplit('/', 1)[0]}, "
                        f"the benchmark needs {needed_bytes / 1e6:.1f} MB.",
                        "free some space on the device (or benchmark fewer models at a time)",
                    )
        return remote_dir

    def copy(self, files: Sequence[Path], remote_dir: str) -> None:
        try:
            proc = subprocess.run(
                self.scp_cmd(files, remote_dir), capture_output=True, timeout=self.connect_timeout + 600
            )
        except subprocess.TimeoutExpired:
            raise DeviceError(f"Copying to {self.label} took over 10 minutes.", "check the connection") from None
        except FileNotFoundError:
            raise DeviceError(
                "The `scp` command is not installed on this machine.", "install the OpenSSH client"
            ) from None
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace")
            if "no space" in err.lower() or "quota" in err.lower():
                raise DeviceError(
                    f"Not enough disk space on {self.label} to copy the models: {last_line(err.splitlines())}.",
                    "free some space on the device",
                )
            raise self.connection_error(err, "while copying the models")

    def cleanup(self) -> bool:
        """Remove the remote folder (idempotent); False when the device cannot be reached."""
        if not self.remote_dir:
            return True
        try:
            proc = self._run(f"rm -rf -- {shlex.quote(self.remote_dir)}", self.connect_timeout + 20)
        except DeviceError:
            return False
        if proc.returncode == 0:
            self.remote_dir = None
            return True
        return False

    def run(self, plan: Plan, work: Path, on_result: OnResult, log: Log) -> SystemInfo:
        if any(e.kind != "tflite" for e in plan.entries):
            raise DeviceError("The Keras baseline runs locally only.", "benchmark .keras models with --device local")
        jobs = plan.jobs(("tflite",), model_file=remote_file_name)
        with tempfile.TemporaryDirectory(prefix="sentilite-stage-") as tmp:
            stage = Path(tmp)
            bundle = [link_or_copy(src, stage / name) for name, src in RUNNER_BUNDLE.items()]
            files = [write_spec(stage / "spec.json", plan.spec(jobs))]
            for i, e in enumerate(plan.entries):
                files.append(link_or_copy(e.path, stage / remote_file_name(i, e)))
            for f in plan.input_files.values():
                files.append(link_or_copy(f, stage / f.name))
            needed = sum(f.stat().st_size for f in bundle + files)
            remote_dir = self.make_remote_dir(needed)
            try:
                log(f"copying the runner to {self.label}:{remote_dir}")
                self.copy(bundle, remote_dir)
                log(f"checking {self.label} for Python, numpy and a LiteRT runtime")
                info = self.check(remote_dir, plan.settings.get("runtime"))
                rt = info.get("runtime") or {}
                log(
                    f"{self.label}: Python {info.get('python')}, numpy {info.get('numpy')}, {rt.get('name')} "
                    f"{rt.get('version')}"
                )
                log(f"copying {len(files)} files ({needed / 1e6:.1f} MB) to {self.label}:{remote_dir}")
                self.copy(files, remote_dir)
                self._run_remote(plan, remote_dir, on_result, log)
            finally:
                if not self.cleanup():
                    log(
                        f"warning: could not remove {remote_dir} on {self.label}; remove it by hand (rm -rf "
                        f"{shlex.quote(remote_dir)})"
                    )
        return self.system

    def _run_remote(self, plan: Plan, remote_dir: str, on_result: OnResult, log: Log) -> None:
        d = shlex.quote(remote_dir)
        py = remote_path(self.remote_python)
        remote = (
            f"trap 'cd / && rm -rf -- {d}' EXIT HUP INT TERM; cd {d} && {py} runner.py --spec spec.json "
            f"--exit-on-stdin-eof"
        )
        idle = float(plan.settings.get("job_timeout") or 600) + 60
        out = stream_runner(self.ssh_cmd(remote), on_result, idle, keep_stdin_open=True, on_start=self._on_start)
        for ev in out.events:
            if ev.get("event") == "start" and ev.get("system"):
                self.system = ev["system"]
        if any(ev.get("event") == "done" for ev in out.events):
            return
        got = f" ({out.results} result{'s' if out.results != 1 else ''} received before it)" if out.results else ""
        if out.timed_out:
            raise DeviceError(
                f"{self.label} sent nothing for {idle:.0f} s; stopped waiting{got}.",
                "check the device (overheating? out of memory?) or raise --timeout for very slow models",
            )
        err = "\n".join(out.stderr_tail)
        if out.returncode == 255:
            raise self.connection_error(err, f"during the run{got}")
        detail = last_line(out.stderr_tail) or last_line(out.stdout_other) or f"exit code {out.returncode}"
        raise DeviceError(
            f"The runner failed on {self.label}{got}: {detail}.",
            "run `sentilite --debug bench ...` and check the device",
        )

    def _on_start(self, proc: subprocess.Popen) -> None:
        self.process = proc
