"""Quantisation-aware fine-tuning: teach the float weights to survive full-int8 conversion.

Calibration, I/O type and float layers (convert/int8/repair.py) stop near a mean |dp| of 0.03 on
MobileNetV2: the error builds up along the network. Fine-tuning with the quantisation simulated
in the forward pass lets the weights move to where int8 rounding hurts less (on MobileNetV2 it
reaches about 0.033; re-parametrising, convert/int8/equalize.py and convert/int8/rounding.py, does better).
The simulation also serves to see where the error comes from: switch single layers to float. TF-MOT, the usual tool,
does not run on
Keras 3, so the simulation is built here from TensorFlow's fake-quant ops:

- the model is re-traced as one flat graph over the *same* layer objects (weights shared);
- every Conv2D / DepthwiseConv2D / Dense computes with its BatchNormalization folded in and its
  kernel fake-quantised per output channel, symmetric, narrow range (what the TFLite converter
  does to it: scale = max |w| / 127);
- every tensor the int8 graph stores gets an 8-bit asymmetric fake-quant with the min/max the
  converter's calibrator would record (observed on the float network over the calibration images,
  again after every epoch): the model input, the outputs of activations, of convolutions without
  one, of additions and pooling, and the logits. Padding and dropout keep their input's range;
  the softmax output has a fixed one.
- the loss is the KL divergence from the float model's own probabilities on the calibration
  images (self-distillation), so no labels are needed and the target is exactly "agree with
  the model you converted".

The fine-tuned float model is then converted by the ordinary post-training path (same
representative images), so the file is a plain full-int8 model: nothing in it depends on this
module. Fake-quant on weights is never handed to the converter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

from sentilite.core.metrics import agreement

from .graph import FROZEN_LAYERS, consumers, is_softmax, layer_classes, trace_flat

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

Log = Callable[[str], None]


@dataclass
class QatResult:
    """What the fine-tuning did, for the report."""

    epochs: int
    images: int
    seconds: float
    agreement_before: float
    agreement_after: float
    mean_abs_dp_before: float
    mean_abs_dp_after: float
    kl_before: float
    kl_after: float

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def build_qat_model(model: keras.Model) -> tuple[Any, list[Any]]:
    """(the simulated-int8 model sharing ``model``'s weights, its quantising layers: the
    activations' :class:`FakeQuant` and the weights' :class:`FoldedQuantWeights`)."""
    from sentilite.core.tf_import import import_keras

    from .qat_layers import FakeQuant, FoldedQuantWeights

    keras = import_keras("conversion")
    kinds = layer_classes(keras)
    layers, readers = consumers(model, keras)
    sole = {k: v[0] for k, v in readers.items() if len(v) == 1}
    # a BatchNormalization that alone reads a weighted layer is folded into it, as the converter does
    bn_of = {
        id(lay): sole[id(lay)]
        for lay in layers
        if isinstance(lay, kinds["weighted"]) and isinstance(sole.get(id(lay)), kinds["bn"])
    }
    folded = {id(bn) for bn in bn_of.values()}
    fqs: list[Any] = []

    def quantize_output(layer: keras.Layer) -> bool:
        nxt = sole.get(id(layer))
        if isinstance(nxt, kinds["activation"]) and not is_softmax(nxt, keras):
            return False  # the int8 kernel fuses the activation: only its output is stored
        return not isinstance(layer, kinds["same_range"]) and not is_softmax(layer, keras)

    def fq(x: tf.Tensor, name: str) -> Any:
        fqs.append(FakeQuant(name=f"fq_{name}_{len(fqs)}"))
        return fqs[-1](x)

    def call(layer: keras.Layer, *args: Any, **kwargs: Any) -> Any:
        if isinstance(layer, kinds["weighted"]):
            bn = bn_of.get(id(layer))
            layer.trainable = layer.name not in FROZEN_LAYERS
            fqs.append(FoldedQuantWeights(layer, bn, name=f"{layer.name}_qat"))
            out = fqs[-1](args[0])
            return fq(out, layer.name) if quantize_output(bn or layer) else out
        if isinstance(layer, kinds["bn"]) and id(layer) in folded:
            layer.trainable = False
            return keras.layers.Identity(name=f"{layer.name}_folded")(args[0])
        kwargs.pop("training", None)
        out = layer(*args, **kwargs)
        return fq(out, layer.name) if quantize_output(layer) else out

    shape = model.inputs[0].shape[1:]
    inp = keras.Input(shape, name="qat_input")
    out = trace_flat(model, fq(inp, "input"), call)
    return keras.Model(inp, out, name=f"{model.name}_qat"), fqs


def observe_ranges(qat: Any, fqs: list[Any], inputs: np.ndarray, batch: int) -> None:
    """Set every fake-quant's range to the min/max of its input over ``inputs``, with the whole
    network in float (weights too), as the converter's calibrator sees it."""
    for f in fqs:
        f.start_observing()
    predict_in_batches(qat, inputs, batch)
    for f in fqs:
        f.stop_observing()


