"""A Raspberry Pi stand-in: a real Debian bookworm arm64 userland under qemu-user, with its own sshd on 127.0.0.1.

Raspberry Pi OS 64-bit is Debian bookworm. The stand-in is built from Debian's packages
(``mmdebstrap --arch=arm64``), gets its own Python 3.11 with the device install (ai-edge-litert,
numpy, opencv-python-headless, psutil; no TensorFlow) in ``/opt/litert``, and runs OpenSSH with
key-only login for user ``pi``. Every aarch64 binary runs under ``qemu-aarch64-static`` through
binfmt_misc, with the CPU model pinned to a Pi 4's Cortex-A72 (``QEMU_CPU``) and a Pi-shaped
``/proc/cpuinfo`` and ``/sys`` in the chroot: with qemu's default CPU model LiteRT's int8
XNNPACK kernels compute garbage, and without a parsable cpuinfo they are not used at all.

The root filesystem is cached under ``~/.cache/sentilite/standin/<recipe hash>/`` and rebuilt
only when :data:`RECIPE` changes. It needs root (mmdebstrap, chroot, mount) and Debian's
``mmdebstrap`` and ``qemu-user-static``. Results from it carry ``emulation`` (the marker file
``/etc/sentilite-standin``): timings there are not Pi speeds; numerics are what it is for.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Optional

from sentilite.core.errors import DeviceError, RuntimeMissingError

Log = Callable[[str], None]


def _litert_version() -> str:
    try:
        from importlib.metadata import version

        return version("ai-edge-litert")
    except Exception:  # noqa: BLE001 - no LiteRT on this host: take the one the project measured
        return "2.3.0"


#: What the stand-in is made of; its hash names the cache folder (change it, and it is rebuilt).
RECIPE: dict[str, Any] = {
    "version": 1,
    "suite": "bookworm",
    "arch": "arm64",
    "packages": ["python3", "python3-venv", "openssh-server", "ca-certificates"],
    "pip": [f"ai-edge-litert=={_litert_version()}", "numpy", "opencv-python-headless", "psutil"],
    "cpu": "cortex-a72",
    "board": "Raspberry Pi 4 Model B Rev 1.4",
}
PYTHON = "/opt/litert/bin/python"
USER = "pi"

_CPUINFO_CORE = (
    "processor\t: {n}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\n"
    "CPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n"
)


def recipe_key(recipe: dict[str, Any] = RECIPE) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def cache_dir(recipe: dict[str, Any] = RECIPE) -> Path:
    base = Path(os.environ.get("SENTILITE_CACHE", Path.home() / ".cache" / "sentilite"))
    return base / "standin" / recipe_key(recipe)


def _run(cmd: list[str], log: Log, env: Optional[dict[str, str]] = None, timeout: float = 1800) -> None:
    log("  $ " + " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise DeviceError(
            f"Building the stand-in failed at `{' '.join(cmd[:4])} ...`: {' | '.join(tail)}.",
            "see the command's output above; `sentilite standin build --force` starts again",
        )


def require_host() -> None:
    """Root, mmdebstrap, qemu-user-static and a registered aarch64 binfmt handler, or a clear error."""
    if os.geteuid() != 0:
        raise RuntimeMissingError(
            "The Raspberry Pi stand-in needs root (mmdebstrap, chroot and mount).",
            "run it as root (CI and these development machines are root)",
        )
    missing = [t for t in ("mmdebstrap", "qemu-aarch64-static") if shutil.which(t) is None]
    if missing:
        raise RuntimeMissingError(
            f"The stand-in needs {', '.join(missing)}.", "apt-get install mmdebstrap qemu-user-static"
        )
    binfmt = Path("/proc/sys/fs/binfmt_misc")
    if not (binfmt / "register").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(binfmt)], capture_output=True)
    if not (binfmt / "qemu-aarch64").exists():
        conf = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")
        if not conf.is_file() or not (binfmt / "register").exists():
            raise RuntimeMissingError(
                "No binfmt_misc handler for aarch64 binaries.",
                "apt-get install qemu-user-static, and mount binfmt_misc (mount -t binfmt_misc none "
                "/proc/sys/fs/binfmt_misc)",
            )
        (binfmt / "register").write_text(conf.read_text().strip())


def _pi_files(root: Path) -> None:
    """A Pi 4's /proc/cpuinfo (bind-mounted at start) and the /sys entries LiteRT's cpuinfo reads."""
    cpuinfo = "".join(_CPUINFO_CORE.format(n=n) for n in range(4))
    cpuinfo += f"Hardware\t: BCM2835\nRevision\t: d03114\nSerial\t\t: 10000000c0ffee00\nModel\t\t: {RECIPE['board']}\n"
    (root / "etc" / "sentilite-cpuinfo").write_text(cpuinfo)
    cpu = root / "sys" / "devices" / "system" / "cpu"
    cpu.mkdir(parents=True, exist_ok=True)
    for name in ("possible", "present", "online"):
        (cpu / name).write_text("0-3\n")
    for n in range(4):
        freq = cpu / f"cpu{n}" / "cpufreq"
        freq.mkdir(parents=True, exist_ok=True)
        for name, value in (
            ("cpuinfo_max_freq", "1800000"),
            ("cpuinfo_min_freq", "600000"),
            ("scaling_cur_freq", "1800000"),
            ("scaling_governor", "ondemand"),
        ):
            (freq / name).write_text(value + "\n")
    zone = root / "sys" / "class" / "thermal" / "thermal_zone0"
    zone.mkdir(parents=True, exist_ok=True)
    (zone / "temp").write_text("45000\n")
    (zone / "type").write_text("cpu-thermal\n")
    (root / "etc" / "sentilite-standin").write_text(
        f"qemu-user aarch64, QEMU_CPU={RECIPE['cpu']} (sentilite Raspberry Pi stand-in, recipe {recipe_key()})\n"
    )


def _mounts(root: Path) -> list[tuple[list[str], Path]]:
    return [
        (["mount", "-t", "proc", "proc"], root / "proc"),
        (["mount", "--bind", str(root / "etc" / "sentilite-cpuinfo")], root / "proc" / "cpuinfo"),
        (["mount", "--bind", "/dev"], root / "dev"),
        (["mount", "--bind", "/dev/pts"], root / "dev" / "pts"),
    ]


def mount_all(root: Path) -> None:
    for cmd, target in _mounts(root):
        if subprocess.run(["mountpoint", "-q", str(target)]).returncode == 0 and target.name != "cpuinfo":
            continue
        subprocess.run(cmd + [str(target)], check=True, capture_output=True)


def unmount_all(root: Path) -> None:
    for _, target in reversed(_mounts(root)):
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


def _chroot(root: Path, *cmd: str) -> list[str]:
    return ["chroot", str(root), *cmd]


def build(force: bool = False, log: Log = print) -> Path:
    """Build (or reuse) the stand-in's root filesystem; returns the cache folder."""
    require_host()
    folder = cache_dir()
    root, done = folder / "rootfs", folder / "COMPLETE"
    if done.is_file() and root.is_dir() and not force:
        return folder
    stop(quiet=True)
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    userland = folder / "USERLAND"  # the mmdebstrap stage is kept when a later step fails
    if force or not (userland.is_file() and root.is_dir()):
        userland.unlink(missing_ok=True)
        if root.exists():
            unmount_all(root)
            shutil.rmtree(root)
        log(
            f"building the Raspberry Pi stand-in (Debian {RECIPE['suite']} {RECIPE['arch']}) in {root}; about 10 "
            f"minutes"
        )
        _run(
            [
                "mmdebstrap",
                f"--arch={RECIPE['arch']}",
                "--variant=apt",
                "--include=" + ",".join(RECIPE["packages"]),
                RECIPE["suite"],
                str(root),
            ],
            log,
        )
        userland.write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
    _pi_files(root)
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    # The stand-in trusts what this machine trusts (a proxy with its own CA, as on this project's
    # machines): its CA bundle is this machine's, at the path the inherited SSL/PIP variables name.
    host_ca = Path("/etc/ssl/certs/ca-certificates.crt")
    if host_ca.is_file():
        shutil.copy(host_ca, root / "etc" / "ssl" / "certs" / "ca-certificates.crt")
    env = {"QEMU_CPU": RECIPE["cpu"]}
    mount_all(root)
    try:
        if not (root / "opt" / "litert" / "bin" / "python").exists():
            _run(_chroot(root, "python3", "-m", "venv", "/opt/litert"), log, env)
        _run(_chroot(root, PYTHON, "-m", "pip", "install", "--quiet", "--no-cache-dir", *RECIPE["pip"]), log, env)
        if subprocess.run(_chroot(root, "id", USER), capture_output=True, env={**os.environ, **env}).returncode != 0:
            _run(_chroot(root, "useradd", "--create-home", "--shell", "/bin/bash", USER), log, env)
        # '*': no password, but not locked ('!'), which sshd refuses without PAM even for key logins
        _run(_chroot(root, "usermod", "-p", "*", USER), log, env)
        _run(_chroot(root, "ssh-keygen", "-A"), log, env)
    finally:
        unmount_all(root)
    key = folder / "id_ed25519"
    if not key.exists():
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sentilite-standin", "-f", str(key)], log)
    ssh_dir = root / "home" / USER / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text((folder / "id_ed25519.pub").read_text())
    uid, gid = _ids(root, USER)
    for p in (ssh_dir, ssh_dir / "authorized_keys"):
        os.chown(p, uid, gid)  # sshd reads authorized_keys as the user
    (root / "etc" / "ssh" / "sshd_config.d" / "sentilite.conf").write_text(
        "ListenAddress 127.0.0.1\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\n"
        f"UsePAM no\nStrictModes no\nPrintMotd no\nSetEnv QEMU_CPU={RECIPE['cpu']}\n"
    )
    (root / "run" / "sshd").mkdir(parents=True, exist_ok=True)
    done.write_text(
        json.dumps(
            {"recipe": RECIPE, "built": time.strftime("%Y-%m-%dT%H:%M:%S"), "seconds": round(time.monotonic() - t0)},
            indent=1,
        )
    )
    log(f"stand-in built in {time.monotonic() - t0:.0f} s")
    return folder


