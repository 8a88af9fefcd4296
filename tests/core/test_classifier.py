"""Running models through the contract: float vs int8 agreement, and no silent contract mismatch."""

import numpy as np
import pytest
from conftest import EMOTION6

from sentilite.core.classifier import TFLiteClassifier, load_classifier
from sentilite.core.contract import PreprocessContract
from sentilite.core.datasets import read_split_file
from sentilite.core.errors import ContractError
from sentilite.core.imageio import load_image
from sentilite.core.keras_classifier import KerasClassifier
from sentilite.core.modelfile import write_tflite


def _images(splits, n=12):
    return [load_image(s.path) for s in read_split_file(splits["test"]).samples[:n]]


def test_every_variant_predicts_like_keras_on_synthetic_images(tiny_model, tiny_variants, synthetic_splits):
    images = _images(synthetic_splits)
    ref = KerasClassifier(tiny_model[2]).predict_many(images)
    for variant, path in tiny_variants.items():
        clf = TFLiteClassifier(path)
        probs = clf.predict_many(images)
        assert probs.shape == ref.shape and probs.dtype == np.float32
        assert np.allclose(probs.sum(axis=1), 1, atol=0.02)
        assert (probs.argmax(1) == ref.argmax(1)).mean() >= 0.9, variant
        tol = 1e-5 if variant == "float32" else 0.1
        assert np.abs(probs - ref).max() <= tol, variant


def test_int8_io_types_are_quantised_by_the_encoder(tiny_variants):
    clf = TFLiteClassifier(tiny_variants["int8"])
    assert clf.input_dtype == np.uint8 and clf.warnings == []
    x = clf.encode(np.zeros((10, 10, 3), np.uint8))
    assert x.dtype == np.uint8 and x.shape == (1, 32, 32, 3)


@pytest.mark.slow
@pytest.mark.shared
def test_float32_and_int8_mobilenet_agree_on_real_images(mobilenet_sentiment):
    """The contract round trip on a real network: same image, same path, same top-1."""
    samples = read_split_file(EMOTION6 / "sentiment_test.txt").samples[:60]
    images = [load_image(s.path) for s in samples]
    f32 = TFLiteClassifier(mobilenet_sentiment["float32"]).predict_many(images)
    i8 = TFLiteClassifier(mobilenet_sentiment["int8"]).predict_many(images)
    keras = KerasClassifier(mobilenet_sentiment["keras"]).predict_many(images)
    assert np.abs(f32 - keras).max() < 1e-3
    agree = (f32.argmax(1) == i8.argmax(1)).mean()
    # int8 flips some near-tie predictions of this briefly trained head (measured: 88-90 %);
    # a preprocessing mismatch (wrong zero point, scale or normalisation) collapses it far below.
    assert agree >= 0.8, f"float32 and int8 agree on only {agree:.0%} of real images"
    # Where float32 is confident, int8 must agree every time.
    top2 = np.sort(f32, axis=1)[:, -2:]
    confident = top2[:, 1] - top2[:, 0] > 0.5
    assert confident.sum() >= 10 and (f32.argmax(1) == i8.argmax(1))[confident].all()


def test_contract_given_explicitly_must_match_the_embedded_one(tiny_variants):
    wrong = PreprocessContract.create(32, "imagenet")
    with pytest.raises(ContractError, match="contradicts"):
        TFLiteClassifier(tiny_variants["float32"], contract=wrong)


def test_contract_that_contradicts_the_model_is_refused(tiny_variants, tmp_path):
    data = tiny_variants["float32"].read_bytes()
    bad_size = write_tflite(tmp_path / "size.tflite", data, PreprocessContract.create(64, "symmetric"))
    with pytest.raises(ContractError, match="expects input"):
        load_classifier(bad_size)
    bad_labels = write_tflite(
        tmp_path / "labels.tflite", data, PreprocessContract.create(32, "symmetric", ("neg", "pos"))
    )
    with pytest.raises(ContractError, match="outputs 3 values"):
        load_classifier(bad_labels)


def test_int8_model_with_a_different_normalisation_is_refused(tiny_variants, tmp_path):
    """Calibrated on [-1, 1] inputs; a contract claiming ImageNet or [0, 1] is refused, with the fix."""
    data = tiny_variants["int8"].read_bytes()
    for norm, word in [("imagenet", "clipped"), ("unit", "far wider")]:
        p = write_tflite(tmp_path / f"{norm}.tflite", data, PreprocessContract.create(32, norm))
        with pytest.raises(ContractError, match=word) as err:
            TFLiteClassifier(p)
        assert "contradicts its own preprocessing contract" in str(err.value) and "sentilite convert" in str(err.value)
