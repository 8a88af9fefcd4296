"""Bias correction of the classifier layer of a full-int8 model.

Quantisation noise in the last convolutions is rectified by their ReLU6, so the int8 model's
pooled features come out systematically larger than float32's (MobileNetV2 on Emotion6: mean
0.46 -> 0.56). The classifier turns that shift into a constant logit offset that favours one
class. Empirical bias correction (Nagel et al., "Data-Free Quantization", 2019; Banner et al.
2019) measures the mean feature shift ``d`` on the calibration images and subtracts ``W @ d``
from the int32 bias of the final FULLY_CONNECTED op, inside the converted flatbuffer: weights,
activation ranges and every other op stay exactly as the converter made them.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from sentilite.core.preprocess import quantize

if TYPE_CHECKING:
    from ai_edge_litert import schema_py_generated as schema_fb

#: Ops that may follow the classifier layer (it must produce the logits).
_TAIL_OPS = ("SOFTMAX", "QUANTIZE", "DEQUANTIZE", "RESHAPE")


def _schema() -> Any:
    from ai_edge_litert import schema_py_generated as schema

    return schema


def _op_names(schema: ModuleType) -> dict[int, str]:
    return {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


def _classifier_op(
    model: schema_fb.ModelT, schema: ModuleType, width: Optional[int] = None
) -> Optional[tuple[int, Any]]:
    """(index, op) of the FULLY_CONNECTED op producing the logits, if the graph ends that way. With
    several outputs (a multi-head model) the sentiment one is the output ``width`` wide, and the op
    is found walking back from it."""
    names = _op_names(schema)
    graph = model.subgraphs[0]
    ops = graph.operators
    outputs = list(graph.outputs)
    if len(outputs) > 1:
        wide = [t for t in outputs if width is not None and int(graph.tensors[t].shape[-1]) == width]
        if len(wide) != 1:
            return None
        outputs = wide
    producer = {int(t): i for i, op in enumerate(ops) for t in op.outputs}
    tensor = int(outputs[0])
    while tensor in producer:
        idx = producer[tensor]
        code = model.operatorCodes[ops[idx].opcodeIndex]
        name = names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "?")
        if name == "FULLY_CONNECTED":
            return idx, ops[idx]
        if name not in _TAIL_OPS:
            return None
        tensor = int(ops[idx].inputs[0])
    return None


def _tensor_array(model: schema_fb.ModelT, index: int) -> np.ndarray:
    t = model.subgraphs[0].tensors[index]
    data = model.buffers[t.buffer].data
    dtype = {0: np.float32, 2: np.int32, 9: np.int8, 3: np.uint8}[t.type]
    return np.frombuffer(np.asarray(data, dtype=np.uint8).tobytes(), dtype=dtype).reshape(list(t.shape))


def _with_output(model: schema_fb.ModelT, tensor: int) -> bytes:
    """Flatbuffer of ``model`` whose only graph output is ``tensor`` (so any delegate may run it)."""
    import flatbuffers

    sg = model.subgraphs[0]
    saved = sg.outputs
    sg.outputs = [tensor]
    try:
        builder = flatbuffers.Builder(1 << 20)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())
    finally:
        sg.outputs = saved


def _fc_inputs(model: schema_fb.ModelT, op: schema_fb.OperatorT, inputs: np.ndarray) -> np.ndarray:
    """The (dequantised) input of ``op`` for each of ``inputs`` (float32, model layout)."""
    from sentilite.core.runtime import make_interpreter

    it, _ = make_interpreter(_with_output(model, op.inputs[0]), num_threads=None)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    scale, zp = out["quantization"]
    in_scale, in_zp = inp["quantization"]
    rows = []
    for x in inputs:
        if np.dtype(inp["dtype"]) != np.float32:
            x = quantize(x, in_scale, in_zp, np.dtype(inp["dtype"]))
        it.set_tensor(inp["index"], x[None])
        it.invoke()
        y = it.get_tensor(out["index"]).reshape(-1)
        rows.append((y.astype(np.float32) - zp) * scale if scale else y.astype(np.float32))
    return np.stack(rows)


def correct_classifier_bias(
    int8_data: bytes, float_data: bytes, inputs: np.ndarray, width: Optional[int] = None
) -> tuple[bytes, dict[str, Any]]:
    """Return the int8 flatbuffer with its classifier bias corrected, and what was done.

    ``inputs``: calibration images as float32 model inputs ``(N, H, W, 3)``; ``width``: the number of
    sentiment classes, which picks the sentiment output of a multi-head model. Models that do not
    end in a FULLY_CONNECTED layer (with int32 bias) are returned unchanged with the reason.
    """
    schema = _schema()
    q_model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(int8_data, 0))
    f_model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(float_data, 0))
    q_op, f_op = _classifier_op(q_model, schema, width), _classifier_op(f_model, schema, width)
    if q_op is None or f_op is None:
        return int8_data, {"applied": False, "reason": "the model does not end in a fully connected layer"}
    (_, qop), (_, fop) = q_op, f_op
    if len(qop.inputs) < 3 or qop.inputs[2] < 0:
        return int8_data, {"applied": False, "reason": "the classifier layer has no bias"}
    bias_t = q_model.subgraphs[0].tensors[qop.inputs[2]]
    if bias_t.type != schema.TensorType.INT32 or bias_t.quantization is None or bias_t.quantization.scale is None:
        return int8_data, {"applied": False, "reason": "the classifier bias is not int32-quantised"}
    weights = _tensor_array(f_model, fop.inputs[1]).astype(np.float64)  # (out, in), float32 model
    f_float = _fc_inputs(f_model, fop, inputs)
    f_int8 = _fc_inputs(q_model, qop, inputs)
    if f_float.shape != f_int8.shape or f_float.shape[1] != weights.shape[1]:
        return int8_data, {"applied": False, "reason": "float and int8 classifier inputs differ in shape"}
    shift = (f_int8 - f_float).mean(axis=0)  # mean feature error the int8 body adds
    logit_shift = weights @ shift
    bias_scale = np.broadcast_to(np.asarray(bias_t.quantization.scale, dtype=np.float64), logit_shift.shape)
    bias = _tensor_array(q_model, qop.inputs[2]).astype(np.int64)
    new_bias = np.clip(bias - np.round(logit_shift / bias_scale), -(2**31), 2**31 - 1).astype(np.int32)
    q_model.buffers[bias_t.buffer].data = np.frombuffer(new_bias.tobytes(), dtype=np.uint8)
    import flatbuffers

    builder = flatbuffers.Builder(len(int8_data) + 1024)
    builder.Finish(q_model.Pack(builder), file_identifier=b"TFL3")
    facts = {
        "applied": True,
        "images": int(len(inputs)),
        "mean_feature_shift": float(shift.mean()),
        "logit_shift_removed": [round(float(v), 4) for v in logit_shift],
    }
    return bytes(builder.Output()), facts
