"""Training-time augmentation as TF ops on a batch of contract-sized uint8 images.

Randomness is stateless: each batch's seed is derived from (run seed, phase, epoch, batch index),
so an epoch is reproduced exactly after a resume. Augmentation is applied before the contract's
normalisation and never during evaluation.

- ``flip``: horizontal flip with probability 1/2;
- ``crop``: a random square-aspect crop of 75-100 % of the side, resized back (bilinear);
- ``color``: brightness +-12 %, contrast x0.8-1.25, saturation x0.7-1.3.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    import tensorflow as tf

#: Luma weights (ITU-R BT.601) per channel, for the saturation jitter.
_LUMA_RGB = (0.299, 0.587, 0.114)


def augment_batch(tf: ModuleType, images: Any, seed: tf.Tensor, names: Sequence[str], color_order: str = "RGB") -> Any:
    """uint8 ``(B, H, W, 3)`` -> augmented float32 pixels in [0, 255] (same colour order)."""
    x = tf.cast(images, tf.float32)
    if not names:
        return x
    b = tf.shape(x)[0]
    h, w = tf.shape(x)[1], tf.shape(x)[2]
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=6)
    if "crop" in names:
        frac = tf.random.stateless_uniform([b], seeds[0], 0.75, 1.0)
        oy = tf.random.stateless_uniform([b], seeds[1], 0.0, 1.0) * (1.0 - frac)
        ox = tf.random.stateless_uniform([b], seeds[2], 0.0, 1.0) * (1.0 - frac)
        boxes = tf.stack([oy, ox, oy + frac, ox + frac], axis=1)
        x = tf.image.crop_and_resize(x, boxes, tf.range(b), tf.stack([h, w]), method="bilinear")
    if "flip" in names:
        flip = tf.random.stateless_uniform([b], seeds[3]) < 0.5
        x = tf.where(flip[:, None, None, None], tf.reverse(x, axis=[2]), x)
    if "color" in names:
        u = tf.random.stateless_uniform([b, 3], seeds[4])
        brightness = (u[:, 0] * 0.24 - 0.12) * 255.0
        contrast = 0.8 + u[:, 1] * 0.45
        saturation = 0.7 + u[:, 2] * 0.6
        x = x + brightness[:, None, None, None]
        mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
        x = (x - mean) * contrast[:, None, None, None] + mean
        luma = _LUMA_RGB if color_order == "RGB" else _LUMA_RGB[::-1]
        gray = tf.reduce_sum(x * tf.constant(luma, tf.float32), axis=-1, keepdims=True)
        x = gray + (x - gray) * saturation[:, None, None, None]
    return tf.clip_by_value(x, 0.0, 255.0)
