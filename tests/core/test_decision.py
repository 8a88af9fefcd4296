"""The contract's decision rule: calibrated probabilities and a neutral that means something."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

from sentilite.app.cli import cli
from sentilite.core.contract import PreprocessContract
from sentilite.core.decision import DecisionRule, ece, fit_decision, nll


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_the_rule_is_temperature_then_class_offsets_and_the_identity_by_default():
    p = _softmax(np.random.default_rng(0).normal(size=(5, 3)) * 2)
    assert DecisionRule().identity and DecisionRule().apply(p) is p
    rule = DecisionRule(2.0, (0.0, 0.7, 0.0))
    np.testing.assert_allclose(rule.apply(p), _softmax(np.log(p) / 2.0 + np.array([0.0, 0.7, 0.0])), rtol=1e-5)


def test_fitting_makes_an_underpredicted_neutral_appear_and_calibrates_an_overconfident_model():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 600)
    logits = rng.normal(size=(600, 3))
    logits[np.arange(600), y] += 1.5
    logits[:, 1] -= 1.2  # neutral is under-predicted...
    probs = _softmax(logits * 3.0)  # ...and the model overconfident
    rule = fit_decision(probs, y, ("negative", "neutral", "positive"), "synthetic")
    assert (
        rule.temperature > 1.5 and rule.class_log_bias[1] > 0 and rule.class_log_bias[0] == rule.class_log_bias[2] == 0
    )
    fitted = rule.apply(probs)
    assert (fitted.argmax(1) == 1).sum() > 1.4 * (probs.argmax(1) == 1).sum()  # 93 -> 147 predicted neutral
    assert rule.facts["macro_f1"][1] > rule.facts["macro_f1"][0] and rule.facts["nll"][1] < rule.facts["nll"][0]
    assert nll(DecisionRule(rule.temperature).apply(probs), y) < nll(probs, y)
    assert ece(DecisionRule(rule.temperature).apply(probs), y)[0] < ece(probs, y)[0]


def test_the_rule_travels_in_the_contract_and_every_classifier_applies_it(tiny_model, tiny_variants, tmp_path):
    from modelkit import save_keras

    from sentilite.core.classifier import TFLiteClassifier
    from sentilite.core.keras_classifier import KerasClassifier
    from sentilite.core.modelfile import write_tflite

    model, contract, _ = tiny_model
    rule = DecisionRule(1.7, (0.0, 0.5, 0.0), {"fitted_on": "val.txt"})
    ruled = replace(contract, decision=rule)
    assert PreprocessContract.from_json(ruled.to_json()) == ruled and "temperature 1.7" in ruled.describe()
    keras_path = save_keras(model, tmp_path / "ruled.keras", ruled)
    tfl = write_tflite(tmp_path / "ruled.tflite", tiny_variants["float32"].read_bytes(), ruled)
    plain = TFLiteClassifier(tiny_variants["float32"])
    image = np.random.default_rng(2).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    raw = plain.predict(image)
    for clf in (TFLiteClassifier(tfl), KerasClassifier(keras_path)):
        np.testing.assert_allclose(clf.predict(image), rule.apply(raw[None])[0], atol=2e-4)


def test_training_fits_the_rule_on_val_and_evaluate_reports_ece_with_a_reliability_diagram(synthetic_splits, tmp_path):
    from sentilite.core.modelfile import read_contract
    from sentilite.train import TrainConfig, train_model

    run = tmp_path / "run"
    result = train_model(
        TrainConfig(
            data=[str(synthetic_splits["train"])],
            val=str(synthetic_splits["val"]),
            backbone="student",
            weights="none",
            mode="ft-a",
            epochs=2,
            out=str(run),
            verbose=False,
            plots=False,
            cache_dir="none",
        )
    )
    rule = read_contract(result.model_path).decision
    assert (
        rule.facts["fitted_on"] == str(synthetic_splits["val"])
        and result.metrics["decision"]["temperature"] == rule.temperature
    )
    assert "decision rule fitted on" in (run / "train.log").read_text()
    out = tmp_path / "test.json"
    res = CliRunner().invoke(
        cli, ["evaluate", str(result.model_path), "--data", str(synthetic_splits["test"]), "--json", str(out)]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    bins = data["reliability"]
    assert (
        bins
        and sum(b["n"] for b in bins) == data["n"]
        and data["contract"]["decision"]["temperature"] == rule.temperature
    )
    assert data["ece"] == pytest.approx(sum(b["n"] / data["n"] * abs(b["accuracy"] - b["confidence"]) for b in bins))
    assert (tmp_path / "test.reliability.png").is_file()


def test_calibrate_command_fits_writes_and_resets(tiny_model, synthetic_splits, tmp_path):
    from modelkit import save_keras

    from sentilite.core.modelfile import read_contract

    path = save_keras(tiny_model[0], tmp_path / "m.keras", tiny_model[1])
    res = CliRunner().invoke(cli, ["calibrate", str(path), "--val", str(synthetic_splits["val"])])
    assert res.exit_code == 0, res.output
    assert "temperature" in res.output and not read_contract(path).decision.identity
    assert (
        CliRunner().invoke(cli, ["calibrate", str(path), "--val", str(synthetic_splits["val"]), "--reset"]).exit_code
        == 0
    )
    assert read_contract(path).decision.identity
    bad = CliRunner().invoke(cli, ["calibrate", str(tmp_path / "nope.tflite"), "--val", str(synthetic_splits["val"])])
    assert bad.exit_code != 0


@pytest.mark.shared
def test_the_bundled_model_says_neutral_on_emotion6_test():
    from conftest import EMOTION6, require_shared

    from sentilite.core.default_model import DEFAULT_MODEL_PATH, default_model_card
    from sentilite.train.evaluate import evaluate_model

    require_shared(EMOTION6)
    m = evaluate_model(DEFAULT_MODEL_PATH, EMOTION6 / "sentiment_test.txt")
    # A plain argmax said neutral for 0 or 1 of the 36 neutral test photos; with the rule folded
    # into the file, about a third (issue 19 asks for 0.35: the bundled model has 13 of 36, 0.361).
    assert m["per_class"]["neutral"]["recall"] >= 0.30 and m["macro_f1"] >= 0.60 and m["polar"]["accuracy"] >= 0.85
    card = default_model_card()["evaluation"]["emotion6_test_int8"]
    assert abs(m["per_class"]["neutral"]["recall"] - card["neutral_recall"]) < 1e-3  # the card's figure holds
    assert abs(m["macro_f1"] - card["macro_f1"]) < 1e-3


def test_convert_folds_the_rule_into_the_model_so_any_app_gets_it(tiny_model, synthetic_splits, tmp_path):
    """MediaPipe and every other app read the model's outputs as they are: with the rule folded into
    the final layer they are the ruled probabilities, and the contract does not apply it twice."""
    from modelkit import save_keras

    from sentilite.convert.api import convert_model
    from sentilite.core.classifier import TFLiteClassifier
    from sentilite.core.keras_classifier import KerasClassifier
    from sentilite.core.runtime import make_interpreter
    from sentilite.core.tf_import import import_keras

    keras = import_keras()  # a final Dense named "logits" then a softmax, as `sentilite train` builds it
    inp = keras.Input(tiny_model[1].input_shape)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(8, 3, activation="relu")(inp))
    logits = keras.layers.Dense(3, name="logits")(x)
    model = keras.Model(inp, keras.layers.Softmax()(logits))
    rule = DecisionRule(1.5, (0.0, 0.8, 0.0))
    path = save_keras(model, tmp_path / "r.keras", replace(tiny_model[1], decision=rule))
    result = convert_model(
        path,
        calib=synthetic_splits["train"],
        eval=synthetic_splits["val"],
        out=tmp_path / "o",
        variants="float32,int8",
        calib_size=20,
        latency_runs=2,
        kernel_check_images=0,
        layer_report=False,
    )
    f32 = result.variants["float32"]
    clf = TFLiteClassifier(f32)
    assert clf.contract.decision.identity and clf.contract.provenance["decision_rule_in_model"]["temperature"] == 1.5
    image = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    interp, _ = make_interpreter(f32)  # the bare file, as an app runs it
    interp.set_tensor(interp.get_input_details()[0]["index"], clf.encode(image))
    interp.invoke()
    bare = interp.get_tensor(interp.get_output_details()[0]["index"])[0]
    ruled = KerasClassifier(path).predict(image)
    np.testing.assert_allclose(bare, ruled, atol=1e-5)
    np.testing.assert_allclose(clf.predict(image), ruled, atol=1e-5)
    assert result.report["rows"][1]["top1_agreement"] == 1.0


@pytest.mark.parametrize(
    "folded", [DecisionRule(1.7, (0.0, 0.9, 0.0)), DecisionRule(1.0, (0.0, 0.9, 0.0))], ids=["T1.7", "T1"]
)
def test_calibrate_on_the_answers_of_a_converted_file_undoes_its_folded_rule(
    folded, tiny_model, synthetic_splits, tmp_path
):
    """Fitted on a converted file's answers (the int8 one a user ships), the rule starts from that
    file's raw probabilities: for a float32 file, which answers as Keras does, it is the rule fitted
    on Keras, although the file has another rule folded into it."""
    from modelkit import save_keras

    from sentilite.convert.api import convert_model
    from sentilite.core.datasets import read_dataset
    from sentilite.core.modelfile import read_contract
    from sentilite.core.tf_import import import_keras
    from sentilite.train.calibrate import calibrate_model, raw_probabilities

    keras = import_keras()
    inp = keras.Input(tiny_model[1].input_shape)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(8, 3, activation="relu")(inp))
    model = keras.Model(inp, keras.layers.Softmax()(keras.layers.Dense(3, name="logits")(x)))
    path = save_keras(model, tmp_path / "r.keras", replace(tiny_model[1], decision=folded))
    f32 = convert_model(
        path,
        calib=None,
        eval=synthetic_splits["val"],
        out=tmp_path / "o",
        variants="float32",
        latency_runs=2,
        kernel_check_images=0,
        layer_report=False,
    ).variants["float32"]
    val = read_dataset(synthetic_splits["val"], None, tiny_model[1].labels)
    keras_raw, y = raw_probabilities(path, val)
    file_raw, y2 = raw_probabilities(path, val, answers_of=f32)
    np.testing.assert_allclose(file_raw, keras_raw, atol=1e-4)
    np.testing.assert_allclose(file_raw.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(y, y2)
    rule = calibrate_model(path, val, "val", answers_of=f32)
    assert rule == fit_decision(keras_raw, y, tiny_model[1].labels, "val (answers of r_float32.tflite)")
    assert read_contract(path).decision.facts["fitted_on"] == "val (answers of r_float32.tflite)"
    other = save_keras(model, tmp_path / "other.keras", tiny_model[1])
    res = CliRunner().invoke(
        cli, ["calibrate", str(other), "--val", str(synthetic_splits["val"]), "--answers-of", str(f32)]
    )
    assert res.exit_code != 0 and "converted from r.keras" in res.output
