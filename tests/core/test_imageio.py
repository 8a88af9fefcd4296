"""Decoding images: what users get for good, corrupt, truncated and missing files."""

import io

import numpy as np
import pytest
from PIL import Image

from sentilite.core.errors import ImageReadError
from sentilite.core.imageio import decode_image_bytes, load_image


def _jpeg_bytes(w=64, h=48, **kw):
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), 120, np.uint8)).save(buf, "JPEG", **kw)
    return buf.getvalue()


def test_reads_rgb_uint8(tmp_path):
    p = tmp_path / "ok.png"
    Image.fromarray(np.full((5, 7), 200, np.uint8), mode="L").save(p)  # greyscale becomes RGB
    img = load_image(p)
    assert img.shape == (5, 7, 3) and img.dtype == np.uint8


def test_exif_orientation_is_applied(tmp_path):
    p = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(np.zeros((20, 40, 3), np.uint8)).save(p, exif=exif)
    assert load_image(p).shape == (40, 20, 3)


def test_truncated_jpeg_names_the_file(tmp_path):
    p = tmp_path / "cut.jpg"
    p.write_bytes(_jpeg_bytes(256, 256)[:300])
    with pytest.raises(ImageReadError, match="cut.jpg is truncated or corrupt"):
        load_image(p)


def test_not_an_image(tmp_path):
    p = tmp_path / "notes.jpg"
    p.write_text("this is text")
    with pytest.raises(ImageReadError, match="not an image"):
        load_image(p)


def test_missing_file(tmp_path):
    with pytest.raises(ImageReadError, match="not found"):
        load_image(tmp_path / "nope.jpg")


def test_decode_bytes():
    assert decode_image_bytes(_jpeg_bytes()).shape == (48, 64, 3)
