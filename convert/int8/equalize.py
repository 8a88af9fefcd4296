"""Cross-layer equalisation: give every channel of a per-tensor int8 activation a similar range.

An int8 activation has one scale per tensor, set by its widest channel; a channel whose values
stay small keeps a few levels. On MobileNetV2 the stem's ReLU6 output (channel maxima from
under 0.07 to 4.4) and the 160-channel residual stream at 7x7 (-27 to 35) are the worst. Scaling channel ``c``
of such a tensor by ``s_c`` and dividing the weights that read it by ``s_c`` leaves the float
function unchanged (Nagel et al. 2019, "Data-free quantization through weight equalization and
bias correction"), and int8 then spends its levels on every channel. Two patterns are rewritten:

- **ReLU pairs**: a layer (its BatchNorm, if any, does the scaling) -> ReLU / ReLU6 -> [padding]
  -> Conv2D / DepthwiseConv2D / Dense. ReLU is positively homogeneous; for ReLU6 a channel is
  raised to at most ``6 / (1 + margin)`` of its calibration maximum, so values up to
  ``1 + margin`` times what calibration saw still clip where they did.
- **linear streams**: projections without activation (BatchNorm outputs) joined by ``Add``
  layers, a residual stream, with every reader a convolution or the stream's own ``Add``: every
  producer's output channel is scaled, every reader's input channel divided.

The scales come from calibration images run through the float model (per-channel maxima of
|x|). A channel's divisor lands in its reader's weights: free for a depthwise reader (its
int8 weights are per channel anyway); for a full convolution it widens that input channel's
share of the weight error, so those scales are softened (``s ** conv_alpha``). A channel that
no reader uses (all its reader weights are zero) is shrunk instead. Per-channel weight
quantisation of the scaled producers is unaffected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from .graph import called_once, consumers, is_depthwise, is_linear, probe_batches, rewritable, sources

if TYPE_CHECKING:
    import keras

#: limits on one channel's scale: beyond 64x a channel is noise the float model barely uses
MAX_SCALE = 64.0


@dataclass
class Group:
    """One place to equalise: the layers whose output channels are scaled (``producers``: a
    BatchNorm, or the weighted layer itself), the tensors whose ranges are measured (``taps``),
    the layers whose input channels are divided (``readers``) and the bound of a ReLU6, if any."""

    kind: str
    producers: list[Any]
    taps: list[Any]
    readers: list[Any]
    bound: Optional[float] = None
    scales: Optional[np.ndarray] = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        s = self.scales if self.scales is not None else np.ones(1)
        return {
            "kind": self.kind,
            "producers": [p.name for p in self.producers],
            "readers": [r.name for r in self.readers],
            "channels": int(s.size),
            "scale_median": round(float(np.median(s)), 3),
            "scale_max": round(float(s.max()), 3),
            "shrunk": int((s < 1).sum()),
        }


def _relu_bound(layer: keras.Layer, keras: ModuleType) -> tuple[bool, Optional[float]]:
    """(is a plain ReLU, its upper bound or None): a ReLU layer, or a layer whose activation is relu/relu6."""
    if isinstance(layer, keras.layers.ReLU):
        plain = float(layer.negative_slope) == 0.0 and float(layer.threshold) == 0.0
        return plain, None if layer.max_value is None else float(layer.max_value)
    name = getattr(getattr(layer, "activation", None), "__name__", "")
    return name in ("relu", "relu6"), 6.0 if name == "relu6" else None


def find_groups(model: keras.Model, keras: ModuleType) -> list[Group]:
    """The ReLU pairs and linear streams of ``model`` that can be equalised exactly."""
    L = keras.layers
    layers, readers = consumers(model, keras)
    if not called_once(layers):
        return []
    src = sources(layers, readers)

    def single_source(lay: keras.Layer) -> Optional[Any]:
        got = src.get(id(lay), [])
        return got[0] if len(got) == 1 else None

    def sole_reader(lay: keras.Layer) -> Optional[Any]:
        got = readers.get(id(lay), [])
        return got[0] if len(got) == 1 else None

    def scalable(lay: keras.Layer) -> bool:
        """A producer whose output channels can be multiplied: a BatchNorm (with gamma) that alone
        reads a linear weighted layer, or a weighted layer itself."""
        if isinstance(lay, L.BatchNormalization):
            prev = single_source(lay)
            return bool(lay.scale) and rewritable(prev, keras) and is_linear(prev) and sole_reader(prev) is lay
        return rewritable(lay, keras)

    def through_pad(reader: keras.Layer) -> Optional[Any]:
        """The weighted layer that reads through ``reader`` (itself, or past one zero padding)."""
        if isinstance(reader, L.ZeroPadding2D):
            reader = sole_reader(reader)
        return reader if reader is not None and rewritable(reader, keras) else None

    groups: list[Group] = []
    paired: set[int] = set()
    for lay in layers:  # ReLU pairs: scaled before the ReLU, divided after it
        plain, bound = _relu_bound(lay, keras)
        if not plain:
            continue
        prod = single_source(lay) if isinstance(lay, L.ReLU) else lay  # a weighted layer's fused activation
        nxt = sole_reader(lay)
        reader = through_pad(nxt) if nxt is not None else None
        if prod is not None and reader is not None and scalable(prod) and (prod is lay or sole_reader(prod) is lay):
            groups.append(Group("relu", [prod], [lay], [reader], bound))
            paired.add(id(prod))
    # linear streams: producers without activation, joined by the Add layers they feed
    parent: dict[int, int] = {}

    def root(i: int) -> int:
        while parent.setdefault(i, i) != i:
            i = parent[i]
        return i

    adds = [lay for lay in layers if isinstance(lay, L.Add)]
    for add in adds:
        for s in src.get(id(add), []):
            parent[root(id(s))] = root(id(add))
    producers = [
        lay
        for lay in layers
        if id(lay) not in paired and scalable(lay) and (isinstance(lay, L.BatchNormalization) or is_linear(lay))
    ]
    members: dict[int, list[Any]] = {}
    for lay in producers + adds:
        members.setdefault(root(id(lay)), []).append(lay)
    for group in members.values():
        prods = [m for m in group if not isinstance(m, L.Add)]
        joins = [m for m in group if isinstance(m, L.Add)]
        inside = {id(m) for m in group}
        if not prods or any(id(s) not in inside for a in joins for s in src.get(id(a), [])):
            continue  # an Add also fed by something that cannot be scaled
        outside = [through_pad(r) for m in group for r in readers.get(id(m), []) if id(r) not in inside]
        if outside and all(r is not None for r in outside):
            groups.append(Group("stream", prods, prods + joins, outside))
    return groups


#: images per probe pass: every tapped layer's activations of a batch are held at once (MobileNetV2:
#: about 2.5 GB at 16 images, measured; convert's 4 GB memory goal, issue 32)
PROBE_BATCH = 4


def channel_maxima(
    model: keras.Model, keras: ModuleType, groups: list[Group], inputs: np.ndarray, batch: int = PROBE_BATCH
) -> list[np.ndarray]:
    """Per group, the per-channel maximum of |x| over ``inputs`` and over the group's taps."""
    taps = [t for g in groups for t in g.taps]
    maxima: list[Optional[np.ndarray]] = [None] * len(taps)
    for outs in probe_batches(model, keras, taps, inputs, batch):
        for i, out in enumerate(outs):
            m = np.abs(np.asarray(out)).reshape(-1, out.shape[-1]).max(0)
            maxima[i] = m if maxima[i] is None else np.maximum(maxima[i], m)
    result, k = [], 0
    for g in groups:
        result.append(np.max(np.stack(maxima[k : k + len(g.taps)]), axis=0))
        k += len(g.taps)
    return result


def _dead(readers: list[Any], channels: int) -> np.ndarray:
    """Channels that no reader uses: all their reader weights are zero."""
    used = np.zeros(channels, bool)
    for r in readers:
        k = np.asarray(r.kernel)  # input channels on axis 0 (Dense) or -2 (Conv2D, DepthwiseConv2D)
        k = k.reshape(k.shape[0], -1) if k.ndim == 2 else np.moveaxis(k, -2, 0).reshape(channels, -1)
        used |= np.abs(k).max(1) > 0
    return ~used


def scales_for(group: Group, maxima: np.ndarray, alpha: float, margin: float) -> np.ndarray:
    """Each channel's scale: live channels raised towards the widest live one (a ReLU6's to at
    most ``bound / (1 + margin)``), softened to ``s ** alpha``; unused channels shrunk to the
    widest live one."""
    dead = _dead(group.readers, maxima.size)
    live = maxima[~dead]
    if live.size == 0 or live.max() <= 0:
        return np.ones_like(maxima, np.float32)
    target = live.max()
    if group.bound is not None:
        target = min(target, group.bound / (1.0 + margin))
    s = np.clip(target / np.maximum(maxima, 1e-12), 1.0, MAX_SCALE)
    s[maxima >= target] = 1.0
    s = s**alpha
    s[dead] = np.minimum(1.0, live.max() / np.maximum(maxima[dead], 1e-12))
    return s.astype(np.float32)


def apply_scales(group: Group, s: np.ndarray) -> None:
    """Multiply the producers' output channels by ``s`` and divide the readers' input channels."""
    for p in group.producers:
        if hasattr(p, "gamma") and hasattr(p, "moving_mean"):  # BatchNormalization: y = gamma * x_hat + beta
            p.gamma.assign(np.asarray(p.gamma) * s)
            if p.center:
                p.beta.assign(np.asarray(p.beta) * s)
        else:
            k = np.asarray(p.kernel)
            p.kernel.assign(k * s.reshape((1,) * (k.ndim - 2) + (-1, 1)) if is_depthwise(p) else k * s)
            if p.use_bias:
                p.bias.assign(np.asarray(p.bias) * s)
    for r in group.readers:
        k = np.asarray(r.kernel)
        shape = (-1, 1) if k.ndim == 2 else (1,) * (k.ndim - 2) + (-1, 1)
        r.kernel.assign(k / s.reshape(shape))
    group.scales = s


def equalize(
    model: keras.Model,
    inputs: np.ndarray,
    pair_alpha: float = 0.5,
    stream_alpha: float = 1.0,
    margin: float = 0.25,
    batch: int = PROBE_BATCH,
) -> list[Group]:
    """Equalise ``model`` in place on calibration ``inputs`` (preprocessed as its input); returns
    what was scaled. The float function is unchanged within ``1 + margin`` of the calibration range.

    A ReLU pair read by a full convolution takes ``s ** pair_alpha``, a stream ``s ** stream_alpha``,
    a pair read by a depthwise convolution the whole ``s`` (its per-channel weights make it free).
    The defaults were found on the issue-16 MobileNetV2 and confirmed by the int8 file's mean |dp|
    on OASIS, labels unused (convert/README.md says how)."""
    from sentilite.core.tf_import import import_keras

    keras = import_keras("conversion")
    groups = find_groups(model, keras)
    if not groups:
        return []
    for group, maxima in zip(groups, channel_maxima(model, keras, groups, inputs, batch)):
        alpha = (
            1.0 if all(is_depthwise(r) for r in group.readers) else pair_alpha if group.kind == "relu" else stream_alpha
        )
        apply_scales(group, scales_for(group, maxima, alpha, margin))
    return groups
