"""Pixel-in models: the contract's per-channel normalisation moved inside the graph.

A pixel-in model takes the raw 0-255 RGB pixel. Its full-integer variant's uint8 input is then
the pixel itself (scale 1, zero point 0), which is what MediaPipe, ML Kit and Coral feed a
quantised image model, and the device's preprocessing is crop and resize only: no float
arithmetic, no lookup table per frame. The float variants take 0-255 floats, described in the
standard metadata by a scalar mean 0 / std 1 that MediaPipe accepts (it refuses per-channel
normalisation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from sentilite.core.contract import PreprocessContract
from sentilite.core.errors import ConversionError

if TYPE_CHECKING:
    import keras


def wrap_pixel_in(model: keras.Model, contract: PreprocessContract) -> Any:
    """``model`` behind a layer computing ``(pixel / 255 - mean) / std`` per channel.

    The layer is a 1x1 depthwise convolution with fixed weights and bias: int8 MUL and ADD with a
    per-channel constant (Keras' Rescaling) made full-int8 MobileNetV2 about 0.8 ms slower per
    image here (XNNPACK runs broadcasting over 3 channels poorly); a depthwise convolution is its
    fast path, and its three weights are exact in int8.
    """
    from sentilite.core.tf_import import import_keras

    keras = import_keras("conversion")
    norm = contract.model_norm
    std = np.asarray(norm.std, np.float32)
    scale = (1.0 / (255.0 * std)).astype(np.float32)
    offset = (-np.asarray(norm.mean, np.float32) / std).astype(np.float32)
    pixels = keras.Input(contract.input_shape, name="pixels")
    layer = keras.layers.DepthwiseConv2D(1, use_bias=True, trainable=False, name="normalize_in_graph")
    x = layer(pixels)
    layer.set_weights([scale.reshape(1, 1, 3, 1), offset])
    return keras.Model(pixels, model(x), name=f"{model.name}_pixel_in")


def pin_pixel_range(batch: np.ndarray) -> np.ndarray:
    """A copy of a calibration batch with one pixel at 0 and one at 255.

    The converter sets the input's scale from the smallest and largest value it sees; two
    pixels at the ends of the range (out of 50,176) make it exactly 1, so the uint8 input is
    the pixel itself, whatever the calibration photos happen to contain.
    """
    out = np.array(batch, dtype=np.float32, copy=True)
    out[0, 0, 0, :] = 0.0
    out[0, 0, -1, :] = 255.0
    return out


def check_pixel_input(dtype: np.dtype, scale: float, zero_point: int, variant: str) -> None:
    """Refuse a pixel-in integer model whose input is not the pixel (uint8 1/0, int8 1/-128)."""
    want = {np.dtype(np.uint8): 0, np.dtype(np.int8): -128}.get(np.dtype(dtype))
    if want is None:
        return  # float input: nothing quantised
    if abs(scale - 1.0) > 1e-6 or zero_point != want:
        raise ConversionError(
            f"The {variant} pixel-in model's {np.dtype(dtype).name} input has scale {scale:g} and zero point "
            f"{zero_point}, "
            f"not 1 and {want}: it would not take raw pixels.",
            "report this as a sentilite bug; --no-pixel-in converts with the normalisation outside the model",
        )


def input_quantization(data: bytes) -> tuple[np.dtype, float, int]:
    """(dtype, scale, zero point) of a flatbuffer's input tensor."""
    from sentilite.core.runtime import make_interpreter

    interp, _ = make_interpreter(data, num_threads=1, allocate=False)
    detail = interp.get_input_details()[0]
    scale, zp = detail["quantization"]
    return np.dtype(detail["dtype"]), float(scale), int(zp)
