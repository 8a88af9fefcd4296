"""Model files on disk: recognising .tflite / .keras files and carrying the contract inside them.

In a .tflite the contract is a JSON buffer referenced from the flatbuffer's ``metadata`` list
under :data:`CONTRACT_METADATA_NAME` (interpreters ignore unknown metadata). In a .keras file
(a zip) it is the entry :data:`KERAS_CONTRACT_ENTRY`, which Keras ignores when loading.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any, Optional, Union

from .contract import PreprocessContract
from .errors import ContractError, InputFileError, ModelFormatError
from .fsutil import atomic_path, atomic_write_bytes

PathLike = Union[str, os.PathLike]

CONTRACT_METADATA_NAME = "sentilite.contract"
#: Conversion facts (variant, I/O types, source model) stored next to the contract.
CONVERSION_METADATA_NAME = "sentilite.conversion"
KERAS_CONTRACT_ENTRY = "sentilite/contract.json"

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def detect_format(path: PathLike) -> str:
    """``tflite``, ``keras``, ``h5``, ``savedmodel`` or ``unknown``, judged by content, not suffix."""
    p = Path(path)
    if p.is_dir():
        return "savedmodel" if (p / "saved_model.pb").is_file() else "unknown"
    if not p.is_file():
        raise InputFileError(f"Model file not found: {p}.", "check the path")
    with open(p, "rb") as fh:
        head = fh.read(8)
    if len(head) >= 8 and head[4:8] == b"TFL3":
        return "tflite"
    if head == _HDF5_MAGIC:
        return "h5"
    if head[:2] == b"PK":
        # only .keras files need it: a device process running a .tflite never loads it
        from .bounded_read import has_zip, zip_names

        if not has_zip(p):
            return "unknown"
        names = set(zip_names(p, p.name))
        if "config.json" in names and ("model.weights.h5" in names or "metadata.json" in names):
            return "keras"
    return "unknown"


def require_format(path: PathLike, *allowed: str) -> str:
    """Detect the format and raise a clear error unless it is one of ``allowed``."""
    fmt = detect_format(path)
    if fmt not in allowed:
        what = {"unknown": "not a model file sentilite recognises"}.get(fmt, f"a {fmt} model")
        want = " or ".join(f".{a}" for a in allowed)
        raise ModelFormatError(f"{path} is {what}; expected a {want} model.", _format_fix(fmt, allowed))
    return fmt


def _format_fix(found: str, allowed: tuple[str, ...]) -> str:
    """The fix that fits what was given and what is wanted (convert wants a .keras, never a .tflite)."""
    if found == "h5":
        return "re-save it as .keras (keras.models.load_model(p).save('model.keras'))"
    if allowed == ("keras",):
        if found == "tflite":
            return (
                "pass the .keras model it was converted from (`sentilite train` writes model.keras); a .tflite "
                "cannot be converted again"
            )
        return "pass a .keras model from `sentilite train` (or one saved with Keras 3's model.save('model.keras'))"
    if allowed == ("tflite",):
        return "pass a .tflite from `sentilite convert`"
    return "pass a .tflite from `sentilite convert` or a .keras from `sentilite train`"


# -- TFLite flatbuffer metadata ---------------------------------------------------------------


def _schema() -> Any:
    """LiteRT's generated TFLite schema (a base dependency), or None on a tflite_runtime-only device.

    Never TensorFlow's copy: this module is on the device side (``.importlinter``).
    """
    try:
        from ai_edge_litert import schema_py_generated as schema

        return schema
    except ImportError:
        return None


def _read_metadata_minimal(data: bytes) -> dict[str, bytes]:
    """Read Model.metadata without the generated schema (for devices with only tflite_runtime).

    Follows the flatbuffer layout of schema.fbs: Model fields 4 (buffers) and 6 (metadata);
    Metadata fields 0 (name) and 1 (buffer index); Buffer field 0 (data).
    """

    def u32(off: int) -> int:
        return struct.unpack_from("<I", data, off)[0]

    def field(table: int, index: int) -> Optional[int]:
        vtable = table - struct.unpack_from("<i", data, table)[0]
        vt_len = struct.unpack_from("<H", data, vtable)[0]
        slot = 4 + 2 * index
        if slot >= vt_len:
            return None
        rel = struct.unpack_from("<H", data, vtable + slot)[0]
        return table + rel if rel else None

    def vector(pos: int) -> tuple[int, int]:
        start = pos + u32(pos)
        return start + 4, u32(start)

    root = u32(0)
    out: dict[str, bytes] = {}
    meta_pos, buf_pos = field(root, 6), field(root, 4)
    if meta_pos is None or buf_pos is None:
        return out
    mstart, mlen = vector(meta_pos)
    bstart, _ = vector(buf_pos)
    for i in range(mlen):
        entry = mstart + 4 * i + u32(mstart + 4 * i)
        name_pos, idx_pos = field(entry, 0), field(entry, 1)
        if name_pos is None:
            continue
        s, n = vector(name_pos)
        name = data[s : s + n].decode("utf-8", "replace")
        idx = u32(idx_pos) if idx_pos is not None else 0
        buffer = bstart + 4 * idx + u32(bstart + 4 * idx)
        data_pos = field(buffer, 0)
        if data_pos is None:
            out[name] = b""
            continue
        ds, dn = vector(data_pos)
        out[name] = bytes(data[ds : ds + dn])
    return out


def read_tflite_metadata(data: bytes) -> dict[str, bytes]:
    """All ``name -> bytes`` metadata entries of a TFLite flatbuffer."""
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelFormatError("Not a TFLite flatbuffer (no TFL3 identifier).", "pass a .tflite file")
    schema = _schema()
    try:
        if schema is None:
            return _read_metadata_minimal(data)
        model = schema.Model.GetRootAsModel(data, 0)
        out = {}
        for i in range(model.MetadataLength()):
            md = model.Metadata(i)
            buf = model.Buffers(md.Buffer())
            out[md.Name().decode("utf-8", "replace")] = bytes(buf.DataAsNumpy()) if buf.DataLength() else b""
        return out
    except (struct.error, IndexError, ValueError, TypeError) as exc:
        raise ModelFormatError(
            f"The TFLite flatbuffer is truncated or corrupt ({type(exc).__name__}: {exc}).",
            "copy or re-convert the .tflite file (a partial download or copy looks like this)",
        ) from None


def read_tflite_metadata_file(path: PathLike) -> dict[str, bytes]:
    """:func:`read_tflite_metadata` of a file, touching only the pages it needs.

    The file is memory-mapped and read with the schema-free reader, so loading a model for
    inference neither copies the whole flatbuffer nor imports the generated schema module
    (about 5 MB and 15 ms on the device side). Falls back to the full reader if the minimal
    one cannot follow the file.
    """
    import mmap

    with open(path, "rb") as fh:
        try:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError):  # empty file or no mmap: read it whole
            return read_tflite_metadata(fh.read())
    try:
        if len(mm) < 8 or mm[4:8] != b"TFL3":
            raise ModelFormatError("Not a TFLite flatbuffer (no TFL3 identifier).", "pass a .tflite file")
        try:
            return _read_metadata_minimal(mm)  # type: ignore[arg-type]
        except (struct.error, IndexError, ValueError):
            return read_tflite_metadata(mm[:])
    finally:
        mm.close()


def embed_tflite_metadata(data: bytes, entries: dict[str, bytes]) -> bytes:
    """Return a copy of the flatbuffer with ``entries`` added (same names are replaced)."""
    schema = _schema()
    if schema is None:
        raise ModelFormatError(
            "Writing TFLite metadata needs the TFLite schema from ai-edge-litert.", "pip install ai-edge-litert"
        )
    import flatbuffers
    import numpy as np

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    model.metadata = [m for m in (model.metadata or []) if m.name.decode() not in entries]
    for name, payload in entries.items():
        buf = schema.BufferT()
        buf.data = np.frombuffer(payload, dtype=np.uint8)
        model.buffers.append(buf)
        md = schema.MetadataT()
        md.name = name
        md.buffer = len(model.buffers) - 1
        model.metadata.append(md)
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


# -- contract I/O for both formats ------------------------------------------------------------


def read_contract(path: PathLike) -> Optional[PreprocessContract]:
    """The contract embedded in a .tflite or .keras file, or None when it has none."""
    fmt = require_format(path, "tflite", "keras")
    if fmt == "tflite":
        raw = read_tflite_metadata_file(path).get(CONTRACT_METADATA_NAME)
    else:
        from .bounded_read import read_zip_entry

        raw = read_zip_entry(path, KERAS_CONTRACT_ENTRY, Path(path).name)
    if not raw:
        return None
    try:
        return PreprocessContract.from_json(raw)
    except ContractError as exc:
        raise ContractError(f"{path}: {exc.problem}", exc.fix) from None


def read_conversion_facts(path: PathLike) -> dict[str, Any]:
    """Conversion facts stored by ``sentilite convert`` in a .tflite ({} when absent).

    They are informational (variant, calibration, converter), so an unreadable entry never stops
    a model from running: it comes back as ``{"unreadable": reason}``.
    """
    raw = read_tflite_metadata_file(path).get(CONVERSION_METADATA_NAME)
    if not raw:
        return {}
    try:
        facts = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return {"unreadable": f"the {CONVERSION_METADATA_NAME} metadata is not valid JSON ({exc})"}
    return (
        facts
        if isinstance(facts, dict)
        else {"unreadable": f"the {CONVERSION_METADATA_NAME} metadata is not a JSON object"}
    )


def require_contract(path: PathLike) -> PreprocessContract:
    """Like :func:`read_contract` but a missing contract is an error with a fix."""
    contract = read_contract(path)
    if contract is None:
        raise ContractError(
            f"{path} carries no sentilite preprocessing contract, so its input size, "
            "normalisation and labels are unknown.",
            "convert it with `sentilite convert` (or `sentilite convert --contract contract.json` for a "
            "model trained elsewhere)",
        )
    return contract


def write_contract_keras(path: PathLike, contract: PreprocessContract) -> None:
    """Store the contract inside a .keras zip (rewritten atomically)."""
    write_keras_entry(path, KERAS_CONTRACT_ENTRY, contract.to_json().encode())


def write_keras_entry(path: PathLike, name: str, payload: bytes) -> None:
    """Store ``payload`` as the zip entry ``name`` of a .keras file (rewritten atomically; Keras
    ignores entries it does not know)."""
    require_format(path, "keras")
    with atomic_path(path) as tmp:
        import zipfile

        with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as dst:
            for item in src.infolist():
                if item.filename != name:
                    dst.writestr(item, src.read(item.filename))
            dst.writestr(name, payload)


def _float_input(data: bytes) -> bool:
    """Whether the flatbuffer's first input tensor is float32 (LiteRT's schema; True where unknown)."""
    schema = _schema()
    if schema is None:
        return True
    model = schema.Model.GetRootAsModel(data, 0)
    graph = model.Subgraphs(0)
    return graph.Tensors(graph.Inputs(0)).Type() == schema.TensorType.FLOAT32


def write_tflite(
    path: PathLike,
    data: bytes,
    contract: PreprocessContract,
    conversion: Optional[dict[str, Any]] = None,
    standard: Optional[dict[str, str]] = None,
    extra: Optional[dict[str, bytes]] = None,
) -> Path:
    """Write a .tflite with its contract embedded, atomically (never a half-written file).

    It also carries the standard TFLite Model Metadata (image properties, normalisation for a
    float input, the labels file) that MediaPipe and Android tooling read; ``standard`` gives
    its name, description, version, author and license (defaults from the contract and facts).
    """
    from .tflite_metadata import METADATA_NAME, append_label_file, build_model_metadata, head_outputs

    facts = conversion or {}
    variant = facts.get("variant", "")
    info = {
        "name": f"sentilite image sentiment ({variant})" if variant else "sentilite image sentiment",
        "description": f"Scene sentiment ({', '.join(contract.labels)}) of a photo. Input: {contract.describe()}. "
        "Made with sentilite; its preprocessing contract is in the sentilite.contract metadata.",
        "version": str(facts.get("created") or "1"),
        "author": "",
        "license": "",
        **(standard or {}),
    }
    outputs = None
    if contract.heads:  # one metadata entry per output, in the file's own output order
        order = file_output_order(data, contract, path, facts.get("outputs"))
        by_head = head_outputs(contract)
        outputs = [by_head[order.index(i)] for i in range(len(order))]
    entries = {
        CONTRACT_METADATA_NAME: contract.to_json(indent=None).encode(),
        METADATA_NAME: build_model_metadata(contract, float_input=_float_input(data), outputs=outputs, **info),
    }
    if conversion is not None:
        entries[CONVERSION_METADATA_NAME] = json.dumps(conversion).encode()
    entries.update(extra or {})  # e.g. a semantic head's vocabulary (core.vocabulary_file)
    more = {o.labels_file: o.labels for o in outputs or [] if o.labels_file and o.name != "sentiment"}
    atomic_write_bytes(path, append_label_file(embed_tflite_metadata(data, entries), tuple(contract.labels), more))
    return Path(path)


def file_output_order(
    data: bytes, contract: PreprocessContract, path: object = "the model", declared: Optional[list[str]] = None
) -> list[int]:
    """For the sentiment head then each of the contract's heads, the index of the file's output
    holding it (see :func:`sentilite.core.heads.match_outputs`)."""
    from .heads import output_order
    from .runtime import make_interpreter

    interp, _ = make_interpreter(data)
    return output_order(interp.get_output_details(), contract.num_classes, contract.heads, path, declared)
