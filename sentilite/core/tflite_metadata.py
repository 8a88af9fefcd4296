"""Standard TFLite Model Metadata: what MediaPipe, Android Studio's ML binding and the LiteRT
Support Library read from a .tflite (next to sentilite's own ``sentilite.contract`` entry).

Written with the ``flatbuffers`` builder against the metadata schema (``metadata_schema.fbs``,
file identifier ``M001``, stored as the model's ``TFLITE_METADATA`` buffer): the model's name,
description, version, author and licence; the input's image properties (RGB, the contract's
size) with NormalizationOptions when the input is float; the output's labels as an associated
``labels.txt`` of type TENSOR_AXIS_LABELS, packed in a zip appended to the flatbuffer (the
format's convention); and the minimum parser version. Field slots follow the schema: a union
field takes two slots (its type, then its value).

Read back by :func:`read_standard_metadata` without any schema module, so ``sentilite info``
shows it, and checks it against the contract, on a device too.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from .contract import PreprocessContract

METADATA_NAME = "TFLITE_METADATA"
IDENTIFIER = b"M001"
LABEL_FILE = "labels.txt"
MIN_PARSER_VERSION = "1.0.0"  # image properties, normalization options and axis labels are all 1.0.0 features
_IMAGE_PROPERTIES, _NORMALIZATION_OPTIONS, _RGB, _TENSOR_AXIS_LABELS = 2, 1, 1, 2


def build_model_metadata(
    contract: PreprocessContract,
    *,
    float_input: bool,
    name: str,
    description: str,
    version: str,
    author: str = "",
    license: str = "",
    outputs: Optional[list[OutputMeta]] = None,
) -> bytes:  # noqa: A002 - the schema's field name
    """The ``TFLITE_METADATA`` flatbuffer for an image classifier with ``contract``; ``outputs``
    describe the file's outputs in its order (default: the one sentiment output)."""
    import flatbuffers

    b = flatbuffers.Builder(1024)
    s = {
        k: b.CreateString(v)
        for k, v in (
            ("name", name),
            ("description", description),
            ("version", version),
            ("author", author),
            ("license", license),
            ("min", MIN_PARSER_VERSION),
            ("in", "image"),
            ("in_desc", f"RGB image, {contract.describe()}"),
        )
    }
    # input: ImageProperties(color_space RGB, default_size), and NormalizationOptions for a float input
    b.StartObject(2)
    b.PrependUint32Slot(0, contract.width, 0)
    b.PrependUint32Slot(1, contract.height, 0)
    size = b.EndObject()
    b.StartObject(2)
    b.PrependInt8Slot(0, _RGB, 0)
    b.PrependUOffsetTRelativeSlot(1, size, 0)
    image_props = b.EndObject()
    b.StartObject(3)
    b.PrependUint8Slot(0, _IMAGE_PROPERTIES, 0)
    b.PrependUOffsetTRelativeSlot(1, image_props, 0)
    content = b.EndObject()
    units = _normalization_units(b, contract) if float_input else None
    b.StartObject(7)
    b.PrependUOffsetTRelativeSlot(0, s["in"], 0)
    b.PrependUOffsetTRelativeSlot(1, s["in_desc"], 0)
    b.PrependUOffsetTRelativeSlot(3, content, 0)
    if units is not None:
        b.PrependUOffsetTRelativeSlot(4, units, 0)
    input_md = b.EndObject()
    output_mds = [_output_metadata(b, o) for o in (outputs or [sentiment_output(contract)])]
    inputs, outputs_vec = _offset_vector(b, [input_md]), _offset_vector(b, output_mds)
    b.StartObject(10)
    b.PrependUOffsetTRelativeSlot(2, inputs, 0)
    b.PrependUOffsetTRelativeSlot(3, outputs_vec, 0)
    subgraph = b.EndObject()
    subgraphs = _offset_vector(b, [subgraph])
    b.StartObject(8)
    for slot, key in ((0, "name"), (1, "description"), (2, "version"), (4, "author"), (5, "license"), (7, "min")):
        b.PrependUOffsetTRelativeSlot(slot, s[key], 0)
    b.PrependUOffsetTRelativeSlot(3, subgraphs, 0)
    b.Finish(b.EndObject(), file_identifier=IDENTIFIER)
    return bytes(b.Output())


@dataclass(frozen=True)
class OutputMeta:
    """One output tensor's metadata: the head's name (what MediaPipe calls the classification head),
    a description, and its labels file (None for values without labels, e.g. valence/arousal)."""

    name: str
    description: str
    labels_file: Optional[str] = None
    labels: tuple[str, ...] = ()


