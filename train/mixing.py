"""Batch mixing for training: mixup (Zhang et al. 2018) and CutMix (Yun et al. 2019).

Each batch is paired with a permutation of itself. mixup blends whole images,
``x = lam * x + (1 - lam) * x[perm]``; CutMix pastes a box of ``x[perm]`` covering ``1 - lam`` of
the image. The loss is the same blend of the two samples' own losses,
``lam * L(x, y, t) + (1 - lam) * L(x, y[perm], t[perm])``, so it works unchanged for partial labels
(each sample keeps its class mask) and for distillation (each keeps its teacher's targets).

The draws are stateless functions of (seed, optimizer step): a resumed run mixes exactly as an
uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tensorflow as tf


@dataclass(frozen=True)
class MixSpec:
    """How to mix training batches: ``kind`` none | mixup | cutmix, lam ~ Beta(alpha, alpha)."""

    kind: str = "none"
    alpha: float = 0.2
    seed: int = 0

    @property
    def active(self) -> bool:
        return self.kind != "none"


def _beta(tf: ModuleType, alpha: float, seed: tf.Tensor) -> Any:
    """One Beta(alpha, alpha) draw from two stateless Gamma draws."""
    a = tf.constant(float(alpha), tf.float32)
    g1 = tf.random.stateless_gamma([], seed=seed, alpha=a)
    g2 = tf.random.stateless_gamma([], seed=seed + tf.constant([0, 1], seed.dtype), alpha=a)
    return g1 / tf.maximum(g1 + g2, 1e-12)


def box_mask(tf: ModuleType, height: tf.Tensor, width: tf.Tensor, lam: tf.Tensor, seed: tf.Tensor) -> Any:
    """(H, W, 1) float mask, 1 inside a box of about ``1 - lam`` of the image, centred uniformly
    (clipped at the borders as in the CutMix paper)."""
    h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    r = tf.sqrt(1.0 - lam)
    centre = tf.random.stateless_uniform([2], seed=seed + tf.constant([0, 2], seed.dtype))
    cy, cx = centre[0] * h, centre[1] * w
    y0, y1 = tf.clip_by_value(cy - r * h / 2, 0.0, h), tf.clip_by_value(cy + r * h / 2, 0.0, h)
    x0, x1 = tf.clip_by_value(cx - r * w / 2, 0.0, w), tf.clip_by_value(cx + r * w / 2, 0.0, w)
    rows = tf.range(h) + 0.5
    cols = tf.range(w) + 0.5
    inside_r = tf.cast((rows >= y0) & (rows < y1), tf.float32)
    inside_c = tf.cast((cols >= x0) & (cols < x1), tf.float32)
    return (inside_r[:, None] * inside_c[None, :])[:, :, None]


def mix_batch(tf: ModuleType, x: tf.Tensor, spec: MixSpec, step: tf.Tensor) -> tuple[Any, Any, Any]:
    """(mixed x, permutation, lam): ``lam`` is the share of each sample's own content (for CutMix,
    the area actually kept after clipping)."""
    seed = tf.stack([tf.constant(int(spec.seed), tf.int64), tf.cast(step, tf.int64) * 7 + 1])
    n = tf.shape(x)[0]
    perm = tf.argsort(tf.random.stateless_uniform([n], seed=seed + tf.constant([0, 3], tf.int64)))
    lam = _beta(tf, spec.alpha, seed)
    other = tf.gather(x, perm)
    if spec.kind == "mixup":
        lam_x = tf.cast(lam, x.dtype)
        return lam_x * x + (1 - lam_x) * other, perm, lam
    if spec.kind == "cutmix":
        mask = box_mask(tf, tf.shape(x)[1], tf.shape(x)[2], lam, seed)
        kept = 1.0 - tf.reduce_mean(mask)
        m = tf.cast(mask, x.dtype)
        return x * (1 - m) + other * m, perm, kept
    raise ValueError(f"unknown mix {spec.kind!r}")
