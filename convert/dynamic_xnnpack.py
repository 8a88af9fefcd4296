"""Make a dynamic-range int8 file run entirely on XNNPACK.

The converter's dynamic-range file stores every large weight as int8. Its CONV_2D and
FULLY_CONNECTED ops run on XNNPACK's dynamically quantised kernels (activations quantised per
row at run time, TFLite >= 2.17), but XNNPACK has no such kernel for DEPTHWISE_CONV_2D: each
hybrid depthwise op stays on TFLite's own kernel and cuts the graph into delegate partitions
(MobileNetV2: 15 depthwise ops, 16 partitions, 2.6x *slower* than float32). Feeding each
depthwise op its weights through a DEQUANTIZE op keeps them int8 in the file, and XNNPACK,
which folds a DEQUANTIZE of constant weights at load time, then takes the whole graph: the
depthwise convolutions compute in float32 with the int8-rounded weights, everything else as
before. Weights, scales and every other op are left exactly as the converter made them.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from sentilite.core.errors import ConversionError

if TYPE_CHECKING:
    from ai_edge_litert import schema_py_generated as schema_fb


def _schema() -> Any:
    from ai_edge_litert import schema_py_generated as schema

    return schema


def _builtin(model: schema_fb.ModelT, op: schema_fb.OperatorT) -> int:
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def _opcode_index(model: schema_fb.ModelT, builtin: int, schema: ModuleType) -> int:
    """Index of ``builtin``'s operator code in ``model``, added when the model has none."""
    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return i
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = builtin  # DEQUANTIZE < 127: both fields hold it
    code.version = 2  # DEQUANTIZE v2: int8 input, per-channel scales
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def dequantize_depthwise_weights(data: bytes) -> tuple[bytes, dict[str, Any]]:
    """Return the dynamic-range flatbuffer with each hybrid depthwise op reading its int8 weights
    through a DEQUANTIZE op, and what was done (``{"depthwise_ops": n}``)."""
    import flatbuffers

    schema = _schema()
    try:
        model = schema.ModelT.InitFromPackedBuf(data, 0)
    except Exception as exc:  # a truncated or foreign file: the flatbuffer library raises anything
        raise ConversionError(
            f"Could not parse the dynamic-range flatbuffer: {exc}.", "convert the model again"
        ) from exc
    done = 0
    for graph in model.subgraphs:
        ops = []
        for op in graph.operators:
            weights = (
                graph.tensors[op.inputs[1]] if _builtin(model, op) == schema.BuiltinOperator.DEPTHWISE_CONV_2D else None
            )
            if (
                weights is not None
                and weights.type == schema.TensorType.INT8
                and graph.tensors[op.inputs[0]].type == schema.TensorType.FLOAT32
            ):
                out = schema.TensorT()
                out.shape, out.type, out.buffer = list(weights.shape), schema.TensorType.FLOAT32, 0
                out.name = (weights.name or b"depthwise_weights") + b"/dequantized"
                graph.tensors.append(out)
                dq = schema.OperatorT()
                dq.opcodeIndex = _opcode_index(model, schema.BuiltinOperator.DEQUANTIZE, schema)
                dq.inputs, dq.outputs = [op.inputs[1]], [len(graph.tensors) - 1]
                ops.append(dq)
                op.inputs = [op.inputs[0], len(graph.tensors) - 1, *list(op.inputs)[2:]]
                done += 1
            ops.append(op)
        graph.operators = ops
    if not done:
        return data, {"depthwise_ops": 0}
    builder = flatbuffers.Builder(len(data) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), {"depthwise_ops": done}
