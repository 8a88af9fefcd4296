"""Weight averaging (``--ema``): Keras optimizers keep the exponential moving average themselves
(``use_ema``, stored among the optimizer's variables, so checkpoints and --resume carry it); this
module lends the average to the model while it is judged and saved."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    import keras


def uses_ema(optimizer: keras.optimizers.Optimizer) -> bool:
    """True when ``optimizer`` (or the one a LossScaleOptimizer wraps) averages the weights."""
    return bool(getattr(getattr(optimizer, "inner_optimizer", optimizer), "use_ema", False))


@contextmanager
def averaged_weights(optimizer: keras.optimizers.Optimizer, variables: list[Any]) -> Iterator[bool]:
    """Inside, ``variables`` hold the optimizer's moving average; afterwards their trained values
    again (training continues from those). Yields whether an average was swapped in."""
    if not uses_ema(optimizer):
        yield False
        return
    trained = [v.numpy() for v in variables]
    optimizer.finalize_variable_values(variables)
    try:
        yield True
    finally:
        for v, value in zip(variables, trained):
            v.assign(value)
