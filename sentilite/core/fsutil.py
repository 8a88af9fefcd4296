"""File helpers: atomic writes (a temporary name in the same folder, then rename) and hashing.

A crash or Ctrl-C half way leaves the old file (or nothing), never a truncated one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, Union

PathLike = Union[str, os.PathLike]


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp makes the file private (0600); give the result the mode a plain open() would.
    os.chmod(tmp_path, _default_file_mode())
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _default_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)


def atomic_write_text(path: PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    # numpy scalars/arrays and paths show up in metrics; store them as plain JSON.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


#: errno values that mean "no room to write here": retrying elsewhere may work
_NO_ROOM = {"ENOSPC", "EDQUOT", "EFBIG", "EROFS"}


def is_no_room(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or quota, or a read-only mount) left no room to write."""
    import errno

    return isinstance(exc, OSError) and errno.errorcode.get(exc.errno or -1, "") in _NO_ROOM


def keep_elsewhere(name: str, text: str) -> Path | None:
    """Write ``text`` to a fresh folder in the system's temporary directory (another disk, often,
    when the output's is full); None when that fails too."""
    try:
        folder = Path(tempfile.mkdtemp(prefix="sentilite-kept-"))
        return atomic_write_text(folder / name, text)
    except OSError:
        return None


def sha256_file(path: PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    import hashlib  # here, not at the top: it maps OpenSSL (~3 MB RSS) into every device process

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
