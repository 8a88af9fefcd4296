"""Output-aware weight rounding: choose each int8 weight for the layer's output, not for the weight.

The converter rounds every weight to the nearest step of its channel's int8 grid (scale =
max |w| / 127, per output channel). Nearest is best for the weight, not for what the layer
computes: the output error of one output channel is ``dw . x``, so its mean square over the
calibration inputs is ``dw^T C dw`` with ``C`` the inputs' second-moment matrix. Two solvers of
that objective, layer by layer, run one after the other:

- GPTQ (Frantar et al. 2023): the input dimensions are quantised one at a time, each to nearest,
  and its error pushed onto the dimensions not yet quantised through ``C``'s inverse;
- greedy coordinate descent from there, one grid step at a time, each step kept when it lowers
  the objective (AdaRound's objective, Nagel et al. 2020; from nearest rounding, with each weight
  kept between its two neighbours, it is AdaRound's problem solved greedily).

On MobileNetV2 the median layer's output error falls to 0.34x that of nearest rounding (0.39x with
the descent alone).

The chosen weights are written back *on* the int8 grid, with the BatchNorm folded in first (the
BatchNorm left as the identity plus the folded bias), so the converter's own round-to-nearest
reproduces them exactly and the int8 file carries them. Conv2D and DepthwiseConv2D only: the
converter quantises them per channel as assumed here (checked by the tests on a real file).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from .graph import called_once, consumers, is_depthwise, is_linear, probe_batches, rewritable

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

#: input dimensions (kernel height x width x input channels) beyond which a layer keeps nearest rounding (memory, time)
MAX_DIM = 4608
#: at most this many input rows (positions x images) per batch enter the second moments
MAX_ROWS = 16384
#: multiply-adds one layer's coordinate descent may spend (a pass costs dims^2 x channels): MobileNetV2's
#: widest layer (960 x 960 x 320) gets all 6 passes, a VGG19 3x3x512 convolution one (about 10 s)
PASS_BUDGET = 2e9
#: bytes of second-moment matrices held at once: MobileNetV2's (41 MB) take one pass over the
#: images, VGG19's (1.3 GB, 170 MB for each 3x3x512 convolution) three
MOMENT_MEMORY = 512 * 2**20


@dataclass
class Rounded:
    """What rounding did to one layer: the mean-square output error before and after, per output channel."""

    layer: str
    error_nearest: float
    error_chosen: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "error_nearest": float(f"{self.error_nearest:.4g}"),
            "error_chosen": float(f"{self.error_chosen:.4g}"),
        }


def fold_batchnorm(layer: keras.Layer, bn: Optional[Any]) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """(kernel, bias) of ``layer`` with ``bn`` (inference statistics) folded in, as the converter folds it."""
    k = np.asarray(layer.kernel, np.float64)
    b = np.asarray(layer.bias, np.float64) if layer.use_bias else None
    if bn is None:
        return k, b
    scale = 1.0 / np.sqrt(np.asarray(bn.moving_variance, np.float64) + bn.epsilon)
    if bn.scale:
        scale = scale * np.asarray(bn.gamma, np.float64)
    shift = -np.asarray(bn.moving_mean, np.float64) * scale + (np.asarray(bn.beta, np.float64) if bn.center else 0.0)
    k = k * scale.reshape(k.shape[2], k.shape[3]) if is_depthwise(layer) else k * scale
    return k, shift if b is None else b * scale + shift


def _columns(layer: keras.Layer, k: np.ndarray) -> np.ndarray:
    """The kernel as (input dims, output channels); a depthwise kernel as (kh*kw, channels)."""
    return k.reshape(-1, k.shape[2] * k.shape[3]) if is_depthwise(layer) else k.reshape(-1, k.shape[-1])


def _patches(tf: ModuleType, layer: keras.Layer, x: tf.Tensor) -> Any:
    """The input rows each output position reads: (rows, kh*kw*cin), ordered as the kernel."""
    kh, kw = layer.kernel_size
    if (kh, kw) == (1, 1) and tuple(layer.strides) == (1, 1):
        return tf.reshape(x, (-1, x.shape[-1]))
    sh, sw = layer.strides
    dh, dw = layer.dilation_rate
    p = tf.image.extract_patches(x, [1, kh, kw, 1], [1, sh, sw, 1], [1, dh, dw, 1], layer.padding.upper())
    return tf.reshape(p, (-1, p.shape[-1]))


def second_moments(
    model: keras.Model, keras: ModuleType, layers: list[Any], inputs: np.ndarray, batch: int = 8, seed: int = 0
) -> list[np.ndarray]:
    """Per layer, ``E[x x^T]`` of its input rows over ``inputs`` (a depthwise layer: one 9x9 per channel)."""
    from sentilite.core.tf_import import import_tensorflow

    tf = import_tensorflow("conversion")
    rng = np.random.default_rng(seed)
    sums: list[Optional[np.ndarray]] = [None] * len(layers)
    count = [0] * len(layers)
    for outs in probe_batches(model, keras, layers, inputs, batch, what="input"):
        for i, (layer, x) in enumerate(zip(layers, outs)):
            rows = _patches(tf, layer, tf.convert_to_tensor(x))
            if rows.shape[0] > MAX_ROWS:
                rows = tf.gather(rows, np.sort(rng.choice(rows.shape[0], MAX_ROWS, replace=False)))
            if is_depthwise(layer):
                r = tf.reshape(rows, (rows.shape[0], -1, x.shape[-1]))
                m = tf.einsum("nkc,nlc->ckl", r, r)
            else:
                m = tf.matmul(rows, rows, transpose_a=True)
            m = np.asarray(m, np.float64)
            sums[i] = m if sums[i] is None else sums[i] + m
            count[i] += rows.shape[0]
    return [m / max(n, 1) for m, n in zip(sums, count)]


def _objective(q: np.ndarray, r: np.ndarray, step: np.ndarray, c: np.ndarray) -> float:
    """The output error ``dw^T c dw`` summed over channels, of grid values ``q`` for weights ``r`` (both in steps)."""
    d = (q - r) * step
    return float(np.sum(d * (c @ d)) if c.ndim == 2 else np.einsum("dc,cde,ec->", d, c, d))


def _grid(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(each channel's int8 step, max |w| / 127 as the converter derives it; ``w`` in steps)."""
    step = np.maximum(np.abs(w).max(0), 1e-30) / 127.0
    return step, w / step