def sentiment_output(contract: PreprocessContract, name: str = "probability") -> OutputMeta:
    """The sentiment output, with ``labels.txt``."""
    return OutputMeta(name, "Probabilities of " + ", ".join(contract.labels), LABEL_FILE, tuple(contract.labels))


def head_outputs(contract: PreprocessContract) -> list[OutputMeta]:
    """Sentiment then each extra head, in the contract's order, each named after its head."""
    out = [sentiment_output(contract, "sentiment")]
    for h in contract.heads:
        if h.kind == "distribution":
            desc = "Probabilities of " + ", ".join(h.labels)
            out.append(OutputMeta(h.name, desc, f"{h.name}_labels.txt", h.labels))
        elif h.kind == "embedding":
            out.append(OutputMeta(h.name, f"Unit-length {h.dims}-d embedding in the GloVe 6B word-vector space"))
        else:
            lo, hi = h.scale or (0.0, 0.0)
            out.append(OutputMeta(h.name, f"{', '.join(h.labels)} on a {lo:g}-{hi:g} scale, in this order"))
    return out


def _output_metadata(b: Any, o: OutputMeta) -> int:
    name, desc = b.CreateString(o.name), b.CreateString(o.description)
    files = None
    if o.labels_file:
        fname = b.CreateString(o.labels_file)
        fdesc = b.CreateString("Labels of this output's classes, one per line, in output order.")
        b.StartObject(5)
        b.PrependUOffsetTRelativeSlot(0, fname, 0)
        b.PrependUOffsetTRelativeSlot(1, fdesc, 0)
        b.PrependInt8Slot(2, _TENSOR_AXIS_LABELS, 0)
        files = _offset_vector(b, [b.EndObject()])
    b.StartObject(7)
    b.PrependUOffsetTRelativeSlot(0, name, 0)
    b.PrependUOffsetTRelativeSlot(1, desc, 0)
    if files is not None:
        b.PrependUOffsetTRelativeSlot(6, files, 0)
    return b.EndObject()


def _normalization_units(b: Any, contract: PreprocessContract) -> int:
    """The input's process units: NormalizationOptions, the schema's (pixel - mean) / std on 0-255
    pixels, i.e. the contract's normalisation scaled by 255."""
    mean = b.CreateNumpyVector(np.asarray(contract.norm.mean, np.float32) * 255.0)
    std = b.CreateNumpyVector(np.asarray(contract.norm.std, np.float32) * 255.0)
    b.StartObject(2)
    b.PrependUOffsetTRelativeSlot(0, mean, 0)
    b.PrependUOffsetTRelativeSlot(1, std, 0)
    norm = b.EndObject()
    b.StartObject(2)
    b.PrependUint8Slot(0, _NORMALIZATION_OPTIONS, 0)
    b.PrependUOffsetTRelativeSlot(1, norm, 0)
    unit = b.EndObject()
    return _offset_vector(b, [unit])


def _offset_vector(b: Any, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def append_label_file(
    model: bytes, labels: tuple[str, ...], more: Optional[dict[str, tuple[str, ...]]] = None
) -> bytes:
    """The flatbuffer with a zip holding ``labels.txt`` (and ``more`` label files by name) appended
    (how associated files travel)."""
    import zipfile

    buf = io.BytesIO(model)
    buf.seek(0, io.SEEK_END)
    with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_STORED) as zf:
        for name, names in {LABEL_FILE: labels, **(more or {})}.items():
            zf.writestr(name, "\n".join(names) + "\n")
    return buf.getvalue()


# -- reading, without a schema module ----------------------------------------------------------------


class _Table:
    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos = data, pos
        self.vtable = pos - struct.unpack_from("<i", data, pos)[0]
        self.vt_len = struct.unpack_from("<H", data, self.vtable)[0]

    def _field(self, slot: int) -> Optional[int]:
        off = 4 + 2 * slot
        if off >= self.vt_len:
            return None
        rel = struct.unpack_from("<H", self.data, self.vtable + off)[0]
        return self.pos + rel if rel else None

    def scalar(self, slot: int, fmt: str, default: Any = 0) -> Any:
        at = self._field(slot)
        return struct.unpack_from("<" + fmt, self.data, at)[0] if at is not None else default

    def _deref(self, at: int) -> int:
        return at + struct.unpack_from("<I", self.data, at)[0]

    def string(self, slot: int) -> Optional[str]:
        at = self._field(slot)
        if at is None:
            return None
        start = self._deref(at)
        n = struct.unpack_from("<I", self.data, start)[0]
        return self.data[start + 4 : start + 4 + n].decode("utf-8", "replace")

    def table(self, slot: int) -> Optional[_Table]:
        at = self._field(slot)
        return _Table(self.data, self._deref(at)) if at is not None else None

    def tables(self, slot: int) -> list[_Table]:
        at = self._field(slot)
        if at is None:
            return []
        start = self._deref(at)
        n = struct.unpack_from("<I", self.data, start)[0]
        return [_Table(self.data, self._deref(start + 4 + 4 * i)) for i in range(n)]

    def floats(self, slot: int) -> list[float]:
        at = self._field(slot)
        if at is None:
            return []
        start = self._deref(at)
        n = struct.unpack_from("<I", self.data, start)[0]
        return list(struct.unpack_from(f"<{n}f", self.data, start + 4))


