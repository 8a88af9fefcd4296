"""Reading untrusted containers within explicit budgets: zip entries and JSON files.

A model file carries a zip (the labels file appended to a .tflite; a whole .keras archive), and a
model may come with a JSON sidecar. Each can be small on disk and huge once read: a 100 KB
labels entry that inflates to 100 MB, a zip of a million entries, a JSON file of gigabytes.
Every read here stops at its budget before allocating past it, and a damaged container is an
error naming the file and the fix, never zlib's ``Error -3 while decompressing data``.
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any, Union

from .errors import ModelFormatError

PathLike = Union[str, os.PathLike]

#: entries a model's zip may hold (a .keras archive has 3 or 4; a TFLite metadata zip, 1 or 2)
MAX_ZIP_ENTRIES = 256
#: inflated size of one small text entry: a labels file, a contract, a config
MAX_TEXT_ENTRY_BYTES = 8 * 2**20
#: a JSON sidecar (model card, contract file)
MAX_JSON_BYTES = 8 * 2**20


class BudgetExceeded(ModelFormatError):
    """A container holds more than its budget allows (entries, inflated bytes)."""


def _as_file(source: Union[PathLike, bytes, IO[bytes]]) -> Any:
    """A path or file object as it is; bytes wrapped in a file object."""
    return io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source


def _open_zip(source: Union[PathLike, bytes, IO[bytes]], label: str) -> zipfile.ZipFile:
    fp = _as_file(source)
    try:
        zf = zipfile.ZipFile(fp)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ModelFormatError(f"{label} is damaged ({exc}).", _REPAIR) from None
    if len(zf.infolist()) > MAX_ZIP_ENTRIES:
        n = len(zf.infolist())
        zf.close()
        raise BudgetExceeded(f"{label} holds a zip of {n} entries (at most {MAX_ZIP_ENTRIES} are read).", _REPAIR)
    return zf


_REPAIR = (
    "re-convert the model with `sentilite convert`, or copy it again from its source (was it damaged or tampered with?)"
)


def has_zip(source: Union[PathLike, bytes]) -> bool:
    """Whether ``source`` ends in a zip directory (a .tflite without metadata files has none)."""
    return zipfile.is_zipfile(_as_file(source))


def zip_names(source: Union[PathLike, bytes, IO[bytes]], label: str) -> list[str]:
    """The entry names of a zip, refusing a damaged one or one with too many entries."""
    with _open_zip(source, label) as zf:
        return zf.namelist()


def read_zip_entry(
    source: Union[PathLike, bytes, IO[bytes]], name: str, label: str, max_bytes: int = MAX_TEXT_ENTRY_BYTES
) -> bytes | None:
    """Entry ``name`` of a zip inflated in chunks, stopping past ``max_bytes`` (the size the
    directory declares is not trusted); None when there is no such entry.

    Args:
        source: a path, the bytes of a file holding a zip (a zip appended to a .tflite works), or a file object.
        name: the entry.
        label: how errors name the container, e.g. ``"model.tflite's metadata"``.
        max_bytes: the budget of the inflated entry.

    Raises:
        BudgetExceeded: the entry inflates past ``max_bytes``, or the zip has too many entries.
        ModelFormatError: the zip or the entry is damaged.
    """
    with _open_zip(source, label) as zf:
        try:
            info = zf.getinfo(name)
        except KeyError:
            return None
        if info.file_size > max_bytes:
            raise BudgetExceeded(
                f"{label}: entry {name} declares {info.file_size} bytes (at most {max_bytes} are read).", _REPAIR
            )
        out, size = [], 0
        try:
            with zf.open(info) as fh:
                while chunk := fh.read(1 << 16):
                    size += len(chunk)
                    if size > max_bytes:
                        raise BudgetExceeded(f"{label}: entry {name} inflates past {max_bytes} bytes.", _REPAIR)
                    out.append(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
            raise ModelFormatError(f"{label}: entry {name} is damaged ({exc}).", _REPAIR) from None
        return b"".join(out)


def read_json_file(path: PathLike, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """A JSON file of at most ``max_bytes``; ValueError (with the reason) when larger or invalid."""
    p = Path(path)
    if not p.is_file():  # a FIFO or a device would block or never end
        raise ValueError(f"{p} is not a regular file")
    size = p.stat().st_size
    if size > max_bytes:
        raise ValueError(f"{p} is {size} bytes, over the {max_bytes}-byte budget for a JSON file")
    with open(p, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew since stat: a FIFO or a file being written
        raise ValueError(f"{p} is over the {max_bytes}-byte budget for a JSON file")
    import json

    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError(f"{p} nests deeper than Python's JSON reader can follow") from None
