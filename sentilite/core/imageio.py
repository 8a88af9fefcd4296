"""Decoding image files into RGB uint8 arrays, with errors that say which file and why."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Union

import numpy as np

from .errors import ImageReadError

PathLike = Union[str, os.PathLike]

#: File suffixes treated as images when scanning folders.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")


def _decode(fp, name: str) -> np.ndarray:
    # Pillow is imported here, not at module level: the camera demo needs only
    # IMAGE_SUFFIXES from this module, and Pillow costs ~4 MB of resident memory.
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(fp) as img:
            img = ImageOps.exif_transpose(img)  # phone photos are often stored rotated
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except UnidentifiedImageError:
        raise ImageReadError(
            f"{name} is not an image PIL can read (unknown or unsupported format).",
            "remove it from the list or convert it to JPEG/PNG",
        ) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageReadError(
            f"{name} is truncated or corrupt ({exc}).",
            "re-download or re-export the file, or remove it from the list",
        ) from None


def load_image(path: PathLike) -> np.ndarray:
    """Read an image file as an ``(H, W, 3)`` RGB uint8 array (EXIF orientation applied)."""
    p = Path(path)
    if not p.is_file():
        raise ImageReadError(f"Image file not found: {p}.", "check the path (and --root for split files)")
    return _decode(p, str(p))


def decode_image_bytes(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode an encoded image held in memory as an RGB uint8 array."""
    return _decode(io.BytesIO(data), name)


def is_image_file(path: PathLike) -> bool:
    """True when the suffix is one of :data:`IMAGE_SUFFIXES` (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES
