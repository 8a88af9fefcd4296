"""Training modes and which layers they freeze.

- ``ft-f``: the backbone is frozen (only the new head trains); its BatchNorm runs in inference mode.
- ``ft-a``: every layer trains except BatchNorm, which stays in inference mode with frozen
  gamma/beta and moving statistics (Keras 3 runs a BatchNormalization layer with
  ``trainable=False`` in inference mode; an explicit ``training=False`` on a nested call is
  overridden by the outer call, so freezing the layer is the reliable way).
- ``two-phase``: ``ft-f`` then ``ft-a`` at a lower rate.

A randomly initialised backbone (``--weights none``) keeps its BatchNorm trainable in ft-a.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Optional

if TYPE_CHECKING:
    import keras

PHASES_OF_MODE: dict[str, tuple[str, ...]] = {"ft-f": ("ft-f",), "ft-a": ("ft-a",), "two-phase": ("ft-f", "ft-a")}


def phases_for(mode: str) -> tuple[str, ...]:
    return PHASES_OF_MODE[mode]


def iter_layers(model: keras.Model) -> Iterator[Any]:
    """Every layer of ``model``, descending into nested models."""
    for layer in getattr(model, "layers", []):
        yield layer
        if hasattr(layer, "layers"):
            yield from iter_layers(layer)


def find_layer(model: keras.Model, name: str) -> Optional[Any]:
    """The layer named ``name`` anywhere in ``model`` (nested models included), or None."""
    return next((layer for layer in iter_layers(model) if layer.name == name), None)


def is_batchnorm(layer: keras.Layer) -> bool:
    from sentilite.core.tf_import import import_keras

    keras = import_keras("training")
    return isinstance(layer, keras.layers.BatchNormalization)


def apply_phase(backbone: keras.Model, phase: str, pretrained: bool = True) -> None:
    """Freeze ``backbone`` for ``phase`` ("ft-f" or "ft-a"). The head is never frozen.

    ``pretrained=False`` (random initialisation): in ft-a BatchNorm trains normally, since there
    are no learned statistics to keep and a network whose BatchNorm never leaves its initial
    statistics cannot learn.
    """
    if phase == "ft-f":
        backbone.trainable = False
    elif phase == "ft-a":
        backbone.trainable = True
        if pretrained:
            for layer in iter_layers(backbone):
                if is_batchnorm(layer):
                    layer.trainable = False
    else:
        raise ValueError(f"unknown phase {phase!r}")


def trainable_summary(model: keras.Model) -> dict[str, int]:
    """Parameter counts: total, trainable, non-trainable."""
    import numpy as np

    trainable = int(sum(np.prod(v.shape) for v in model.trainable_weights))
    total = int(sum(np.prod(v.shape) for v in model.weights))
    return {"total": total, "trainable": trainable, "non_trainable": total - trainable}
