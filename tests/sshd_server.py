"""A throwaway OpenSSH server on 127.0.0.1 that stands in for a Raspberry Pi in the tests.

It runs ``/usr/sbin/sshd -D`` with its own host key, a fresh user key authorised for the
current user, strict host-key checking against a known_hosts written here, and no password
authentication. :func:`start_sshd` returns a handle with the ``ssh_config`` file the client
side needs (``sentilite bench --ssh-config``), and helpers that break the connection the way
a flaky network does.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import psutil

SSHD = Path("/usr/sbin/sshd")
SFTP_SERVERS = ("/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/libexec/sftp-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unavailable_reason() -> Optional[str]:
    """Why a local sshd cannot be started here (None when it can)."""
    if not SSHD.is_file():
        return "needs OpenSSH's server (/usr/sbin/sshd): apt-get install -y openssh-server (.ci/run installs it)"
    for tool in ("ssh", "scp", "ssh-keygen"):
        if shutil.which(tool) is None:
            return f"needs the OpenSSH client tool {tool!r}: apt-get install -y openssh-client"
    privsep = Path("/run/sshd")  # only a root sshd needs its privilege-separation folder
    if os.geteuid() == 0 and not privsep.is_dir():
        try:
            privsep.mkdir(mode=0o755, parents=True)
        except OSError as exc:
            return f"sshd needs its privilege-separation folder {privsep} and it cannot be created ({exc})"
    return None


@dataclass
class SSHServer:
    port: int
    user: str
    folder: Path
    ssh_config: Path
    process: subprocess.Popen

    @property
    def device(self) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}"

    def session_processes(self) -> list[psutil.Process]:
        """The per-connection sshd processes (not the listener, not the user's commands)."""
        try:
            kids = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            return []
        out = []
        for p in kids:
            try:
                if p.name().startswith("sshd"):
                    out.append(p)
            except psutil.Error:
                pass
        return out

    def signal_sessions(self, sig: int) -> int:
        n = 0
        for p in self.session_processes():
            try:
                p.send_signal(sig)
                n += 1
            except psutil.Error:
                pass
        return n

    def stop(self) -> None:
        self.signal_sessions(signal.SIGCONT)
        self.signal_sessions(signal.SIGKILL)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_sshd(folder: Path) -> SSHServer:
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    for name in ("host_ed25519", "id_ed25519"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sentilite-test", "-f", str(folder / name)],
            check=True,
        )
    (folder / "authorized_keys").write_text((folder / "id_ed25519.pub").read_text())
    os.chmod(folder / "authorized_keys", 0o600)
    port = free_port()
    user = getpass.getuser()
    sftp = next((s for s in SFTP_SERVERS if Path(s).is_file()), None)
    config = [
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {folder / 'host_ed25519'}",
        f"PidFile {folder / 'sshd.pid'}",
        f"AuthorizedKeysFile {folder / 'authorized_keys'}",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "PermitRootLogin prohibit-password",
        "StrictModes no",
        "UsePAM no",
        "UseDNS no",
        "LogLevel ERROR",
        f"AllowUsers {user}",
    ]
    if sftp:
        config.append(f"Subsystem sftp {sftp}")
    (folder / "sshd_config").write_text("\n".join(config) + "\n")
    host_pub = (folder / "host_ed25519.pub").read_text().split()
    (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    ssh_config = folder / "ssh_config"
    ssh_config.write_text(
        "Host *\n"
        f"  IdentityFile {folder / 'id_ed25519'}\n"
        "  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {folder / 'known_hosts'}\n"
        "  StrictHostKeyChecking yes\n"
        "  PasswordAuthentication no\n"
    )
    subprocess.run([str(SSHD), "-t", "-f", str(folder / "sshd_config")], check=True, capture_output=True)
    log = open(folder / "sshd.log", "wb")
    proc = subprocess.Popen(
        [str(SSHD), "-D", "-e", "-f", str(folder / "sshd_config")], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {(folder / 'sshd.log').read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("sshd did not start listening within 10 s")
    return SSHServer(port, user, folder, ssh_config, proc)
