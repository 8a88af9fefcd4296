"""The preprocessing contract and the one function that applies it."""

import numpy as np
import pytest

from sentilite.core.contract import NORMALIZATIONS, PreprocessContract, normalization
from sentilite.core.errors import ContractError
from sentilite.core.preprocess import (
    InputEncoder,
    dequantize,
    normalize,
    prepare,
    quantize,
    resize_to_contract,
)


def test_json_round_trip_keeps_every_field():
    c = PreprocessContract.create((160, 128), "imagenet", ("sad", "happy"), resize="stretch",
                                  provenance={"backbone": "mobilenet_v2", "alpha": 0.35})
    back = PreprocessContract.from_json(c.to_json())
    assert back == c
    assert back.same_preprocessing(c)
    assert back.input_shape == (160, 128, 3)


@pytest.mark.parametrize("kwargs, word", [
    ({"resize": "squash"}, "resize policy"),
    ({"color_order": "YUV"}, "colour order"),
    ({"labels": ("a",)}, "labels"),
    ({"labels": ("a", "a")}, "labels"),
    ({"height": 4}, "input size"),
])
def test_invalid_contracts_are_refused(kwargs, word):
    with pytest.raises(ContractError, match=word):
        PreprocessContract(**kwargs)


def test_foreign_json_is_not_mistaken_for_a_contract():
    with pytest.raises(ContractError, match="not a sentilite"):
        PreprocessContract.from_json('{"hello": "world"}')
    with pytest.raises(ContractError, match="not valid JSON"):
        PreprocessContract.from_json("{")


def test_named_normalisations_and_their_ranges():
    assert NORMALIZATIONS["unit"].value_range() == pytest.approx((0.0, 1.0))
    assert NORMALIZATIONS["symmetric"].value_range() == pytest.approx((-1.0, 1.0))
    lo, hi = NORMALIZATIONS["imagenet"].value_range()
    assert lo == pytest.approx(-0.485 / 0.229) and hi == pytest.approx((1 - 0.406) / 0.225)
    lo, hi = NORMALIZATIONS["caffe"].value_range()  # VGG19: BGR pixel - ImageNet mean, unscaled
    assert lo == pytest.approx(-123.68) and hi == pytest.approx(255 - 103.939)
    with pytest.raises(ContractError, match="Unknown normalisation"):
        normalization("yuv")


def test_imagenet_normalisation_matches_torchvision_formula():
    c = PreprocessContract.create(8, "imagenet")
    px = np.array([[[0, 128, 255]]], np.uint8)
    expected = (np.array([0, 128, 255]) / 255 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(normalize(px, c)[0, 0], expected, rtol=1e-6)


def test_center_crop_keeps_the_middle_of_a_wide_image():
    img = np.zeros((100, 200, 3), np.uint8)
    img[:, :50] = (255, 0, 0)   # red left quarter
    img[:, 150:] = (255, 0, 0)  # red right quarter
    img[:, 50:150] = (0, 255, 0)
    out = resize_to_contract(img, PreprocessContract.create(32, "unit"))
    assert out.shape == (32, 32, 3)
    assert (out[..., 1] == 255).all() and (out[..., 0] == 0).all()
    # "stretch" keeps the red borders instead.
    stretched = resize_to_contract(img, PreprocessContract.create(32, "unit", resize="stretch"))
    assert stretched[:, 0, 0].min() > 200


def test_center_crop_for_a_non_square_target():
    img = np.zeros((300, 300, 3), np.uint8)
    img[:100] = 255  # white top third
    out = resize_to_contract(img, PreprocessContract.create((100, 300), "unit"))
    assert out.shape == (100, 300, 3)
    assert out.max() == 0  # a 3:1 crop of the middle never reaches the white band


def test_bgr_input_is_reordered():
    c = PreprocessContract.create(16, "unit")
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[..., 0] = 200
    np.testing.assert_array_equal(prepare(rgb, c), prepare(rgb[..., ::-1].copy(), c, order="BGR"))


@pytest.mark.parametrize("dtype, scale, zp", [(np.float32, None, 0), (np.int8, 0.0187, -14), (np.uint8, 2 / 255, 128)])
def test_encoder_equals_reference_path(dtype, scale, zp):
    c = PreprocessContract.create(48, "imagenet")
    rng = np.random.default_rng(0)
    enc = InputEncoder(c, dtype, scale, zp)
    for shape in [(48, 48, 3), (120, 90, 3), (37, 211, 3)]:
        img = rng.integers(0, 256, shape, dtype=np.uint8)
        ref = prepare(img, c)
        got = enc(img)
        assert got.dtype == np.dtype(dtype) and got.shape == (48, 48, 3)
        if dtype == np.float32:
            np.testing.assert_array_equal(got, ref)
        else:
            np.testing.assert_array_equal(got, quantize(ref, scale, zp, dtype))


def test_quantize_rounds_half_away_from_zero_and_clamps():
    q = quantize(np.array([0.5, -0.5, 1.5, 1000.0, -1000.0]), 1.0, 0, np.int8)
    assert q.tolist() == [1, -1, 2, 127, -128]
    np.testing.assert_allclose(dequantize(np.array([3], np.uint8), 0.5, 1), [1.0])


def test_encoder_rejects_unsupported_or_unscaled_inputs():
    c = PreprocessContract.create(16, "unit")
    with pytest.raises(ContractError):
        InputEncoder(c, np.float16)
    with pytest.raises(ContractError, match="scale"):
        InputEncoder(c, np.int8, None, 0)