def round_for_output(
    w: np.ndarray, c: np.ndarray, passes: int = 6, start: Optional[np.ndarray] = None
) -> tuple[np.ndarray, float, float]:
    """``w`` (dims, channels) rounded to each channel's symmetric int8 grid (max |w| / 127) so
    that ``dw^T c dw`` is small; ``c`` is (dims, dims) shared, or (channels, dims, dims).
    Greedy coordinate descent, one grid step at a time:
    from nearest rounding, each weight only between its two neighbours (AdaRound's choice); from
    ``start`` (weights already on the grid, e.g. :func:`gptq_round`'s), anywhere on the grid.
    Returns (the rounded weights, on the grid), the objective with nearest rounding, and after.
    Each channel's largest weight keeps its value, so the converter derives the same grid."""
    shared = c.ndim == 2
    step, r = _grid(w)
    q = np.clip(np.round(r if start is None else start / step), -127, 127)

    before = _objective(np.clip(np.round(r), -127, 127), r, step, c)
    d = (q - r) * step
    g = c @ d if shared else np.einsum("cde,ec->dc", c, d)  # the objective's half-gradient, C dw
    diag = np.diag(c)[:, None] if shared else np.einsum("cdd->dc", c)
    movable = ~np.isclose(np.abs(r), 127.0)
    for _ in range(passes):
        moved = 0
        for k in range(w.shape[0]):
            gain = []
            for sign in (1.0, -1.0):  # the change in the objective for one step up, one down
                ok = movable[k] & (np.abs(q[k] + sign) <= 127)
                if start is None:
                    ok &= np.abs(q[k] + sign - r[k]) < 1.0
                gain.append(np.where(ok, 2 * sign * step * g[k] + step * step * diag[k], np.inf))
            sign = np.where(gain[0] <= gain[1], 1.0, -1.0)
            take = np.minimum(gain[0], gain[1]) < 0
            if not take.any():
                continue
            dd = np.where(take, sign * step, 0.0)
            q[k] += np.where(take, sign, 0.0)
            g += c[:, k, None] * dd if shared else c[:, :, k].T * dd
            moved += int(take.sum())
        if not moved:
            break
    return q * step, before, _objective(q, r, step, c)


def gptq_round(w: np.ndarray, c: np.ndarray, damp: float = 0.01) -> np.ndarray:
    """``w`` (dims, channels) quantised to each channel's symmetric int8 grid by GPTQ (Frantar et
    al. 2023, after Optimal Brain Quantization): one input dimension at a time, each rounded to
    nearest and its output error ``dw^T c dw`` pushed onto the dimensions not yet quantised through
    the inverse of ``c``. Not limited to the two neighbours of each weight, unlike
    :func:`round_for_output`. Each channel's largest weight is set to exactly +-127 steps, so the
    converter derives the same grid. ``c`` is (dims, dims) shared or (channels, dims, dims).
    Returns the quantised weights (on the grid); :func:`round_for_output` with ``start`` scores them."""
    shared = c.ndim == 2
    dims, ch = w.shape
    step, r = _grid(w)
    pin = np.abs(r).argmax(0)
    pin_val = np.sign(r[pin, np.arange(ch)]) * 127.0
    h = c.copy()
    dead = np.einsum("...ii->...i", h) <= 0  # inputs that are always zero
    if shared:
        h[dead, dead] = 1.0
        order = np.argsort(-np.diag(h))  # large-variance inputs first (GPTQ's act-order)
    else:
        ci, di = np.nonzero(dead)
        h[ci, di, di] = 1.0
        order = np.arange(dims)
    mean_diag = np.einsum("...ii->...i", h).mean(-1, keepdims=True)
    h = h + damp * mean_diag[..., None] * np.eye(dims)
    if shared:
        h = h[np.ix_(order, order)]
    u = np.swapaxes(np.linalg.cholesky(np.linalg.inv(h)), -1, -2)  # upper U with inv(h) = U^T U
    work = (w[order] if shared else w).copy()
    pos = np.argsort(order)[pin]  # where each channel's pinned weight sits in the processing order
    q = np.zeros_like(work)
    for i in range(dims):
        qi = np.clip(np.round(work[i] / step), -127, 127)
        qi = np.where(pos == i, pin_val, qi)
        q[i] = qi
        uii = u[i, i] if shared else u[:, i, i]
        err = (work[i] - qi * step) / uii
        if i + 1 < dims:
            work[i + 1 :] -= (u[i, i + 1 :, None] * err) if shared else (u[:, i, i + 1 :].T * err)
    return (q[np.argsort(order)] if shared else q) * step


