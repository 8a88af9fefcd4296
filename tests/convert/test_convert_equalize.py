"""convert/int8/equalize.py and convert/int8/rounding.py: the int8-eq repair's two rewrites.

What a user relies on: equalisation leaves the float model's answers as they were and evens out
the channels of the int8 activations it touches (a channel nobody reads is shrunk out of the
way); output-aware rounding puts weights on the int8 grid the converter keeps, bit for bit, with
less output error than nearest rounding; together they make an int8 file closer to float.
What they gain on MobileNetV2 is measured by bench/int8_repair.py, not here.
"""

from __future__ import annotations

import numpy as np
import pytest
from modelkit import tflite_probs

from sentilite.core.tf_import import import_keras


@pytest.fixture(scope="module")
def keras():
    return import_keras("tests")


def _two_block_model(keras):
    """Two MobileNetV2-like blocks on a residual stream, with BatchNorm statistics that leave the
    channels' ranges 100x apart (as a trained MobileNetV2's are)."""
    keras.utils.set_random_seed(3)
    L = keras.layers
    inp = keras.Input((12, 12, 3))
    x = L.Conv2D(8, 3, padding="same", use_bias=False, name="stem")(inp)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU(6.0, name="stem_relu")(x)
    x = L.ZeroPadding2D(1, name="stem_pad")(x)
    x = L.DepthwiseConv2D(3, use_bias=False, name="dw1")(x)
    x = L.BatchNormalization(name="dw1_bn")(x)
    x = L.ReLU(6.0, name="dw1_relu")(x)
    x = L.Conv2D(6, 1, use_bias=False, name="proj1")(x)
    p1 = L.BatchNormalization(name="proj1_bn")(x)
    y = L.Conv2D(12, 1, use_bias=False, name="expand2")(p1)
    y = L.BatchNormalization(name="expand2_bn")(y)
    y = L.ReLU(6.0, name="expand2_relu")(y)
    y = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw2")(y)
    y = L.BatchNormalization(name="dw2_bn")(y)
    y = L.ReLU(6.0, name="dw2_relu")(y)
    y = L.Conv2D(6, 1, use_bias=False, name="proj2")(y)
    p2 = L.BatchNormalization(name="proj2_bn")(y)
    s = L.Add(name="add")([p1, p2])
    h = L.Conv2D(16, 1, activation="relu", name="head")(s)
    out = L.Softmax(name="probs")(L.Dense(3, name="logits")(L.GlobalAveragePooling2D(name="gap")(h)))
    model = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights(
                [
                    np.geomspace(0.02, 2.0, n) * rng.permutation(n) / n + 0.01,
                    rng.normal(0, 0.1, n),
                    rng.normal(0, 0.3, n),
                    rng.uniform(0.5, 2, n),
                ]
            )
    return model


def _inputs(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, 12, 12, 3)).astype(np.float32)


def test_the_groups_are_the_relu_pairs_and_the_residual_stream(keras):
    from sentilite.convert.int8.equalize import find_groups

    groups = find_groups(_two_block_model(keras), keras)
    pairs = {(g.producers[0].name, g.readers[0].name) for g in groups if g.kind == "relu"}
    assert pairs == {
        ("stem_bn", "dw1"),
        ("dw1_bn", "proj1"),
        ("expand2_bn", "dw2"),
        ("dw2_bn", "proj2"),
    }  # not head: GAP reads it
    streams = [g for g in groups if g.kind == "stream"]
    assert len(streams) == 1
    assert {p.name for p in streams[0].producers} == {"proj1_bn", "proj2_bn"}
    assert {r.name for r in streams[0].readers} == {"expand2", "head"}  # every reader of p1, p2 and the add


