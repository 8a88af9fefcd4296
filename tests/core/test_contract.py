"""The preprocessing contract and the one function that applies it."""

import numpy as np
import pytest

from sentilite.core.contract import NORMALIZATIONS, PreprocessContract, normalization
from sentilite.core.errors import ContractError
from sentilite.core.preprocess import InputEncoder, dequantize, normalize, prepare, quantize, resize_to_contract


def test_json_round_trip_keeps_every_field():
    c = PreprocessContract.create(
        (160, 128),
        "imagenet",
        ("sad", "happy"),
        resize="stretch",
        provenance={"backbone": "mobilenet_v2", "alpha": 0.35},
    )
    back = PreprocessContract.from_json(c.to_json())
    assert back == c
    assert back.same_preprocessing(c)
    assert back.input_shape == (160, 128, 3)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"resize": "squash"}, "resize policy"),
        ({"color_order": "YUV"}, "colour order"),
        ({"labels": ("a",)}, "labels"),
        ({"labels": ("a", "a")}, "labels"),
        ({"height": 4}, "input size"),
        ({"interpolation": "nearest"}, "interpolation"),
        ({"norm_in_graph": NORMALIZATIONS["imagenet"]}, "outside a graph"),
    ],
)
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
    img[:, :50] = (255, 0, 0)  # red left quarter
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


def test_interpolation_and_pixel_in_round_trip_and_old_files_read_as_area():
    c = PreprocessContract.create(64, "imagenet", interpolation="warp_linear").as_pixel_in()
    assert c.pixel_in and c.norm.name == "raw" and c.model_norm.name == "imagenet"
    back = PreprocessContract.from_json(c.to_json())
    assert back == c and back.same_preprocessing(c)
    assert not back.same_preprocessing(PreprocessContract.create(64, "imagenet", interpolation="warp_linear"))
    assert "inside the model" in c.describe() and "warp_linear resize" in c.describe()
    old = PreprocessContract.create(64, "imagenet").to_dict()
    del old["input"]["interpolation"]  # written before the field existed
    assert PreprocessContract.from_dict(old).interpolation == "area"


def _classic_opencv_bilinear(img, box, size):
    """Independent reference: sample at left + i * crop / size, coordinates rounded to 1/32 pixel,
    integer weights (32 - a)(32 - b) ... summed and rounded, edges replicated (MediaPipe's warp)."""
    top, left, ch, cw = box
    fx = np.rint((left + np.arange(size) * cw / size) * 32).astype(int)
    fy = np.rint((top + np.arange(size) * ch / size) * 32).astype(int)
    h, w = img.shape[:2]
    out = np.zeros((size, size, 3), np.int64)
    for yi, Y in enumerate(fy):
        for xi, X in enumerate(fx):
            x0, y0, a, b = X >> 5, Y >> 5, X & 31, Y & 31
            px = [
                [img[min(max(y, 0), h - 1), min(max(x, 0), w - 1)].astype(np.int64) for x in (x0, x0 + 1)]
                for y in (y0, y0 + 1)
            ]
            s = (32 - a) * (32 - b) * px[0][0] + a * (32 - b) * px[0][1] + (32 - a) * b * px[1][0] + a * b * px[1][1]
            out[yi, xi] = (s * 32 + (1 << 14)) >> 15
    return out.astype(np.uint8)


def test_warp_linear_samples_exactly_as_mediapipe_does():
    """The region is the natural centred square (odd margins keep their half pixel), as an app
    passes it to MediaPipe; files written before crop_offsets existed keep floored offsets."""
    from dataclasses import replace

    rng = np.random.default_rng(0)
    c = PreprocessContract.create(24, "unit", interpolation="warp_linear")
    assert c.crop_offsets == "exact"
    for shape in ((57, 90, 3), (90, 57, 3), (13, 17, 3), (24, 27, 3)):  # shrink wide, tall, enlarge, odd margin at size
        img = rng.integers(0, 256, shape, dtype=np.uint8)
        s = min(shape[:2])
        natural = ((shape[0] - s) / 2, (shape[1] - s) / 2, s, s)
        np.testing.assert_array_equal(resize_to_contract(img, c), _classic_opencv_bilinear(img, natural, 24))
        floored = ((shape[0] - s) // 2, (shape[1] - s) // 2, s, s)
        np.testing.assert_array_equal(
            resize_to_contract(img, replace(c, crop_offsets="floor")), _classic_opencv_bilinear(img, floored, 24)
        )
    odd = rng.integers(0, 256, (57, 90, 3), dtype=np.uint8)
    assert not np.array_equal(resize_to_contract(odd, c), resize_to_contract(odd, replace(c, crop_offsets="floor")))


def test_files_without_crop_offsets_read_as_floored_and_say_so():
    new = PreprocessContract.create(64, "imagenet", interpolation="warp_linear")
    old = new.to_dict()
    del old["input"]["crop_offsets"]  # written before the field existed
    back = PreprocessContract.from_dict(old)
    assert back.crop_offsets == "floor" and back.floors_crop and not back.same_preprocessing(new)
    assert "offsets floored" in back.describe() and "offsets floored" not in new.describe()
    assert PreprocessContract.from_json(new.to_json()) == new


def test_each_interpolation_is_followed():
    import cv2

    img = np.random.default_rng(1).integers(0, 256, (80, 80, 3), dtype=np.uint8)
    for name, flag in (("area", cv2.INTER_AREA), ("linear", cv2.INTER_LINEAR)):
        c = PreprocessContract.create(24, "unit", interpolation=name)
        np.testing.assert_array_equal(resize_to_contract(img, c), cv2.resize(img, (24, 24), interpolation=flag))
    outs = {
        n: resize_to_contract(img, PreprocessContract.create(24, "unit", interpolation=n))
        for n in ("area", "linear", "warp_linear")
    }
    assert not np.array_equal(outs["area"], outs["warp_linear"]) and not np.array_equal(
        outs["linear"], outs["warp_linear"]
    )


def test_a_pixel_in_uint8_input_is_encoded_without_any_arithmetic():
    c = PreprocessContract.create(16, "imagenet").as_pixel_in()
    px = np.random.default_rng(2).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    enc = InputEncoder(c, np.uint8, 1.0, 0)
    assert enc.identity and enc.encode_resized(px) is px
    shifted = InputEncoder(c, np.int8, 1.0, -128)  # int8 I/O: pixel - 128
    assert not shifted.identity
    np.testing.assert_array_equal(shifted.encode_resized(px).astype(int), px.astype(int) - 128)
    assert not InputEncoder(PreprocessContract.create(16, "imagenet"), np.uint8, 0.0186, 114).identity