def _input_dims(layer: keras.Layer) -> int:
    """The inputs one output value reads: kh*kw for a depthwise kernel, kh*kw*cin for a convolution."""
    shape = layer.kernel.shape
    return int(np.prod(shape[:2] if is_depthwise(layer) else shape[:-1]))


def _moment_bytes(layer: keras.Layer) -> int:
    """The size of a layer's second-moment matrix (float64; a depthwise layer's, one per channel)."""
    return 8 * _input_dims(layer) ** 2 * (layer.kernel.shape[2] if is_depthwise(layer) else 1)


def _by_memory(convs: list[Any], budget: int) -> list[list[Any]]:
    """``convs`` in consecutive groups whose second-moment matrices fit ``budget`` bytes together
    (a group of one where a single matrix is larger): one pass over the images per group."""
    groups: list[list[Any]] = [[]]
    used = 0
    for layer in convs:
        size = _moment_bytes(layer)
        if groups[-1] and used + size > budget:
            groups.append([])
            used = 0
        groups[-1].append(layer)
        used += size
    return groups


def round_weights(
    model: keras.Model, inputs: np.ndarray, batch: int = 8, gptq: bool = True, memory: int = MOMENT_MEMORY
) -> list[Rounded]:
    """Fold every BatchNorm into its convolution and round the convolutions' weights for their
    outputs on calibration ``inputs`` (in place); returns the per-layer output errors. Without
    ``gptq``, only the descent from nearest rounding (AdaRound's problem). The second moments
    are gathered in as many passes over ``inputs`` as ``memory`` bytes require, all of them on
    the model as it came (the weights are written once every layer is rounded)."""
    from sentilite.core.tf_import import import_keras

    keras = import_keras("conversion")
    L = keras.layers
    layers, readers = consumers(model, keras)
    convs = [
        lay
        for lay in layers
        if isinstance(lay, (L.Conv2D, L.DepthwiseConv2D)) and rewritable(lay, keras) and _input_dims(lay) <= MAX_DIM
    ]
    if not called_once(layers) or not convs:
        return []
    chosen: list[tuple[Any, Optional[Any], np.ndarray, Optional[np.ndarray]]] = []
    done: list[Rounded] = []
    for group in _by_memory(convs, memory):
        for layer, c in zip(group, second_moments(model, keras, group, inputs, batch)):
            nxt = readers.get(id(layer), [])
            bn = nxt[0] if len(nxt) == 1 and isinstance(nxt[0], L.BatchNormalization) and is_linear(layer) else None
            k, b = fold_batchnorm(layer, bn)
            w = _columns(layer, k)
            passes = int(np.clip(PASS_BUDGET // (w.shape[0] ** 2 * w.shape[1]), 1, 6))
            start = gptq_round(w, c) if gptq else None
            q, before, after = round_for_output(w, c, passes, start=start)
            chosen.append((layer, bn, q.reshape(k.shape), b))
            done.append(Rounded(layer.name, before, after))
    for layer, bn, k, b in chosen:
        _write(layer, bn, k, b)
    return done


def _write(layer: keras.Layer, bn: Optional[Any], k: np.ndarray, b: Optional[np.ndarray]) -> None:
    """Give ``layer`` the rounded, BatchNorm-folded kernel ``k`` and bias ``b``; the BatchNorm
    becomes x + bias: (x - (-bias)) / sqrt(1 - eps + eps) * 1 + 0."""
    layer.kernel.assign(k.astype(np.float32))
    if layer.use_bias:
        layer.bias.assign(b.astype(np.float32))
    if bn is not None:
        n = b.shape[0]
        bn.moving_mean.assign((np.zeros(n) if layer.use_bias else -b).astype(np.float32))
        bn.moving_variance.assign(np.full(n, 1.0 - bn.epsilon, np.float32))
        if bn.scale:
            bn.gamma.assign(np.ones(n, np.float32))
        if bn.center:
            bn.beta.assign(np.zeros(n, np.float32))