def test_equalisation_keeps_the_answers_and_evens_the_channels(keras):
    from sentilite.convert.int8.equalize import channel_maxima, equalize, find_groups

    model = _two_block_model(keras)
    calib, other = _inputs(64, 1), _inputs(32, 2)
    before = [np.asarray(model(x)) for x in (calib, other)]
    even = lambda: [np.median(m) / m.max() for m in channel_maxima(model, keras, find_groups(model, keras), calib)]  # noqa: E731
    before_even = even()
    groups = equalize(model, calib, margin=0.25)
    assert len(groups) == 5 and all(g.scales is not None for g in groups)
    after = [np.asarray(model(x)) for x in (calib, other)]
    for b, a in zip(before, after):  # the same float function (ReLU6 bounds kept with a margin)
        np.testing.assert_allclose(a, b, atol=2e-5)
    after_even = even()  # the median channel's range, as a share of the widest channel's
    depthwise_read = [i for i, g in enumerate(groups) if all(type(r).__name__ == "DepthwiseConv2D" for r in g.readers)]
    assert depthwise_read and all(after_even[i] > 2 * before_even[i] for i in depthwise_read), (before_even, after_even)
    assert all(a >= b * 0.9999 for a, b in zip(after_even, before_even)), (before_even, after_even)


def test_a_channel_nobody_reads_is_shrunk_not_kept(hard_keras_model, hard_images, keras):
    """The hard layer's constant-200 channel, which the next layer ignores, is scaled down to
    the live channels' range; the answers stay the same."""
    from sentilite.convert.int8.equalize import equalize

    model = keras.models.clone_model(hard_keras_model)
    model.set_weights(hard_keras_model.get_weights())
    calib, test = hard_images
    groups = equalize(model, calib)
    hard = next(g for g in groups if g.producers[0].name == "hard")
    assert hard.scales[0] < 0.1 and hard.to_dict()["shrunk"] == 1
    np.testing.assert_allclose(np.asarray(model(test)), np.asarray(hard_keras_model(test)), atol=1e-5)


def _int8_kernels(data: bytes) -> dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]]:
    """The int8 weight tensors of a .tflite file by shape: (values, per-channel scales)."""
    from sentilite.core.runtime import make_interpreter

    interp, _ = make_interpreter(data)
    interp.allocate_tensors()
    out = {}
    for d in interp.get_tensor_details():
        scales = d["quantization_parameters"]["scales"]
        if (
            np.dtype(d["dtype"]) == np.int8
            and len(d["shape"]) == 4
            and len(scales) == d["shape"][-1 if d["shape"][0] == 1 else 0]
        ):
            try:
                out[tuple(d["shape"])] = (interp.get_tensor(d["index"]), scales)
            except ValueError:
                continue  # an activation, not a constant
    return out


def test_rounding_puts_weights_on_the_grid_the_converter_keeps(keras, tmp_path):
    from sentilite.convert.export import ConversionRequest, build_converter, export_saved_model
    from sentilite.convert.int8.rounding import round_weights

    model = _two_block_model(keras)
    calib, other = _inputs(64, 1), _inputs(32, 2)
    float_ = np.asarray(model(other))
    done = round_weights(model, calib)
    assert {r.layer for r in done} == {"stem", "dw1", "proj1", "expand2", "dw2", "proj2", "head"}
    assert all(r.error_chosen < r.error_nearest for r in done), done
    assert np.abs(np.asarray(model(other)) - float_).max() < 0.05  # rounding moves the float model only a little
    sm = export_saved_model(model, tmp_path / "sm")
    data = bytes(
        build_converter(ConversionRequest(sm, "int8", lambda: ([x[None]] for x in calib), "float32")).convert()
    )
    kernels = _int8_kernels(data)
    checked = 0
    for name in ("stem", "proj1", "expand2", "head"):  # TFLite stores a conv kernel as (out, kh, kw, in)
        k = np.asarray(model.get_layer(name).kernel)
        step = np.abs(k).reshape(-1, k.shape[-1]).max(0) / 127
        q = np.round(k / step)
        np.testing.assert_allclose(k, q * step, rtol=1e-5, atol=1e-8)  # on the grid already
        got, scales = kernels[(k.shape[-1], k.shape[0], k.shape[1], k.shape[2])]
        np.testing.assert_allclose(scales, step, rtol=1e-5)
        np.testing.assert_array_equal(got, np.transpose(q, (3, 0, 1, 2)).astype(np.int8))  # kept bit for bit
        checked += 1
    assert checked == 4


