"""Cut a .tflite model into one-op models: the units that ``sentilite profile`` times.

The LiteRT Python API has no per-op profiler, so each operator of the model is copied into a
model of its own with its real weights, quantisation and options; its graph inputs are the
op's non-constant inputs and its outputs are the op's outputs. Timing that model on the device
gives the op's own time under the same kernels (XNNPACK takes the one-op model or leaves it to
the builtin kernels, exactly as it decides per op in the whole graph).

A DEQUANTIZE of a constant (float16 weights, hybrid depthwise weights) is kept with the op that
reads it: a weight fed as a graph input would stop XNNPACK from packing it, which the whole
model never does. Host side only (LiteRT's flatbuffer schema, no TensorFlow).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from math import prod
from typing import TYPE_CHECKING, Optional

from sentilite.core.errors import InputFileError

if TYPE_CHECKING:
    from ai_edge_litert import schema_py_generated as schema_fb

#: ops whose work is multiply-accumulates (their weights are input 1; count_macs says how many)
_MAC_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL", "CONV_3D")
#: ops that call other subgraphs: they cannot be cut out alone
_CONTROL_OPS = ("WHILE", "IF", "CALL_ONCE", "CALL", "STABLEHLO_WHILE", "STABLEHLO_CASE")
#: the last part of a tensor name that says which op of a Keras layer made it: the layer's main op
#: first (a fused conv's name also lists its batch norm and activation)
_MAIN_WORDS = re.compile(r"^(convolution|depthwise|Conv2D|MatMul|Mean|Pad|Softmax|concat|Reshape)$")
_OP_WORDS = re.compile(r"^(BiasAdd|add|Add|mul|Relu6|Relu|Squeeze\d*)$")


@dataclass(frozen=True)
class OpUnit:
    """One operator of the model (with the constant DEQUANTIZEs it reads) as a model of its own."""

    index: int  # the op's position in the model's execution order
    op: str  # builtin name, e.g. CONV_2D
    held: tuple[int, ...]  # every original op index this unit holds (the op last)
    outputs: tuple[str, ...]  # its output tensor names (the key Model Explorer matches on)
    shape: tuple[int, ...]  # its first output's shape
    dtype: str  # its first output's type
    macs: int  # multiply-accumulates per invoke (0 for ops that do none)
    layer: Optional[str]  # the Keras layer it came from, read off the tensor names
    data: Optional[bytes] = field(default=None, repr=False)  # the one-op .tflite; None: cannot stand alone
    note: str = ""
    absorbed_into: Optional[int] = None  # timed inside that op's unit (a PAD XNNPACK fuses into its conv)

    def describe(self) -> dict[str, object]:
        return {
            "index": self.index,
            "op": self.op,
            "held_ops": list(self.held),
            "outputs": list(self.outputs),
            "shape": list(self.shape),
            "dtype": self.dtype,
            "macs": self.macs,
            "layer": self.layer,
            "note": self.note,
            "absorbed_into": self.absorbed_into,
        }


def _schema():  # noqa: ANN202 - the generated module
    from ai_edge_litert import schema_py_generated as schema

    return schema


def _names(schema) -> dict[int, str]:  # noqa: ANN001
    return {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)}


def _types(schema) -> dict[int, str]:  # noqa: ANN001
    return {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_") and isinstance(v, int)}


def op_name(model: schema_fb.ModelT, op: schema_fb.OperatorT, names: dict[int, str]) -> str:
    code = model.operatorCodes[op.opcodeIndex]
    builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
    if names.get(builtin) == "CUSTOM":
        custom = code.customCode or b""
        return "CUSTOM:" + (custom.decode("utf-8", "replace") if isinstance(custom, bytes) else str(custom))
    return names.get(builtin, f"OP{builtin}")


def _is_constant(model: schema_fb.ModelT, tensor: int) -> bool:
    t = model.subgraphs[0].tensors[tensor]
    buf = model.buffers[t.buffer] if 0 <= t.buffer < len(model.buffers) else None
    return buf is not None and buf.data is not None and len(buf.data) > 0


def keras_layer(tensor_name: str) -> Optional[str]:
    """The Keras layer a tensor came from: ``.../stem_conv_1/convolution;...`` -> ``stem_conv``."""
    parts = [p for p in tensor_name.split(";") if "/" in p]
    if not parts:
        return None
    main = next(
        (p for p in parts if _MAIN_WORDS.match(p.rsplit("/", 1)[1])),
        next((p for p in parts if _OP_WORDS.match(p.rsplit("/", 1)[1])), parts[0]),
    )
    pieces = main.split("/")
    layer = pieces[-2] if len(pieces) >= 2 else pieces[0]
    return re.sub(r"_\d+$", "", layer) or None


def count_macs(op: str, in_shapes: list[list[int]], out_shape: list[int]) -> int:
    """Multiply-accumulates of one invoke of ``op`` (0 for ops without a weight product)."""
    if op not in _MAC_OPS or len(in_shapes) < 2 or not out_shape:
        return 0
    w = in_shapes[1]
    out = prod(out_shape)
    if op == "CONV_2D" and len(w) == 4:  # [Cout, kh, kw, Cin]
        return out * w[1] * w[2] * w[3]
    if op == "DEPTHWISE_CONV_2D" and len(w) == 4:  # [1, kh, kw, Cout]
        return out * w[1] * w[2]
    if op == "FULLY_CONNECTED" and len(w) == 2:  # [units, in]
        return out * w[1]
    if op == "TRANSPOSE_CONV" and len(w) == 4 and len(in_shapes) > 2:  # [Cout, kh, kw, Cin], input 2
        return prod(in_shapes[2]) * w[0] * w[1] * w[2]
    if op == "BATCH_MATMUL":
        return out * in_shapes[0][-1]
    if op == "CONV_3D" and len(w) == 5:  # [kd, kh, kw, Cin, Cout]
        return out * w[0] * w[1] * w[2] * w[3]
    return 0


def _pack(model: schema_fb.ModelT) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(1 << 16)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _one_op_model(model: schema_fb.ModelT, held: list[int], schema) -> bytes:  # noqa: ANN001
    """A model holding the ops ``held`` (in order) with their tensors, weights and options."""
    import copy

    sg = model.subgraphs[0]
    ops = [sg.operators[i] for i in held]
    produced = {t for o in ops for t in o.outputs if t >= 0}
    used: list[int] = []
    for o in ops:
        for t in [*o.inputs, *o.outputs, *(o.intermediates if o.intermediates is not None else [])]:
            if t >= 0 and t not in used:
                used.append(t)
    remap = {old: new for new, old in enumerate(used)}
    out = schema.ModelT()
    out.version, out.description = model.version, b"sentilite profile: one op"
    out.buffers, out.operatorCodes, codes = [schema.BufferT()], [], {}
    tensors = []
    for old in used:
        t = copy.copy(sg.tensors[old])
        buf = schema.BufferT()
        if _is_constant(model, old):
            buf.data = model.buffers[sg.tensors[old].buffer].data
        out.buffers.append(buf)
        t.buffer = len(out.buffers) - 1
        tensors.append(t)
    new_ops = []
    for o in ops:
        n = copy.copy(o)
        if o.opcodeIndex not in codes:
            codes[o.opcodeIndex] = len(out.operatorCodes)
            out.operatorCodes.append(model.operatorCodes[o.opcodeIndex])
        n.opcodeIndex = codes[o.opcodeIndex]
        n.inputs = [remap[t] if t >= 0 else -1 for t in o.inputs]
        n.outputs = [remap[t] for t in o.outputs]
        if o.intermediates is not None:
            n.intermediates = [remap[t] for t in o.intermediates]
        new_ops.append(n)
    graph = schema.SubGraphT()
    graph.tensors, graph.operators, graph.name = tensors, new_ops, b"main"
    graph.inputs = [
        remap[t] for o in ops for t in o.inputs if t >= 0 and t not in produced and not _is_constant(model, t)
    ]
    graph.inputs = list(dict.fromkeys(graph.inputs))
    graph.outputs = [remap[t] for t in ops[-1].outputs]
    out.subgraphs = [graph]
    return _pack(out)


def calibration_model() -> bytes:
    """A model of one ADD of two 1-element float32 tensors: the fixed cost of one invoke()."""
    schema = _schema()
    model = schema.ModelT()
    model.version, model.description = 3, b"sentilite profile: invoke overhead"
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.ADD
    code.version = 1
    model.operatorCodes, model.buffers = [code], [schema.BufferT() for _ in range(4)]
    tensors = []
    for i, name in enumerate((b"a", b"b", b"sum")):
        t = schema.TensorT()
        t.shape, t.type, t.buffer, t.name = [1], schema.TensorType.FLOAT32, i + 1, name
        tensors.append(t)
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1], [2]
    op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.AddOptions, schema.AddOptionsT()
    graph = schema.SubGraphT()
    graph.tensors, graph.operators, graph.inputs, graph.outputs = tensors, [op], [0, 1], [2]
    model.subgraphs = [graph]
    return _pack(model)


def _read(data: bytes) -> schema_fb.ModelT:
    schema = _schema()
    try:
        model = schema.ModelT.InitFromPackedBuf(data, 0)
    except Exception as exc:  # the flatbuffer library raises anything on a foreign file
        raise InputFileError(
            f"Cannot read the model's flatbuffer ({type(exc).__name__}: {exc}).", "profile a .tflite file"
        ) from None
    if not model.subgraphs:
        raise InputFileError("The model has no subgraph to profile.", "profile a .tflite file written by a converter")
    if any(b.offset for b in model.buffers if getattr(b, "offset", 0)):
        raise InputFileError(
            "The model keeps its weights outside the flatbuffer (a >2 GB layout); profile cannot cut it.",
            "profile a model under 2 GB",
        )
    return model


def _fused_pads(model: schema_fb.ModelT, names: dict[int, str]) -> dict[int, int]:
    """PAD op -> the convolution it feeds alone: XNNPACK fuses such a PAD into the convolution
    (measured: PAD + CONV_2D as one model takes the time of the CONV_2D alone)."""
    sg = model.subgraphs[0]
    readers: dict[int, list[int]] = {}
    for i, o in enumerate(sg.operators):
        for t in o.inputs:
            readers.setdefault(t, []).append(i)
    out = {}
    for i, o in enumerate(sg.operators):
        if op_name(model, o, names) not in ("PAD", "PADV2") or not o.outputs or o.outputs[0] in sg.outputs:
            continue
        users = readers.get(o.outputs[0], [])
        if len(users) == 1 and op_name(model, sg.operators[users[0]], names) in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            out[i] = users[0]
    return out


def _note(name: str, standalone: bool, fused_into: Optional[int]) -> str:
    if fused_into is not None:
        return f"fused into #{fused_into} by XNNPACK: timed with it"
    return "" if standalone else f"{name} cannot run alone (it calls other graphs or custom code)"


def split_ops(data: bytes, fuse_pads: bool = True) -> list[OpUnit]:
    """Every op of the model's main graph as an :class:`OpUnit`, in execution order.

    ``fuse_pads`` (for XNNPACK): a PAD that feeds one convolution is timed together with it
    and its own row says so, as XNNPACK runs the pair as one convolution."""
    schema = _schema()
    model, names, types = _read(data), _names(schema), _types(schema)
    sg = model.subgraphs[0]
    producer = {t: i for i, o in enumerate(sg.operators) for t in o.outputs}
    folded = {
        i
        for i, o in enumerate(sg.operators)
        if op_name(model, o, names) == "DEQUANTIZE" and o.inputs and _is_constant(model, o.inputs[0])
    }
    pads = _fused_pads(model, names) if fuse_pads else {}
    into = {conv: pad for pad, conv in pads.items()}
    units = []
    for i, o in enumerate(sg.operators):
        if i in folded:
            continue
        name = op_name(model, o, names)
        held = [producer[t] for t in o.inputs if t >= 0 and producer.get(t) in folded]
        held += [into[i], i] if i in into else [i]
        if i in pads:
            held = [i]
        out_t = sg.tensors[o.outputs[0]] if o.outputs else None
        out_names = tuple(sg.tensors[t].name.decode("utf-8", "replace") for t in o.outputs)
        in_shapes = [list(sg.tensors[t].shape) if t >= 0 else [] for t in o.inputs]
        out_shape = list(out_t.shape) if out_t is not None and out_t.shape is not None else []
        standalone = name not in _CONTROL_OPS and not name.startswith("CUSTOM") and i not in pads
        units.append(
            OpUnit(
                index=i,
                op=name,
                held=tuple(held),
                outputs=out_names,
                shape=tuple(int(v) for v in out_shape),
                dtype=types.get(int(out_t.type), "?") if out_t is not None else "?",
                macs=count_macs(name, in_shapes, out_shape),
                layer=keras_layer(out_names[0]) if out_names else None,
                data=_one_op_model(model, held, schema) if standalone else None,
                note=_note(name, standalone, pads.get(i)),
                absorbed_into=pads.get(i),
            )
        )
    return units