def parse_model_metadata(buf: bytes) -> dict[str, Any]:
    """The parts of a ``TFLITE_METADATA`` buffer that matter for an image classifier."""
    if buf[4:8] != IDENTIFIER:
        raise ValueError("not a TFLite metadata buffer (no M001 identifier)")
    root = _Table(buf, struct.unpack_from("<I", buf, 0)[0])
    sub = (root.tables(3) or [None])[0]
    out: dict[str, Any] = {
        k: root.string(i)
        for k, i in (
            ("name", 0),
            ("description", 1),
            ("version", 2),
            ("author", 4),
            ("license", 5),
            ("min_parser_version", 7),
        )
    }
    inp = (sub.tables(2) if sub else [None])[0]
    if inp is not None:
        content = inp.table(3)
        props = content.table(1) if content is not None and content.scalar(0, "B") == _IMAGE_PROPERTIES else None
        size = props.table(1) if props is not None else None
        out["input"] = {
            "name": inp.string(0),
            "color_space": {1: "RGB", 2: "GRAYSCALE"}.get(props.scalar(0, "b")) if props else None,
            "size": [size.scalar(0, "I"), size.scalar(1, "I")] if size is not None else None,
        }
        for unit in inp.tables(4):
            if unit.scalar(0, "B") == _NORMALIZATION_OPTIONS:
                norm = unit.table(1)
                out["input"]["normalization"] = {"mean": norm.floats(0), "std": norm.floats(1)}
    outs = [
        {"name": o.string(0), "files": [{"name": f.string(0), "type": f.scalar(2, "b")} for f in o.tables(6)]}
        for o in (sub.tables(3) if sub else [])
    ]
    if outs:
        out["output"], out["outputs"] = outs[0], outs
    return out


#: a labels file of more lines than this is not one (ImageNet's has 1,000)
MAX_LABELS = 100_000


def read_label_file(model_bytes: bytes, name: str = LABEL_FILE, label: str = "the model") -> Optional[list[str]]:
    """The labels packed in the zip appended to the model, or None when there is no such file.

    Raises:
        ModelFormatError: the zip is damaged, or the file is over its budget (see ``bounded_read``).
    """
    from .bounded_read import BudgetExceeded, has_zip, read_zip_entry

    if not has_zip(model_bytes):
        return None
    raw = read_zip_entry(model_bytes, name, f"{label}'s metadata zip", max_bytes=2**20)
    if raw is None:
        return None
    lines = [ln for ln in raw.decode("utf-8", "replace").splitlines() if ln.strip()]
    if len(lines) > MAX_LABELS:
        raise BudgetExceeded(
            f"{label}'s labels file has {len(lines)} lines (at most {MAX_LABELS}).",
            "re-convert the model with `sentilite convert`",
        )
    return lines


def disagreements(std: dict[str, Any], contract: PreprocessContract, labels: Optional[list[str]]) -> list[str]:
    """Where the standard metadata and the sentilite contract say different things."""
    out = []
    inp = std.get("input") or {}
    if inp.get("size") and inp["size"] != [contract.width, contract.height]:
        out.append(
            f"standard metadata says a {inp['size'][0]}x{inp['size'][1]} input, the contract "
            f"{contract.width}x{contract.height}"
        )
    norm = inp.get("normalization")
    if norm:
        want_mean = [m * 255.0 for m in contract.norm.mean]
        want_std = [v * 255.0 for v in contract.norm.std]
        if not (np.allclose(norm["mean"], want_mean, atol=1e-3) and np.allclose(norm["std"], want_std, atol=1e-3)):
            out.append(
                f"standard metadata normalises with mean {norm['mean']} / std {norm['std']}, the contract with "
                f"{contract.norm.name} ({want_mean} / {want_std} on 0-255 pixels)"
            )
    if labels is not None and list(labels) != list(contract.labels):
        out.append(f"the labels file says {labels}, the contract {list(contract.labels)}")
    if norm and (len(set(norm["mean"])) > 1 or len(set(norm["std"])) > 1):
        out.append(
            "per-channel normalisation: MediaPipe's ImageClassifier (1.2.3) takes one mean/std for all channels and "
            "refuses this float model (Android's Support Library reads it); the integer variants feed raw pixels there"
        )
    return out