def test_equalised_and_rounded_int8_is_closer_to_float(hard_keras_model, hard_images, keras, tmp_path):
    """On the model with a layer made hard to quantise, the rewritten model's int8 file is much
    closer to the float model than the plain int8 file."""
    from sentilite.convert.export import ConversionRequest, build_converter, export_saved_model
    from sentilite.convert.int8.equalize import equalize
    from sentilite.convert.int8.rounding import round_weights

    calib, test = hard_images
    float_ = np.asarray(hard_keras_model(test))

    def int8_error(model, name):
        sm = export_saved_model(model, tmp_path / name)
        data = bytes(
            build_converter(ConversionRequest(sm, "int8", lambda: ([x[None]] for x in calib), "float32")).convert()
        )
        return np.abs(tflite_probs(data, test) - float_).mean()

    model = keras.models.clone_model(hard_keras_model)
    model.set_weights(hard_keras_model.get_weights())
    plain = int8_error(model, "plain")
    equalize(model, calib)
    round_weights(model, calib)
    assert int8_error(model, "eq") < 0.5 * plain, plain


@pytest.mark.parametrize("shared", [True, False], ids=["conv", "depthwise"])
def test_gptq_then_descent_lowers_the_output_error_below_descent_alone_on_the_same_grid(shared):
    from sentilite.convert.int8.rounding import gptq_round, round_for_output

    rng = np.random.default_rng(0)
    total = {"nearest": 0.0, "descent": 0.0, "gptq": 0.0}
    for _ in range(10):  # correlated inputs, as a convolution's neighbouring pixels and channels are
        d, ch = (48, 8) if shared else (9, 16)
        mix = [rng.normal(size=(d, d)) for _ in range(1 if shared else ch)]
        xs = [rng.normal(size=(400, d)) @ m for m in mix]
        c = xs[0].T @ xs[0] / 400 if shared else np.stack([x.T @ x / 400 for x in xs])
        w = rng.normal(size=(d, ch))
        start = gptq_round(w, c)
        _, nearest, after_gptq = round_for_output(w, c, passes=0, start=start)  # scores the start as it is
        chosen, _, after = round_for_output(w, c, start=start)
        step = np.abs(w).max(0) / 127
        assert np.allclose(chosen / step, np.round(chosen / step)) and np.abs(chosen / step).max() <= 127 + 1e-9
        assert np.allclose(np.abs(chosen).max(0), np.abs(w).max(0))  # the converter derives the same scale
        assert after <= after_gptq + 1e-12 < nearest
        total["nearest"] += nearest
        total["gptq"] += after
        total["descent"] += round_for_output(w, c)[2]
    assert total["gptq"] < total["descent"] < total["nearest"], total


def test_rounding_in_passes_that_fit_a_memory_budget_gives_the_same_weights(keras):
    """A memory budget smaller than any one matrix splits the second moments into one pass per
    layer; every pass reads the model as it came, so the weights come out exactly the same."""
    from sentilite.convert.int8.rounding import round_weights

    calib = _inputs(32, 1)
    one, many = _two_block_model(keras), _two_block_model(keras)
    assert all(np.array_equal(a, b) for a, b in zip(one.get_weights(), many.get_weights()))
    round_weights(one, calib)
    round_weights(many, calib, memory=1)
    assert all(np.array_equal(a, b) for a, b in zip(one.get_weights(), many.get_weights()))
    assert not all(np.array_equal(a, b) for a, b in zip(one.get_weights(), _two_block_model(keras).get_weights()))
