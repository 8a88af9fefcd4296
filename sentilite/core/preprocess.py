"""The one function that turns a decoded image into model input, per a :class:`PreprocessContract`.

``prepare`` is the reference (crop, resize, normalise to float32). ``InputEncoder`` gives the
same values for a specific model input (float32, or int8/uint8 with the model's scale and
zero point) through a 256-entry lookup table per channel, which is what makes it cheap enough
for a camera loop. Tests hold the two equal, and the training pipeline equal to ``prepare``.
"""

from __future__ import annotations

import functools
from typing import Optional

import cv2
import numpy as np

from .contract import PreprocessContract
from .errors import ContractError


def _as_uint8_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise ValueError(f"expected an (H, W, 3) image array, got shape {shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    return image


def crop_box(h: int, w: int, contract: PreprocessContract) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the region the contract keeps from an ``h x w`` image."""
    if contract.resize == "stretch":
        return 0, 0, h, w
    # center_crop: the largest central region with the target aspect ratio
    # (for a square target: the shorter side, centred).
    target = contract.width / contract.height
    if w / h > target:
        cw, ch = max(1, round(h * target)), h
    else:
        cw, ch = w, max(1, round(w / target))
    return (h - ch) // 2, (w - cw) // 2, ch, cw


def crop_region(h: int, w: int, contract: PreprocessContract) -> tuple[float, float, int, int]:
    """:func:`crop_box` at the exact centre: (top, left, height, width) with offsets that may end
    in .5. This is the region an app asks MediaPipe for when it centres a crop the natural way,
    ``left = (w - crop) / 2``; warp_linear samples it without rounding it to whole pixels."""
    _, _, ch, cw = crop_box(h, w, contract)
    return (h - ch) / 2, (w - cw) / 2, ch, cw


@functools.lru_cache(maxsize=16)
def _warp_maps(box: tuple[float, float, int, int], size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-point sampling maps for :func:`_warp_linear` (cached: a camera's frames share them)."""
    top, left, ch, cw = box
    xs = left + np.arange(size[0]) * (cw / size[0])
    ys = top + np.arange(size[1]) * (ch / size[1])
    # Classic OpenCV warps round each source coordinate to 1/32 pixel and interpolate with
    # 15-bit integer weights; cv2.remap with these maps does exactly that (OpenCV >= 4.11's own
    # warpAffine interpolates in float, and then differs from MediaPipe on ~5 % of pixels).
    fx, fy = np.rint(xs * 32).astype(np.int64), np.rint(ys * 32).astype(np.int64)
    coords = np.empty((size[1], size[0], 2), np.int16)
    coords[..., 0] = (fx >> 5)[None, :]
    coords[..., 1] = (fy >> 5)[:, None]
    table = ((fy & 31)[:, None] * 32 + (fx & 31)[None, :]).astype(np.uint16)
    return coords, table


def _warp_linear(image: np.ndarray, box: tuple[float, float, int, int], size: tuple[int, int]) -> np.ndarray:
    """Bilinear sampling of ``box`` at ``left + i * crop / size``, read from the whole image.

    MediaPipe Tasks' ImageToTensor maps the region's corners onto the tensor's corners and warps
    with INTER_LINEAR (its bundled OpenCV, fixed-point). This gives the same pixels, bit for bit
    (``tests/app/test_mediapipe_client.py``), which is what makes an app on MediaPipe agree with sentilite.
    """
    coords, table = _warp_maps(box, size)
    return cv2.remap(image, coords, table, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def resize_to_contract(image: np.ndarray, contract: PreprocessContract, order: str = "RGB") -> np.ndarray:
    """Crop and resize an RGB/BGR uint8 image to the contract's size, interpolation and colour order."""
    image = _as_uint8_image(image)
    top, left, ch, cw = crop_box(image.shape[0], image.shape[1], contract)
    size = (contract.width, contract.height)
    exact = (top, left, ch, cw) if contract.floors_crop else crop_region(image.shape[0], image.shape[1], contract)
    if contract.interpolation == "warp_linear" and (exact[:2] != (top, left) or (cw, ch) != size):
        region = _warp_linear(image, exact, size)  # the exact centre, half-pixel offsets included
    elif (cw, ch) == size:
        region = image[top : top + ch, left : left + cw]
    else:
        region = image[top : top + ch, left : left + cw]
        # "area" averages when shrinking (no aliasing) and is bilinear when enlarging.
        shrinking = cw >= contract.width and ch >= contract.height
        interp = cv2.INTER_AREA if contract.interpolation == "area" and shrinking else cv2.INTER_LINEAR
        region = cv2.resize(region, size, interpolation=interp)
    if order != contract.color_order:
        region = region[..., ::-1]
    return np.ascontiguousarray(region)


def normalize(pixels: np.ndarray, contract: PreprocessContract) -> np.ndarray:
    """``(pixel / 255 - mean) / std`` in float32, channels in the contract's order ("raw": the pixel, exactly)."""
    if contract.norm.name == "raw":
        return pixels.astype(np.float32)
    mean = np.asarray(contract.norm.mean, dtype=np.float32)
    std = np.asarray(contract.norm.std, dtype=np.float32)
    return (pixels.astype(np.float32) / np.float32(255.0) - mean) / std


def prepare(image: np.ndarray, contract: PreprocessContract, order: str = "RGB") -> np.ndarray:
    """Reference preprocessing: decoded uint8 image -> ``(H, W, 3)`` float32 model input."""
    return normalize(resize_to_contract(image, contract, order), contract)


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: np.dtype) -> np.ndarray:
    """Affine quantisation as TFLite does it (round half away from zero, then clamp)."""
    info = np.iinfo(dtype)
    q = x.astype(np.float64) / scale
    q = np.sign(q) * np.floor(np.abs(q) + 0.5) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Inverse of :func:`quantize` (float32)."""
    return ((q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)).astype(np.float32)


class InputEncoder:
    """Encodes images for one model input: float32, or int8/uint8 with ``scale``/``zero_point``."""

    def __init__(
        self,
        contract: PreprocessContract,
        dtype: np.dtype = np.float32,
        scale: Optional[float] = None,
        zero_point: int = 0,
    ) -> None:
        self.contract = contract
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.int8, np.uint8):
            raise ContractError(
                f"Unsupported model input type {self.dtype}.", "export the model with float32, int8 or uint8 input"
            )
        if self.dtype != np.float32 and not scale:
            raise ContractError(f"A {self.dtype} input needs a quantisation scale, and the model has none.")
        self.scale, self.zero_point = scale, zero_point
        # Every uint8 value of every channel maps to exactly one input value: tabulate it once.
        levels = np.arange(256, dtype=np.uint8).reshape(256, 1).repeat(3, axis=1)  # (256, 3)
        table = normalize(levels, contract)
        if self.dtype != np.float32:
            table = quantize(table, scale, zero_point, self.dtype)
        self._lut = np.ascontiguousarray(table.reshape(1, 256, 3))  # cv2.LUT layout
        #: A pixel-in model with uint8 input (scale 1, zero point 0) takes the pixels as they are.
        self.identity = (
            self.dtype == np.uint8
            and bool(np.array_equal(self._lut[0, :, 0], np.arange(256)))
            and bool((self._lut[0] == self._lut[0, :, :1]).all())
        )

    def encode_resized(self, pixels: np.ndarray) -> np.ndarray:
        """Encode an image already cropped/resized to the contract (uint8, contract order)."""
        if self.identity:
            return pixels
        return cv2.LUT(pixels, self._lut)

    def __call__(self, image: np.ndarray, order: str = "RGB") -> np.ndarray:
        """Decoded uint8 image (any size) -> ``(H, W, 3)`` array of the model's input dtype."""
        return self.encode_resized(resize_to_contract(image, self.contract, order))
