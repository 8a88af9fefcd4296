"""convert/: the int8 classifier-bias correction removes the mean logit shift, and only that."""

import numpy as np
from modelkit import TINY_CONTRACT

from sentilite.convert.bias_correction import _classifier_op, _fc_inputs, _schema, correct_classifier_bias
from sentilite.convert.calibration import build_calibration_set
from sentilite.convert.export import convert_keras_model
from sentilite.core.modelfile import read_conversion_facts


def _logits(data, inputs):
    """Mean output of the final FULLY_CONNECTED op (dequantised logits) over ``inputs``."""
    schema = _schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    _, op = _classifier_op(model, schema)
    # Read the FC *output*: make it the graph output, then reuse the input reader on a fake op.
    fake = type("Op", (), {"inputs": [op.outputs[0]]})()
    return _fc_inputs(model, fake, inputs)


def test_bias_correction_matches_float_mean_logits(tiny_model, synthetic_splits):
    model, contract, _ = tiny_model
    calib = build_calibration_set(synthetic_splits["train"], contract, size=30)
    blobs = convert_keras_model(model, ["float32", "int8"], calib.representative())
    x = calib.inputs()
    fixed, facts = correct_classifier_bias(blobs["int8"], blobs["float32"], x)
    assert facts["applied"] and facts["images"] == 30 and len(facts["logit_shift_removed"]) == 3
    ref = _logits(blobs["float32"], x).mean(0)
    before = np.abs(_logits(blobs["int8"], x).mean(0) - ref)
    after = np.abs(_logits(fixed, x).mean(0) - ref)
    assert after.max() < before.max()
    assert after.max() < 0.02, (before, after)
    # Only the bias changed: same size, same ops, same input quantisation.
    assert abs(len(fixed) - len(blobs["int8"])) < 64


def test_models_without_a_final_dense_layer_are_left_alone(synthetic_splits):
    from sentilite.core.tf_import import import_keras

    keras = import_keras()
    inp = keras.Input(TINY_CONTRACT.input_shape)
    x = keras.layers.Conv2D(3, 3)(inp)
    out = keras.layers.Activation("softmax")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inp, out)
    calib = build_calibration_set(synthetic_splits["train"], TINY_CONTRACT, size=6)
    blobs = convert_keras_model(model, ["float32", "int8"], calib.representative())
    data, facts = correct_classifier_bias(blobs["int8"], blobs["float32"], calib.inputs())
    assert data == blobs["int8"] and not facts["applied"] and "fully connected" in facts["reason"]


def test_the_int8_variant_records_the_correction(tiny_model, synthetic_splits, tmp_path):
    from sentilite.convert.api import convert_model

    result = convert_model(
        tiny_model[2],
        calib=synthetic_splits["train"],
        eval=synthetic_splits["val"],
        out=tmp_path / "o",
        variants="int8",
        calib_size=15,
        latency_runs=2,
    )
    facts = read_conversion_facts(result.variants["int8"])
    assert facts["bias_correction"]["applied"] and facts["quantizer"]["bias_correction"] is True
    assert "classifier bias corrected" in result.report_md.read_text()
    off = convert_model(
        tiny_model[2],
        calib=synthetic_splits["train"],
        eval=synthetic_splits["val"],
        out=tmp_path / "p",
        variants="int8",
        calib_size=15,
        latency_runs=2,
        bias_correction=False,
    )
    assert "bias_correction" not in read_conversion_facts(off.variants["int8"])
