"""Which weights a training phase ends with (``--keep``).

- ``best``: the epoch of the sentiment head's lowest validation loss (the loop's early stopping);
- ``last``: the last epoch (every epoch runs);
- ``best-each``: the sentiment head's best epoch, with each extra head's Dense layer taken from
  that head's own lowest validation loss. Sound only while the heads share no trained layer (FT-F
  on a pretrained backbone: each head's Dense sees the same frozen features), where it equals
  training every head alone with its own early stopping. The extra heads converge long after the
  sentiment head's minimum (bench/affect_heads.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .modes import find_layer

if TYPE_CHECKING:
    import keras

    from .checkpoint import Checkpointer
    from .loop import EarlyStopping
    from .presets import PhaseSpec
    from .state import TrainState


def _head_layer(model: keras.Model, name: str) -> keras.Layer:
    """The Dense layer of extra head ``name`` (it sits in the head, a model nested in ``model``)."""
    layer = find_layer(model, f"{name}_logits")
    if layer is None:
        raise LookupError(f"the model has no {name}_logits layer")
    return layer


def save_head_bests(
    state: TrainState,
    heads_val: dict[str, float],
    checkpointer: Checkpointer,
    model: keras.Model,
    phase: int,
    epoch: int,
) -> TrainState:
    """--keep best-each: each extra head's Dense layer at its lowest validation loss so far."""
    bests = dict(state.head_best)
    for name, value in heads_val.items():
        if name not in bests or value < bests[name]["loss"]:
            file = checkpointer.save_layer(_head_layer(model, name), phase, name)
            bests[name] = {"loss": value, "epoch": epoch, "file": file}
    return state.update(head_best=bests)


def end_phase(
    spec: PhaseSpec,
    state: TrainState,
    es: EarlyStopping,
    checkpointer: Checkpointer,
    model: keras.Model,
    phase: int,
    log: Callable[[str], None],
) -> None:
    """Leave ``model`` with the weights the phase keeps (--keep): best-each puts each extra head's
    Dense layer of its own best epoch onto the sentiment head's best model."""
    if spec.keep == "last":
        log(f"kept the last epoch's weights of phase {phase + 1} (--keep last)")
        return
    if state.best_weights:
        checkpointer.load_weights(model, state.best_weights, own=True)
        log(
            f"restored the best weights of phase {phase + 1} (phase epoch {es.best_epoch + 1}, {es.monitor} "
            f"{es.best:.4f})"
        )
    for name, best in state.head_best.items() if spec.keep == "best-each" else ():
        checkpointer.load_layer(_head_layer(model, name), best["file"])
        log(f"the {name} head: its own best epoch, phase epoch {best['epoch'] + 1} (val loss {best['loss']:.4f})")