def _ids(root: Path, user: str) -> tuple[int, int]:
    for line in (root / "etc" / "passwd").read_text().splitlines():
        parts = line.split(":")
        if parts[0] == user:
            return int(parts[2]), int(parts[3])
    raise DeviceError(f"The stand-in has no user {user}.", "rebuild it: sentilite standin build --force")


# -- running it -------------------------------------------------------------------------------------


def _state_file() -> Path:
    return cache_dir() / "state.json"


def status() -> Optional[dict[str, Any]]:
    """``{"pid", "port", "device", "ssh_config", "remote_python"}`` of the running stand-in, else None."""
    try:
        state = json.loads(_state_file().read_text())
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return state


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_ssh_config(folder: Path, port: int) -> Path:
    path = folder / "ssh_config"
    path.write_text(
        f"Host *\n  User {USER}\n  IdentityFile {folder / 'id_ed25519'}\n  IdentitiesOnly yes\n"
        "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n"
    )
    path.chmod(0o600)
    return path


def _wait_for_ssh(device_port: int, config: Path, deadline: float) -> None:
    last = ""
    while time.monotonic() < deadline:
        proc = subprocess.run(
            [
                "ssh",
                "-F",
                str(config),
                "-p",
                str(device_port),
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=5",
                "127.0.0.1",
                "true",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if proc.returncode == 0:
            return
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
        time.sleep(1)
    raise DeviceError(
        f"The stand-in's sshd did not accept a login within the time limit ({last}).",
        "see sshd.log in the stand-in's cache folder",
    )


def start(port: Optional[int] = None, check: bool = True, log: Log = print) -> dict[str, Any]:
    """Build if needed, mount, start sshd on 127.0.0.1, run the self-check; returns :func:`status`."""
    running = status()
    if running:
        return running
    folder = build(log=log)
    root = folder / "rootfs"
    port = port or _free_port()
    mount_all(root)
    config = _write_ssh_config(folder, port)
    sshd_log = open(folder / "sshd.log", "ab")
    proc = subprocess.Popen(
        _chroot(root, "/usr/sbin/sshd", "-D", "-e", "-p", str(port)),
        stdout=sshd_log,
        stderr=sshd_log,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "QEMU_CPU": RECIPE["cpu"]},
        start_new_session=True,
    )
    state = {
        "pid": proc.pid,
        "port": port,
        "device": f"ssh://{USER}@127.0.0.1:{port}",
        "ssh_config": str(config),
        "remote_python": PYTHON,
        "root": str(root),
    }
    _state_file().write_text(json.dumps(state, indent=1))
    try:
        _wait_for_ssh(port, config, time.monotonic() + 180)
        log(f"stand-in up: {state['device']} (--ssh-config {config} --remote-python {PYTHON})")
        if check:
            from .standin_check import self_check

            self_check(state, log=log)
    except BaseException:
        stop(quiet=True)
        raise
    return state


def stop(quiet: bool = False) -> bool:
    """Stop sshd and unmount; True when something was running."""
    state = None
    try:
        state = json.loads(_state_file().read_text())
    except (OSError, ValueError):
        pass
    if state:
        try:
            os.killpg(int(state["pid"]), signal.SIGTERM)
            for _ in range(50):
                os.kill(int(state["pid"]), 0)
                time.sleep(0.1)
        except (OSError, ValueError, KeyError):
            pass
        _state_file().unlink(missing_ok=True)
    root = cache_dir() / "rootfs"
    if root.is_dir():
        unmount_all(root)
    if not quiet and state:
        print(f"stand-in stopped ({state.get('device')})")
    return state is not None
