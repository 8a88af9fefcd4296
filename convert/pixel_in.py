"""Pixel-in models: the contract's per-channel normalisation moved inside the graph.

A pixel-in model takes the raw 0-255 RGB pixel. Its full-integer variant's uint8 input is then
the pixel itself (scale 1, zero point 0), which is what MediaPipe, ML Kit and Coral feed a
quantised image model, and the device's preprocessing is crop and resize only: no float
arithmetic, no lookup table per frame. The float variants take 0-255 floats, described in the
standard metadata by a scalar mean 0 / std 1 that MediaPipe accepts (it refuses per-channel
normalisation).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sentilite.core.contract import PreprocessContract
from sentilite.core.errors import ConversionError


def wrap_pixel_in(model: Any, contract: PreprocessContract) -> Any:
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
            f"The {variant} pixel-in model's {np.dtype(dtype).name} input has scale {scale:g} and zero point {zero_point}, "
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


def fold_decision_rule(model: Any, contract: PreprocessContract) -> tuple[Any, PreprocessContract, bool]:
    """Fold the contract's decision rule into the final Dense layer (named ``logits``, as
    ``sentilite train`` builds it): ``softmax(log(p) / T + b) = softmax(z / T + b)`` for
    ``p = softmax(z)``, so ``W / T`` and ``bias / T + b`` give the ruled probabilities exactly.

    Then the .tflite itself answers with the rule, for MediaPipe and any app as much as for
    sentilite, and its contract carries an identity rule (the fold is in its provenance).
    Returns ``(model, contract, folded)``; a model without such a layer keeps the rule in its contract.
    """
    from dataclasses import replace

    from sentilite.core.decision import DecisionRule

    rule = contract.decision
    if rule.identity or contract.output != "probabilities":
        return model, contract, False
    layer = _find_layer(model, "logits")
    if layer is None or len(layer.get_weights()) != 2:
        return model, contract, False
    kernel, bias = layer.get_weights()
    offsets = np.asarray(rule.class_log_bias or [0.0] * kernel.shape[-1], np.float32)
    layer.set_weights([kernel / np.float32(rule.temperature), bias / np.float32(rule.temperature) + offsets])
    folded = replace(contract, decision=DecisionRule()).with_provenance(decision_rule_in_model=rule.to_dict())
    return model, folded, True


def _find_layer(model: Any, name: str) -> Any:
    for layer in getattr(model, "layers", []):
        if layer.name == name:
            return layer
        inner = _find_layer(layer, name)
        if inner is not None:
            return inner
    return None
