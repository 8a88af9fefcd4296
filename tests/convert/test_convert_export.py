"""convert/: the Keras-3-safe export path (nested backbones) and ops TFLite cannot convert."""

import pytest
from click.testing import CliRunner
from modelkit import TINY_CONTRACT, save_keras

from sentilite.app.cli import cli
from sentilite.convert.api import convert_model
from sentilite.convert.export import convert_keras_model, flex_ops, unsupported_ops
from sentilite.core.classifier import TFLiteClassifier
from sentilite.core.contract import PreprocessContract
from sentilite.core.errors import ConversionError
from sentilite.core.modelfile import read_contract, read_conversion_facts
from sentilite.core.tf_import import import_keras, import_tensorflow


def nested_mobilenet(size=64):
    """Transfer-learning shape: keras.applications.MobileNetV2 used as one layer inside a Model."""
    keras = import_keras()
    keras.utils.set_random_seed(0)
    backbone = keras.applications.MobileNetV2(
        input_shape=(size, size, 3), alpha=0.35, include_top=False, weights=None, pooling="avg"
    )
    inp = keras.Input((size, size, 3))
    x = keras.layers.Dropout(0.2)(backbone(inp, training=False))
    out = keras.layers.Dense(3, activation="softmax")(x)
    return keras.Model(inp, out, name="nested_mnv2")


@pytest.mark.slow
def test_nested_mobilenet_converts_to_every_variant(synthetic_splits, tmp_path):
    contract = PreprocessContract.create(64, "symmetric", provenance={"backbone": "mobilenet_v2 0.35 (random)"})
    model = nested_mobilenet(64)
    assert any(isinstance(layer, type(model)) or layer.__class__.__name__ == "Functional" for layer in model.layers)
    path = save_keras(model, tmp_path / "nested.keras", contract)
    result = convert_model(
        path,
        calib=synthetic_splits["train"],
        eval=synthetic_splits["test"],
        out=tmp_path / "out",
        calib_size=16,
        latency_runs=2,
    )
    rows = {r["variant"]: r for r in result.report["rows"]}
    for variant in ("float32", "float16", "dynamic-int8", "int8"):
        clf = TFLiteClassifier(result.variants[variant])
        assert clf.contract == contract.as_pixel_in() and "error" not in rows[variant]
        assert read_conversion_facts(result.variants[variant])["variant"] == variant
    assert rows["float32"]["max_abs_diff"] < 1e-4 and rows["float32"]["top1_agreement"] == 1.0
    # BatchNorm folded, weights quantised: full-int8 is far smaller than float32.
    assert rows["int8"]["size_vs_float32"] > 2.5
    # Every variant was also run by the builtin and reference kernels, each in a child process:
    # a library that crashes (LiteRT 2.3's reference kernels abort on this int8 model) is a warning.
    for variant in ("float32", "float16", "dynamic-int8", "int8"):
        assert set(rows[variant]["kernels"]) == {"builtin", "reference"}
        for k in rows[variant]["kernels"].values():
            if "error" in k:
                assert any(k["error"] in w for w in result.warnings)


def _op_model():
    keras = import_keras()
    tf = import_tensorflow()

    @keras.saving.register_keras_serializable(package="sentilite_tests")
    class MatrixInverseLayer(keras.layers.Layer):
        def call(self, x):
            m = tf.reduce_mean(x, axis=[1, 2])[:, :, None] * tf.ones((1, 3, 3))
            return tf.reshape(tf.linalg.inv(tf.eye(3) + 0.01 * m), (-1, 9))

    inp = keras.Input(TINY_CONTRACT.input_shape)
    out = keras.layers.Dense(3, activation="softmax")(MatrixInverseLayer()(inp))
    return keras.Model(inp, out)


def test_unsupported_op_is_one_clear_error_naming_it(tmp_path, synthetic_splits):
    model = _op_model()
    with pytest.raises(ConversionError) as err:
        convert_keras_model(model, ["float32"])
    msg = str(err.value)
    assert "tf.MatrixInverse" in msg and "--allow-select-tf-ops" in msg and "Flex delegate" in msg
    assert "\n" not in msg and len(msg) < 400
    path = save_keras(model, tmp_path / "op.keras", TINY_CONTRACT)
    res = CliRunner().invoke(
        cli,
        [
            "convert",
            str(path),
            "--calib",
            str(synthetic_splits["train"]),
            "--eval",
            str(synthetic_splits["val"]),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code == 2 and "tf.MatrixInverse" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_allow_select_tf_ops_converts_and_warns_about_the_flex_delegate(tmp_path, synthetic_splits):
    path = save_keras(_op_model(), tmp_path / "op.keras", TINY_CONTRACT)
    result = convert_model(
        path,
        calib=synthetic_splits["train"],
        eval=synthetic_splits["val"],
        out=tmp_path / "o",
        variants="float32",
        allow_select_tf_ops=True,
        latency_runs=2,
    )
    assert any("Flex delegate" in w for w in result.warnings)
    assert any("uses TensorFlow (Flex) ops MatrixInverse" in w for w in result.warnings)
    data = result.variants["float32"].read_bytes()
    assert flex_ops(data) == ["MatrixInverse"]
    assert read_conversion_facts(result.variants["float32"])["flex_ops"] == ["MatrixInverse"]
    assert read_contract(result.variants["float32"]) == TINY_CONTRACT.as_pixel_in()
    # Neither LiteRT nor TensorFlow's pip interpreter links the Flex delegate: the row says so,
    # the report warns, and no unvalidated variant is recommended.
    row = result.report["rows"][1]
    assert "Flex delegate" in row["error"] and "not validated" in row["error"]
    assert any(w.startswith("float32: cannot run on this host") for w in result.warnings)
    assert result.recommended is None
    assert "| float32 |" in result.report_md.read_text()
    # Full-int8 calibration cannot run Flex ops: a clear error, not a crash.
    with pytest.raises(ConversionError, match="cannot be calibrated.*Flex"):
        convert_model(
            path,
            calib=synthetic_splits["train"],
            eval=synthetic_splits["val"],
            out=tmp_path / "o2",
            variants="int8",
            allow_select_tf_ops=True,
            calib_size=4,
        )


def test_unsupported_op_names_are_parsed():
    msg = (
        "error: 'tf.Svd' op is neither a custom op nor a flex op\nSome ops in the model are custom ops\n"
        "Custom ops: Svd, Igamma\nDetails: ..."
    )
    assert unsupported_ops(msg) == ["Svd", "Igamma"]
    assert unsupported_ops("all fine") == []
