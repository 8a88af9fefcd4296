"""The sentiment model: backbone -> head (logits) -> softmax.

Four views share the same layers:

- ``backbone``: image (contract-normalised) -> feature vector;
- ``head``: feature vector -> class logits (Dropout, optional hidden Dense, Dense);
- ``logits_model``: image -> logits (what training optimises; distillation needs logits);
- ``model``: image -> probabilities (what is saved as model.keras; contract output "probabilities").

Frozen-backbone training on cached features trains ``head`` alone, which updates the very same
weights ``model`` uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


def build_head(feature_dim: int, num_classes: int, dropout: float, hidden: tuple[int, ...], keras: Any) -> Any:
    inp = keras.Input((feature_dim,), name="features")
    x = inp
    for i, units in enumerate(hidden):
        x = keras.layers.Dense(units, activation="relu", name=f"fc{i + 1}")(x)
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    logits = keras.layers.Dense(num_classes, name="logits", dtype="float32")(x)  # float32 logits under mixed precision
    return keras.Model(inp, logits, name="head")


def assemble(
    backbone: Backbone, num_classes: int, dropout: float, name: str = "sentilite", precision: str = "float32"
) -> SentimentModel:
    """The four views; under mixed precision the backbone and head compute in 16 bits (a
    --backbone-file keeps the policy it was saved with, so it is re-created in ``precision``)."""
    from sentilite.core.tf_import import import_keras

    from .precision import with_policy

    keras = import_keras("training")
    head = build_head(backbone.feature_dim, num_classes, dropout, backbone.head_hidden, keras)
    net = backbone.model
    if precision != "float32":
        net = with_policy(keras, net, precision)
        head = with_policy(keras, head, precision, keep_float32=("logits",))
    image = keras.Input((backbone.size, backbone.size, 3), name="image")
    logits = head(net(image))
    logits_model = keras.Model(image, logits, name=f"{name}_logits")
    probs = keras.layers.Softmax(name="probabilities", dtype="float32")(logits)
    model = keras.Model(image, probs, name=name)
    return SentimentModel(net, head, logits_model, model)