def predict_in_batches(model: keras.Model, inputs: np.ndarray, batch: int) -> np.ndarray:
    """``model``'s outputs on ``inputs``, a batch at a time (a whole MobileNetV2 pass at once does not fit in
    memory)."""
    return np.concatenate(
        [np.asarray(model(inputs[s : s + batch], training=False)) for s in range(0, len(inputs), batch)]
    )


def _agreement(qat: Any, inputs: np.ndarray, targets: np.ndarray, batch: int) -> tuple[float, float, float]:
    """(top-1 agreement, mean |dp|, mean KL) of the simulated int8 model with the float targets."""
    probs = predict_in_batches(qat, inputs, batch)
    p, q = np.clip(targets, 1e-8, None), np.clip(probs, 1e-8, None)
    kl = float((targets * (np.log(p) - np.log(q))).sum(1).mean())
    a = agreement(targets, probs)
    return a["top1_agreement"], a["mean_abs_diff"], kl


def qat_finetune(
    model: keras.Model,
    inputs: np.ndarray,
    epochs: int = 3,
    lr: float = 1e-5,
    batch: int = 32,
    seed: int = 0,
    log: Optional[Log] = None,
) -> QatResult:
    """Fine-tune ``model`` in place so that its full-int8 conversion agrees with the float model
    it was; ``inputs`` are calibration images, preprocessed as the converter's representative set."""
    from sentilite.core.tf_import import import_keras, import_tensorflow

    tf, keras = import_tensorflow("conversion"), import_keras("conversion")
    say = log or (lambda s: None)
    inputs = np.asarray(inputs, np.float32)
    targets = predict_in_batches(model, inputs, batch)
    qat, fqs = build_qat_model(model)
    observe_ranges(qat, fqs, inputs, batch)
    before = after = _agreement(qat, inputs, targets, batch)
    n_act = sum(1 for f in fqs if not hasattr(f, "inner"))
    say(
        f"qat: {n_act} quantised activations, {len(fqs) - n_act} quantised kernels, {len(qat.trainable_variables)} "
        f"trainable weights; simulated int8 agrees "
        f"with float on {100 * before[0]:.1f} % of {len(inputs)} calibration images (mean |dp| {before[1]:.4f})"
    )
    opt = keras.optimizers.Adam(learning_rate=lr)
    variables = qat.trainable_variables

    @tf.function(reduce_retracing=True)
    def step(x: tf.Tensor, p: Any) -> Any:
        with tf.GradientTape() as tape:
            q = qat(x, training=False)
            loss = tf.reduce_mean(
                tf.reduce_sum(p * (tf.math.log(tf.maximum(p, 1e-8)) - tf.math.log(tf.maximum(q, 1e-8))), -1)
            )
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(len(inputs))
        losses = [
            float(step(inputs[order[s : s + batch]], targets[order[s : s + batch]]))
            for s in range(0, len(order), batch)
        ]
        observe_ranges(qat, fqs, inputs, batch)  # the converter will calibrate the fine-tuned float model
        after = _agreement(qat, inputs, targets, batch)
        say(
            f"qat epoch {epoch + 1}/{epochs}: KL {np.mean(losses):.5f}; simulated int8 agreement "
            f"{100 * after[0]:.1f} %, "
            f"mean |dp| {after[1]:.4f} ({time.perf_counter() - t0:.0f} s)"
        )
    return QatResult(
        epochs, len(inputs), time.perf_counter() - t0, before[0], after[0], before[1], after[1], before[2], after[2]
    )
