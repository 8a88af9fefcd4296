"""The output folder of a conversion: checked before work starts, filled in a hidden staging
folder beside it, and swapped into place only when everything succeeded.

A staging folder holds an owner file (process id and host). Ctrl-C and SIGTERM remove it; a
SIGKILL or a power cut cannot, so each conversion first removes the staging folders of its own
``--out`` whose owner process is gone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Iterator, Optional

from sentilite.core.errors import InputFileError
from sentilite.core.signals import raise_if_terminated

OWNER_FILE = ".sentilite-owner"

#: Files a conversion writes; an existing --out holding anything else is never replaced.
_OWN_SUFFIXES = (".tflite", ".png")
_OWN_NAMES = ("report.md", "report.json", "report.csv")


def check_out_dir(out: Path, overwrite: bool) -> None:
    """Refuse an output folder that is a file, or not empty without --overwrite, or not ours."""
    if out.exists() and not out.is_dir():
        raise InputFileError(f"Output path {out} exists and is not a folder.", "choose another --out")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not overwrite:
        raise InputFileError(
            f"Output folder {out} already exists and is not empty.",
            "pass --overwrite to replace it, or choose another --out",
        )
    foreign = [
        p.name for p in out.iterdir() if not (p.is_file() and (p.suffix in _OWN_SUFFIXES or p.name in _OWN_NAMES))
    ]
    if foreign:
        raise InputFileError(
            f"Output folder {out} holds files `sentilite convert` did not write ({', '.join(sorted(foreign)[:5])}); "
            "--overwrite only replaces a previous conversion's folder.",
            "choose another --out, or empty that folder yourself",
        )


@contextlib.contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A fresh staging folder beside ``out``; moved to ``out`` on success, removed on any failure."""
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_stages(out)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(stage, 0o777 & ~mask)  # mkdtemp makes it private; the result is an ordinary folder
    try:
        (stage / OWNER_FILE).write_text(f"{os.getpid()} {socket.gethostname()}\n")
        yield stage
        raise_if_terminated()  # a SIGTERM whose exception something swallowed never commits
        (stage / OWNER_FILE).unlink(missing_ok=True)
        _commit(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _owner_alive(folder: Path) -> bool:
    """Whether the process named in the folder's owner file still runs (on this host). A folder
    without a readable owner file is judged alive: it may be another tool's, or just made."""
    try:
        pid_text, host = (folder / OWNER_FILE).read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return True
    if host != socket.gethostname():
        return True  # a shared folder written from another machine: not ours to judge
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_stages(out: Path) -> list[str]:
    """Remove ``.OUT.partial-*`` folders beside ``out`` whose owner process is gone; their names."""
    removed = []
    for folder in sorted(out.parent.glob(f".{out.name}.partial-*")):
        if folder.is_dir() and not folder.is_symlink() and not _owner_alive(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


def _commit(stage: Path, out: Path) -> None:
    """Move the finished staging folder to ``out`` (replacing a previous conversion's folder)."""
    old: Optional[Path] = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.rmdir(old)
        os.replace(out, old)
    try:
        os.replace(stage, out)
    except BaseException:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
