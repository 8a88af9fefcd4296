"""convert/: the dynamic-range int8 file runs entirely on XNNPACK, weights still int8, answers unchanged."""

import numpy as np
import pytest

from sentilite.convert.dynamic_xnnpack import dequantize_depthwise_weights
from sentilite.convert.export import ConversionRequest, build_converter, convert_keras_model, export_saved_model
from sentilite.core.errors import ConversionError


@pytest.fixture(scope="module")
def depthwise_model():
    """A MobileNet-like block whose depthwise kernel is big enough (3x3x128) for the converter to quantise."""
    from sentilite.core.tf_import import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(128, 1, activation="relu6")(inp)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
    x = keras.layers.Conv2D(64, 1)(x)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu6")(x)
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    return keras.Model(inp, out)


def _run(data: bytes, x: np.ndarray, delegate: bool) -> tuple[np.ndarray, int]:
    """(outputs, number of XNNPACK partitions) of ``data`` on ``x``."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(
        model_content=data,
        num_threads=1,
        experimental_op_resolver_type=(
            OpResolverType.AUTO if delegate else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        ),
    )
    it.allocate_tensors()
    partitions = sum(op["op_name"] == "DELEGATE" for op in it._get_ops_details())
    out = []
    for row in x:
        it.set_tensor(it.get_input_details()[0]["index"], row[None])
        it.invoke()
        out.append(it.get_tensor(it.get_output_details()[0]["index"])[0])
    return np.asarray(out), partitions


def _ops(data: bytes) -> list[tuple[str, list[str]]]:
    """(op name, input tensor types) of every op, in execution order."""
    from ai_edge_litert import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    types = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    graph = model.subgraphs[0]
    return [
        (
            names[
                max(
                    model.operatorCodes[op.opcodeIndex].builtinCode,
                    model.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode,
                )
            ],
            [types[graph.tensors[i].type] for i in op.inputs if i >= 0],
        )
        for op in graph.operators
    ]


def test_dynamic_int8_runs_as_one_xnnpack_graph_with_int8_weights(depthwise_model, tmp_path):
    x = np.random.default_rng(0).uniform(0, 1, (8, 16, 16, 3)).astype(np.float32)
    # What the converter alone writes: hybrid depthwise ops that XNNPACK leaves to TFLite, splitting the graph.
    raw = bytes(
        build_converter(
            ConversionRequest(export_saved_model(depthwise_model, tmp_path / "sm"), "dynamic-int8")
        ).convert()
    )
    assert ("DEPTHWISE_CONV_2D", ["FLOAT32", "INT8", "FLOAT32"]) in _ops(raw)
    assert _run(raw, x, delegate=True)[1] > 1

    data = convert_keras_model(depthwise_model, ["dynamic-int8"])["dynamic-int8"]
    ops = _ops(data)
    assert [o for o in ops if o[0] == "DEQUANTIZE"] == [
        ("DEQUANTIZE", ["INT8"])
    ] * 2  # both depthwise kernels, int8 inside
    assert all(types[1] == "FLOAT32" for name, types in ops if name == "DEPTHWISE_CONV_2D")
    assert abs(len(data) - len(raw)) < 1024  # the weights stay int8: no float copy
    got, partitions = _run(data, x, delegate=True)
    assert partitions == 1
    # The same int8-rounded weights: the answers of the raw file, and of the float model within int8 error.
    float_probs = depthwise_model.predict(x, verbose=0)
    assert np.abs(got - _run(raw, x, delegate=True)[0]).max() < 0.02
    assert np.abs(got - float_probs).max() < 0.05
    builtin, _ = _run(data, x, delegate=False)  # devices without XNNPACK run it too
    assert np.abs(builtin - got).max() < 0.02


def test_files_without_hybrid_depthwise_ops_come_back_unchanged(depthwise_model):
    data = convert_keras_model(depthwise_model, ["float32"])["float32"]
    assert dequantize_depthwise_weights(data) == (data, {"depthwise_ops": 0})
    with pytest.raises(ConversionError, match="convert the model again"):
        dequantize_depthwise_weights(b"not a flatbuffer at all")
