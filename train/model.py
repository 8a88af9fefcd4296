"""The sentiment model: backbone -> head (logits) -> softmax.

Four views share the same layers:

- ``backbone``: image (contract-normalised) -> feature vector;
- ``head``: feature vector -> class logits (Dropout, optional hidden Dense, Dense);
- ``logits_model``: image -> logits (what training optimises; distillation needs logits);
- ``model``: image -> probabilities (what is saved as model.keras; contract output "probabilities").

With extra heads (issue 30: the seven emotions, valence/arousal) the head has one Dense per head
on the same features, and ``head``/``logits_model`` output their concatenation, ``[sentiment
logits | emotion logits | valence/arousal pre-activations]`` (one tensor, so the training step,
mixing and tf.distribute stay as they are; ``train.head_losses`` splits it). ``model`` outputs
each head by name, in the contract's order: ``sentiment`` (softmax), ``emotions`` (softmax) and
``valence_arousal`` (``low + (high - low) * sigmoid``, on the head's scale).

A semantic head with a ConSE prior (``priors``, train.semantic_prior) adds its frozen ImageNet
branch to its Dense layer: its part of the head output is ``unit(ConSE) + Dense(features)``.

Frozen-backbone training on cached features trains ``head`` alone, which updates the very same
weights ``model`` uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Mapping, Optional

if TYPE_CHECKING:
    import keras

    from .semantic_prior import ConsePrior

from sentilite.core.heads import Head

from .backbones import Backbone


@dataclass
class SentimentModel:
    backbone: Any
    head: Any
    logits_model: Any
    model: Any

    def parameter_counts(self) -> dict[str, int]:
        return {
            "total": int(self.model.count_params()),
            "backbone": int(self.backbone.count_params()),
            "head": int(self.head.count_params()),
        }


def build_head(
    feature_dim: int,
    num_classes: int,
    dropout: float,
    hidden: tuple[int, ...],
    keras: ModuleType,
    heads: tuple[Head, ...] = (),
    priors: Optional[Mapping[str, ConsePrior]] = None,
) -> tuple[keras.Model, keras.Model]:
    """(the head as trained: one output tensor, the head's parts: one output per head)."""
    inp = keras.Input((feature_dim,), name="features")
    x = inp
    for i, units in enumerate(hidden):
        x = keras.layers.Dense(units, activation="relu", name=f"fc{i + 1}")(x)
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    logits = keras.layers.Dense(num_classes, name="logits", dtype="float32")(x)  # float32 logits under mixed precision
    if not heads:
        head = keras.Model(inp, logits, name="head")
        return head, head
    parts = [logits] + [_head_part(keras, h, x, inp, (priors or {}).get(h.name)) for h in heads]
    joined = keras.layers.Concatenate(name="head_outputs", dtype="float32")(parts)
    return keras.Model(inp, joined, name="head"), keras.Model(inp, parts, name="head_parts")


def _head_part(
    keras: ModuleType, head: Head, x: keras.KerasTensor, features: keras.KerasTensor, prior: Optional[ConsePrior]
) -> keras.KerasTensor:
    if prior is None:
        return keras.layers.Dense(head.width, name=f"{head.name}_logits", dtype="float32")(x)
    from .semantic_prior import prior_branch

    # zeros: the head starts as ConSE, and the projection learns what ConSE misses
    dense = keras.layers.Dense(head.width, name=f"{head.name}_logits", dtype="float32", kernel_initializer="zeros")
    return keras.layers.Add(name=f"{head.name}_prior_sum", dtype="float32")(
        [prior_branch(keras, prior, head.name, features), dense(x)]
    )


def _part_name(head: Head, priors: Mapping[str, ConsePrior]) -> str:
    """The layer whose output is ``head``'s part of the head output."""
    return f"{head.name}_prior_sum" if head.name in priors else f"{head.name}_logits"


def _head_output(keras: ModuleType, head: Head, z: Any) -> Any:
    if head.kind == "distribution":
        return keras.layers.Softmax(name=head.name, dtype="float32")(z)
    if head.kind == "embedding":  # cosine to word vectors is then a dot product, as MediaPipe's embedder wants
        return keras.layers.UnitNormalization(name=head.name, dtype="float32")(z)
    lo, hi = head.scale or (0.0, 1.0)
    squashed = keras.layers.Activation("sigmoid", name=f"{head.name}_unit", dtype="float32")(z)
    return keras.layers.Rescaling(hi - lo, offset=lo, name=head.name, dtype="float32")(squashed)


def assemble(
    backbone: Backbone,
    num_classes: int,
    dropout: float,
    name: str = "sentilite",
    precision: str = "float32",
    heads: tuple[Head, ...] = (),
    priors: Optional[Mapping[str, ConsePrior]] = None,
) -> SentimentModel:
    """The four views; under mixed precision the backbone and head compute in 16 bits (a
    --backbone-file keeps the policy it was saved with, so it is re-created in ``precision``)."""
    from sentilite.core.tf_import import import_keras

    from .precision import with_policy

    keras = import_keras("training")
    priors = priors or {}
    head, parts = build_head(backbone.feature_dim, num_classes, dropout, backbone.head_hidden, keras, heads, priors)
    net = backbone.model
    if precision != "float32":
        net = with_policy(keras, net, precision)
        prior_layers = tuple(la.name for la in head.layers if any(la.name.startswith(f"{n}_prior_") for n in priors))
        keep = ("logits", "head_outputs", *(f"{h.name}_logits" for h in heads), *prior_layers)
        head = with_policy(keras, head, precision, keep_float32=keep)
        names = ("logits", *(_part_name(h, priors) for h in heads))
        parts = head if not heads else keras.Model(head.input, [head.get_layer(n).output for n in names])
    image = keras.Input((backbone.size, backbone.size, 3), name="image")
    features = net(image)
    logits_model = keras.Model(image, head(features), name=f"{name}_logits")
    if not heads:
        probs = keras.layers.Softmax(name="probabilities", dtype="float32")(logits_model.output)
        return SentimentModel(net, head, logits_model, keras.Model(image, probs, name=name))
    zs = parts(features)
    outputs = [keras.layers.Softmax(name="sentiment", dtype="float32")(zs[0])]
    outputs += [_head_output(keras, h, z) for h, z in zip(heads, zs[1:])]
    return SentimentModel(net, head, logits_model, keras.Model(image, outputs, name=name))
