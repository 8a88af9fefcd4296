"""Training extra heads (issue 30): the seven-emotion distribution (a KL loss to the annotators'
shares) and valence/arousal, each taught only by the images that have its labels."""

from __future__ import annotations

import numpy as np
import pytest
from trainkit import SHARES, affect_dataset, heads_config, tiny_config

from sentilite.core.heads import EMOTION_HEAD, VALENCE_AROUSAL_HEAD


@pytest.fixture(scope="module")
def tf():
    from sentilite.core.tf_import import import_tensorflow

    return import_tensorflow("tests")


@pytest.fixture(scope="module")
def affect_splits(tmp_path_factory):
    """A synthetic dataset whose folder holds an Emotion6-format ground_truth.txt."""
    return affect_dataset(tmp_path_factory.mktemp("affect-data"))


def test_head_losses_are_kl_to_the_shares_and_squared_error_on_0_1_and_absent_labels_teach_nothing(tf):
    from sentilite.train.head_losses import REGRESSION_WEIGHT, head_columns, head_loss

    heads = (EMOTION_HEAD, VALENCE_AROUSAL_HEAD)
    from sentilite.core.affect import AffectLabel

    label = AffectLabel("x", SHARES["positive"], 8.0, 5.0)
    tail = tf.constant(head_columns(heads, [label, None]))
    z = tf.Variable(np.random.default_rng(0).normal(size=(2, 9)).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = head_loss(tf, heads, z, tail)
    zn = z.numpy()
    q = np.exp(zn[0, :7]) / np.exp(zn[0, :7]).sum()
    p = np.asarray(SHARES["positive"])
    kl = float(np.sum(np.where(p > 0, p * (np.log(np.maximum(p, 1e-12)) - np.log(q)), 0.0)))
    unit = (np.array([8.0, 5.0]) - 1.0) / 8.0
    mse = REGRESSION_WEIGHT * float(np.mean((1 / (1 + np.exp(-zn[0, 7:])) - unit) ** 2))
    assert loss.numpy()[0] == pytest.approx(kl + mse, rel=1e-5)
    assert loss.numpy()[1] == 0.0
    assert np.all(tape.gradient(loss, z).numpy()[1] == 0.0), "an image without affect labels must not move the heads"


@pytest.fixture(scope="module")
def trained(affect_splits, tmp_path_factory):
    """A three-head student trained on the labelled synthetic data (its TrainResult)."""
    from sentilite.train.api import train_model

    tmp_path = tmp_path_factory.mktemp("heads-run")
    return train_model(heads_config(affect_splits, tmp_path, "valence_arousal,emotions"))


def test_a_three_head_model_learns_each_head_and_saves_them_in_the_contract_order(affect_splits, trained):
    """Planted defect: dropping the heads' loss from the step leaves the emotion head at chance."""
    from sentilite.core.datasets import read_split_file
    from sentilite.core.imageio import load_image
    from sentilite.core.keras_classifier import KerasClassifier

    result = trained
    clf = KerasClassifier(result.model_path)
    assert [h.name for h in clf.contract.heads] == ["emotions", "valence_arousal"]  # fixed order, whatever was asked
    test = read_split_file(affect_splits["test"])
    names = ("negative", "neutral", "positive")
    dominant_hits, valences = 0, {n: [] for n in names}
    for s in test.samples:
        r = clf.read(load_image(s.path))
        cls = names[s.label]
        dominant_hits += int(np.argmax(r.heads["emotions"]) == int(np.argmax(SHARES[cls])))
        valences[cls].append(float(r.heads["valence_arousal"][0]))
    assert dominant_hits / len(test) >= 0.7, dominant_hits
    assert np.mean(valences["negative"]) < np.mean(valences["neutral"]) < np.mean(valences["positive"])
    log = (result.run_dir / "train.log").read_text()
    n = len(read_split_file(affect_splits["train"]))
    assert f"emotions taught by {n} of {n} images, valence_arousal taught by {n} of {n} images" in log


def test_a_head_no_training_image_teaches_is_refused_with_the_fix(synthetic_splits, tmp_path):
    from sentilite.train.api import train_model
    from sentilite.train.config import TrainConfigError

    config = tiny_config(synthetic_splits, tmp_path / "run", tmp_path / "cache", heads="emotions", epochs=1)
    with pytest.raises(TrainConfigError, match="No training image has labels for the emotions head") as e:
        train_model(config)
    assert "ground_truth.txt" in e.value.fix
    with pytest.raises(TrainConfigError, match="Unknown head"):
        tiny_config(synthetic_splits, tmp_path / "r2", tmp_path / "cache", heads="mood").validate()


def test_evaluate_scores_each_head_against_the_labels_on_the_device_side(affect_splits, trained, tmp_path):
    """`sentilite evaluate` on the .tflite (no TensorFlow, under the import guard) adds a heads block:
    the emotion distribution's KL/cosine/top-1 and valence/arousal's r/CCC/MAE with intervals, and
    per image the readings beside the labels."""
    import json
    import subprocess
    import sys

    from modelkit import convert_variants
    from tfguard import attempts, guarded_env

    from sentilite.core.keras_classifier import KerasClassifier

    keras = KerasClassifier(trained.model_path)
    calib = np.zeros((2, *keras.contract.input_shape), np.float32)
    tfl = convert_variants(keras.model, keras.contract, tmp_path, calib, variants=("float32",))["float32"]
    out = tmp_path / "eval.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sentilite",
            "evaluate",
            str(tfl),
            "--data",
            str(affect_splits["test"]),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=guarded_env(tmp_path),
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert attempts(tmp_path) == []
    heads = json.loads(out.read_text())["heads"]
    n = len(affect_splits["test"].read_text().splitlines())
    assert heads["images"] == n and heads["emotions"]["n"] == n
    assert heads["emotions"]["top1"] >= 0.7 and heads["emotions"]["kl"] < 1.0
    assert heads["emotions"]["kl_ci95"][0] <= heads["emotions"]["kl"] <= heads["emotions"]["kl_ci95"][1]
    assert heads["valence"]["pearson_r"] > 0.5 and set(heads["arousal"]) >= {"pearson_r", "ccc", "mae"}
    first = heads["predictions"][0]
    assert set(first) == {"path", "emotions", "valence", "arousal", "truth"}
    assert set(first["truth"]) == {"emotions", "valence", "arousal"}
    assert "extra heads on the" in proc.stdout and "dominant top-1" in proc.stdout and "Pearson r" in proc.stdout


def test_heads_train_under_distillation_and_mixup(affect_splits, trained, tmp_path):
    """The heads' target columns ride behind the teacher's and the class mask, and mixup blends the
    partner's head labels too: with both on, the heads still learn."""
    from sentilite.core.datasets import read_split_file
    from sentilite.core.imageio import load_image
    from sentilite.core.keras_classifier import KerasClassifier
    from sentilite.train.api import train_model

    config = heads_config(
        affect_splits, tmp_path, "emotions,valence_arousal", teacher=[str(trained.model_path)], mix="mixup"
    )
    clf = KerasClassifier(train_model(config).model_path)
    test = read_split_file(affect_splits["test"])
    hits = sum(
        int(
            np.argmax(clf.read(load_image(s.path)).heads["emotions"])
            == int(np.argmax(SHARES[("negative", "neutral", "positive")[s.label]]))
        )
        for s in test.samples
    )
    assert hits / len(test) >= 0.7


def test_a_pack_teaches_no_head_and_alone_is_refused(affect_splits, tmp_path):
    from sentilite.core.contract import PreprocessContract
    from sentilite.train.api import train_model
    from sentilite.train.config import TrainConfigError
    from sentilite.train.pack import PackOptions, pack_split

    contract = PreprocessContract.create(32, "symmetric", interpolation="warp_linear")
    pack_split(affect_splits["train"], tmp_path / "pack", contract, PackOptions("raw", shard_size=16, processes=1))
    config = tiny_config(
        {"train": tmp_path / "pack", "val": affect_splits["val"]},
        tmp_path / "run",
        tmp_path / "cache",
        heads="emotions",
        epochs=1,
        weights="none",
    )
    with pytest.raises(TrainConfigError, match="No training image has labels for the emotions head") as e:
        train_model(config)
    assert "packs carry no affect labels" in e.value.fix


def test_heads_train_in_mixed_precision_and_save_a_float32_model(affect_splits, tmp_path):
    """Under mixed_float16 the heads' Dense layers stay float32 and the saved model is float32 with
    every head (the head is re-created in the policy, its parts taken from the re-created layers)."""
    from sentilite.core.keras_classifier import KerasClassifier
    from sentilite.train.api import train_model

    config = tiny_config(
        affect_splits,
        tmp_path / "run",
        tmp_path / "cache",
        heads="emotions,valence_arousal",
        epochs=1,
        precision="mixed_float16",
        weights="none",
        decision="none",
    )
    clf = KerasClassifier(train_model(config).model_path)
    policies = {layer.dtype_policy.name for layer in clf.model._flatten_layers()}
    assert policies == {"float32"} and [h.name for h in clf.contract.heads] == ["emotions", "valence_arousal"]
    r = clf.read(np.zeros((40, 40, 3), np.uint8))
    assert r.heads["emotions"].shape == (7,) and r.heads["valence_arousal"].shape == (2,)


def _kernel(model_path, name):
    import keras

    from sentilite.train.modes import find_layer

    model = keras.saving.load_model(model_path, compile=False)
    layer = find_layer(model, name)
    assert layer is not None, f"no layer {name}"
    return np.asarray(layer.kernel)


def test_head_l2_shrinks_the_extra_heads_and_leaves_the_sentiment_head_alone(affect_splits, tmp_path):
    """--head-l2 is the regulariser a linear emotion head needs (bench/affect_heads): it applies to
    the extra heads' kernels only; the sentiment head trains exactly as without it."""
    from sentilite.train.api import train_model

    runs = {}
    for l2 in (0.0, 100.0):
        config = tiny_config(
            affect_splits, tmp_path / f"l2-{l2}", tmp_path / "cache", heads="emotions,valence_arousal", head_l2=l2,
            epochs=3, decision="none", seed=7,
        )  # fmt: skip
        runs[l2] = train_model(config).model_path
    for head in ("emotions_logits", "valence_arousal_logits"):
        assert np.linalg.norm(_kernel(runs[100.0], head)) < 0.5 * np.linalg.norm(_kernel(runs[0.0], head)), head
    np.testing.assert_allclose(_kernel(runs[100.0], "logits"), _kernel(runs[0.0], "logits"), atol=1e-4)
    with pytest.raises(Exception, match="--head-l2"):
        tiny_config(affect_splits, tmp_path / "bad", tmp_path / "cache", heads="emotions", head_l2=-1.0).validate()
