"""convert/int8/qat.py: the int8 simulation that quantisation-aware fine-tuning trains through.

What a user relies on: with quantisation off it *is* the float model (BatchNorm folding is exact);
with it on, it reproduces what the TFLite converter's int8 file computes, including a layer made
hard to quantise; fine-tuning through it lowers the simulated int8 error, on a copy of the model.
What it gains on a real network is measured by bench/int8_repair.py, not here.
"""

from __future__ import annotations

import numpy as np
import pytest
from modelkit import tflite_probs

from sentilite.core.tf_import import import_keras


@pytest.fixture(scope="module")
def keras():
    return import_keras("tests")


def _bn_model(keras):
    """A MobileNetV2-like block: conv+BN+ReLU6, depthwise+BN+ReLU6, linear projection+BN, residual add."""
    keras.utils.set_random_seed(1)
    inp = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", use_bias=False, name="stem")(inp)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.ReLU(6.0, name="stem_relu")(x)
    y = keras.layers.ZeroPadding2D(1, name="pad")(x)
    y = keras.layers.DepthwiseConv2D(3, use_bias=False, name="dw")(y)
    y = keras.layers.BatchNormalization(name="dw_bn")(y)
    y = keras.layers.ReLU(6.0, name="dw_relu")(y)
    y = keras.layers.Conv2D(8, 1, use_bias=False, name="project")(y)
    y = keras.layers.BatchNormalization(name="project_bn")(y)
    x = keras.layers.Add(name="add")([x, y])
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Softmax(name="probs")(keras.layers.Dense(3, name="logits")(x))
    model = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    for layer in model.layers:  # non-trivial BatchNorm statistics, so folding has something to fold
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights(
                [rng.uniform(0.5, 2, n), rng.normal(0, 0.5, n), rng.normal(0, 0.5, n), rng.uniform(0.2, 3, n)]
            )
    return model


def test_fake_quant_sits_where_the_int8_graph_stores_a_tensor(keras):
    from sentilite.convert.int8.qat import build_qat_model

    _, layers = build_qat_model(_bn_model(keras))
    acts = sorted(f.name.split("_")[1] for f in layers if f.name.startswith("fq_"))
    # input, stem ReLU6, depthwise ReLU6, projection (linear, BN folded), add, pooling, logits
    assert acts == sorted(["input", "stem", "dw", "project", "add", "gap", "logits"]), [f.name for f in layers]
    kernels = sorted(f.name for f in layers if not f.name.startswith("fq_"))
    assert kernels == ["dw_qat", "logits_qat", "project_qat", "stem_qat"]


def test_with_quantisation_off_the_folded_graph_is_the_float_model(keras):
    from sentilite.convert.int8.qat import build_qat_model, observe_ranges

    model = _bn_model(keras)
    x = np.random.default_rng(2).normal(size=(16, 12, 12, 3)).astype(np.float32)
    qat, fqs = build_qat_model(model)
    for f in fqs:
        f.start_observing()  # observing = pass-through
    np.testing.assert_allclose(np.asarray(qat(x)), np.asarray(model(x)), atol=2e-6)
    observe_ranges(qat, fqs, x, 8)
    assert all(float(f.hi) > float(f.lo) for f in fqs if hasattr(f, "hi"))
    assert not np.allclose(np.asarray(qat(x)), np.asarray(model(x)), atol=1e-6)  # now quantised


def test_the_simulation_reproduces_the_converters_int8_file(hard_keras_model, hard_images, tmp_path):
    """On the model with a layer made hard to quantise, int8 is far from float; the simulation
    is far from float in the same way, so it is close to the int8 file."""
    from sentilite.convert.export import ConversionRequest, build_converter, export_saved_model
    from sentilite.convert.int8.qat import build_qat_model, observe_ranges

    calib, test = hard_images
    sm = export_saved_model(hard_keras_model, tmp_path / "sm")
    rep = lambda: ([x[None]] for x in calib)  # noqa: E731
    data = bytes(
        build_converter(ConversionRequest(sm, "int8", rep, "float32")).convert()
    )  # float I/O around the int8 body
    int8, float_ = tflite_probs(data, test), np.asarray(hard_keras_model(test))
    qat, fqs = build_qat_model(hard_keras_model)
    observe_ranges(qat, fqs, calib, 16)
    sim = np.asarray(qat(test))
    far = np.abs(int8 - float_).mean()
    assert far > 0.005, "the hard layer should hurt int8"
    assert np.abs(sim - int8).mean() < 0.35 * far  # measured: 0.0024 against 0.0126


def test_fine_tuning_lowers_the_simulated_int8_error_and_trains_a_copy(hard_keras_model, hard_images, keras):
    from sentilite.convert.int8.qat import qat_finetune

    calib, _ = hard_images
    model = keras.models.clone_model(hard_keras_model)
    model.set_weights(hard_keras_model.get_weights())
    original = [w.copy() for w in hard_keras_model.get_weights()]
    result = qat_finetune(model, calib, epochs=6, lr=1e-4, batch=16)
    assert result.kl_after < 0.9 * result.kl_before, result  # measured: 0.0020 against 0.0027
    assert result.images == len(calib) and result.epochs == 6
    assert not np.allclose(model.get_weights()[0], original[0])  # the copy was trained ...
    for a, b in zip(hard_keras_model.get_weights(), original):  # ... and the model it came from was not
        np.testing.assert_array_equal(a, b)


def test_the_two_batchnorm_foldings_agree(keras):
    """rounding.fold_batchnorm (NumPy, writes the weights the int8 file carries) and the
    simulation's FoldedQuantWeights (TensorFlow, differentiable) hold the same formula twice:
    they must fold alike, for a convolution and a depthwise convolution."""
    from sentilite.convert.int8.qat import build_qat_model
    from sentilite.convert.int8.rounding import fold_batchnorm

    model = _bn_model(keras)
    _, layers = build_qat_model(model)
    wrapped = {f.inner.name: f for f in layers if hasattr(f, "inner")}
    for name, bn_name in (("stem", "stem_bn"), ("dw", "dw_bn"), ("project", "project_bn")):
        f = wrapped[name]
        f.start_observing()  # the folded kernel in float, not fake-quantised
        k_tf, b_tf = f._folded()
        k_np, b_np = fold_batchnorm(model.get_layer(name), model.get_layer(bn_name))
        np.testing.assert_allclose(np.asarray(k_tf), k_np, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(b_tf), b_np, rtol=1e-5, atol=1e-6)
