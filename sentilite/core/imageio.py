"""Decoding image files into RGB uint8 arrays, with errors that say which file and why.

Every decode has a pixel budget, checked on the header before any pixel is decoded: a small
file can claim a huge image (a 24 KB PNG of 10000x10000 px decodes to 300 MB). A JPEG over the
budget is decoded at a reduced scale (libjpeg's DCT scaling: 1/2, 1/4 or 1/8), which never
holds the full image; any other format over it is refused with an error naming the fix.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Optional, Union

import numpy as np

from .errors import ImageReadError

PathLike = Union[str, os.PathLike]

#: default pixel budget of one decode: 50 Mpx, about 150 MB as RGB (a 61 Mpx camera JPEG still
#: decodes, at half scale). ``SENTILITE_MAX_PIXELS`` overrides it for the whole process.
DEFAULT_MAX_PIXELS = 50_000_000


class ImageTooLargeError(ImageReadError):
    """An image whose header claims more pixels than the decode budget allows."""


def max_pixels() -> int:
    """The pixel budget in force: ``SENTILITE_MAX_PIXELS`` or :data:`DEFAULT_MAX_PIXELS`."""
    raw = os.environ.get("SENTILITE_MAX_PIXELS", "")
    return int(raw) if raw.strip().isdigit() and int(raw) > 0 else DEFAULT_MAX_PIXELS


def jpeg_scale(width: int, height: int, budget: int) -> Optional[int]:
    """The smallest JPEG decode scale (1, 2, 4 or 8: libjpeg's DCT scaling) whose pixels fit
    ``budget``; None when even 1/8 does not. Pillow's draft mode and OpenCV's
    ``IMREAD_REDUCED_*`` both take it."""
    return next((s for s in (1, 2, 4, 8) if (width // s) * (height // s) <= budget), None)


def _fit_budget(img, name: str, budget: int) -> None:
    """Shrink a JPEG's decode scale until it fits ``budget``, or refuse the image."""
    w, h = img.size
    if w * h <= budget:
        return
    scale = jpeg_scale(w, h, budget) if img.format == "JPEG" else None
    if scale is not None:
        img.draft("RGB", (w // scale, h // scale))
        return
    raise ImageTooLargeError(
        f"{name} is {w}x{h} px ({w * h / 1e6:.0f} Mpx), over the decode budget of {budget / 1e6:.0f} Mpx.",
        "downscale it first (the model looks at a few hundred pixels), or raise SENTILITE_MAX_PIXELS",
    )


#: File suffixes treated as images when scanning folders.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")


def _decode(fp, name: str, budget: Optional[int] = None) -> np.ndarray:
    # Pillow is imported here, not at module level: the camera demo needs only
    # IMAGE_SUFFIXES from this module, and Pillow costs ~4 MB of resident memory.
    from PIL import Image, ImageOps, UnidentifiedImageError

    budget = budget or max_pixels()
    try:
        with Image.open(fp) as img:  # reads the header only
            _fit_budget(img, name, budget)
            img = ImageOps.exif_transpose(img)  # phone photos are often stored rotated
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except Image.DecompressionBombError as exc:  # Pillow's own limit, far above ours, met on open
        raise ImageTooLargeError(
            f"{name} is too large to decode ({exc}).", "downscale it first (the model looks at a few hundred pixels)"
        ) from None
    except UnidentifiedImageError:
        raise ImageReadError(
            f"{name} is not an image PIL can read (unknown or unsupported format).",
            "remove it from the list or convert it to JPEG/PNG",
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(
            f"{name} is truncated or corrupt ({exc}).", "re-download or re-export the file, or remove it from the list"
        ) from None


def load_image(path: PathLike, max_pixels: Optional[int] = None) -> np.ndarray:
    """Read an image file as an ``(H, W, 3)`` RGB uint8 array (EXIF orientation applied).

    Args:
        path: the image file.
        max_pixels: the decode budget (default :func:`max_pixels`); a JPEG over it is decoded at
            a reduced scale, any other format is refused.

    Raises:
        ImageReadError: missing, unreadable or corrupt; :class:`ImageTooLargeError` over budget.
    """
    p = Path(path)
    if not p.is_file():
        raise ImageReadError(f"Image file not found: {p}.", "check the path (and --root for split files)")
    return _decode(p, str(p), max_pixels)


def decode_image_bytes(data: bytes, name: str = "<bytes>", max_pixels: Optional[int] = None) -> np.ndarray:
    """Decode an encoded image held in memory as an RGB uint8 array (same budget as :func:`load_image`)."""
    return _decode(io.BytesIO(data), name, max_pixels)


def image_size(path: PathLike) -> Optional[tuple[int, int]]:
    """(width, height) from the file's header alone, or None when Pillow cannot read it."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


def is_image_file(path: PathLike) -> bool:
    """True when the suffix is one of :data:`IMAGE_SUFFIXES` (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES
