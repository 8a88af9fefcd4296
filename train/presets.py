"""Optimizer presets and learning-rate schedules, resolved into one ``PhaseSpec`` per phase.

``replication`` is the recipe of the replication studies: SGD (lr 1e-3, momentum 0.9), L2 weight
decay on conv kernels, lr / 10 every 5 epochs, batch 64 (FT-F) / 48 (FT-A), up to 15 epochs,
early stopping on validation loss with patience 5, best weights restored.
``adam-cosine`` is a modern alternative: Adam with cosine decay over the phase.
Two-phase runs FT-F, then FT-A at ``fine_tune_lr_factor`` (0.1) times the FT-F rate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from .config import TrainConfig
from .modes import phases_for

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class PhaseSpec:
    """Hyperparameters of one training phase."""

    mode: str  # "ft-f" or "ft-a"
    optimizer: str  # "sgd" or "adam"
    lr: float
    momentum: float
    schedule: str  # "step" (x step_factor every step_epochs) or "cosine"
    step_epochs: int
    step_factor: float
    weight_decay: float  # L2 on conv kernels: loss += weight_decay / 2 * sum(w ** 2)
    batch_size: int
    epochs: int
    patience: int
    warmup_epochs: int = 0  # cosine only: the rate rises linearly from 0 to lr, then decays
    ema: float = 0.0  # momentum of the optimizer's moving average of the weights (0 = none)
    keep: str = "best"  # the weights the phase ends with: "best", "last" or "best-each" (train/keep.py)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: preset -> phase mode -> defaults. ``lr`` of "ft-a" is the rate of a stand-alone FT-A run.
PRESET_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "replication": {
        "ft-f": dict(
            optimizer="sgd",
            lr=1e-3,
            momentum=0.9,
            schedule="step",
            step_epochs=5,
            step_factor=0.1,
            weight_decay=5e-4,
            batch_size=64,
            epochs=15,
            patience=5,
        ),
        "ft-a": dict(
            optimizer="sgd",
            lr=1e-3,
            momentum=0.9,
            schedule="step",
            step_epochs=5,
            step_factor=0.1,
            weight_decay=5e-4,
            batch_size=48,
            epochs=15,
            patience=5,
        ),
    },
    "adam-cosine": {
        "ft-f": dict(
            optimizer="adam",
            lr=1e-3,
            momentum=0.0,
            schedule="cosine",
            step_epochs=0,
            step_factor=1.0,
            weight_decay=0.0,
            batch_size=32,
            epochs=15,
            patience=5,
        ),
        "ft-a": dict(
            optimizer="adam",
            lr=1e-4,
            momentum=0.0,
            schedule="cosine",
            step_epochs=0,
            step_factor=1.0,
            weight_decay=0.0,
            batch_size=32,
            epochs=15,
            patience=5,
        ),
    },
}


def resolve_phases(config: TrainConfig) -> list[PhaseSpec]:
    """The phases of ``config.mode`` with the preset's values and the config's overrides."""
    defaults = PRESET_DEFAULTS[config.preset]
    phases = []
    for i, mode in enumerate(phases_for(config.mode)):
        spec = PhaseSpec(mode=mode, **defaults[mode])
        over: dict[str, Any] = {}
        if config.batch_size:
            over["batch_size"] = int(config.batch_size)
        if config.weight_decay is not None:
            over["weight_decay"] = float(config.weight_decay)
        if config.patience:
            over["patience"] = int(config.patience)
        if config.epochs:
            over["epochs"] = int(config.epochs)
        if config.warmup_epochs:
            over["warmup_epochs"] = int(config.warmup_epochs)
        if config.ema:
            over["ema"] = float(config.ema)
        over["keep"] = config.keep
        if i == 0:
            if config.lr:
                over["lr"] = float(config.lr)
        else:  # the FT-A phase of two-phase: a lower rate than phase 1
            first_lr = float(config.lr) if config.lr else defaults[phases_for(config.mode)[0]]["lr"]
            over["lr"] = first_lr * config.fine_tune_lr_factor
            if config.fine_tune_epochs:
                over["epochs"] = int(config.fine_tune_epochs)
        phases.append(replace(spec, **over))
    return phases


def learning_rate_at(spec: PhaseSpec, step: int, steps_per_epoch: int) -> float:
    """The scheduled rate at optimizer step ``step`` (matches :func:`make_optimizer`)."""
    if spec.schedule == "step":
        return spec.lr * spec.step_factor ** (step // max(1, spec.step_epochs * steps_per_epoch))
    warm = spec.warmup_epochs * steps_per_epoch
    if step < warm:
        return spec.lr * step / warm
    total = max(1, spec.epochs * steps_per_epoch - warm)
    return spec.lr * 0.5 * (1 + math.cos(math.pi * min(step - warm, total) / total))


def make_optimizer(spec: PhaseSpec, steps_per_epoch: int) -> Any:
    """A Keras optimizer whose step-based schedule continues exactly after a resume
    (the schedule is a function of ``optimizer.iterations``, which the checkpoint restores)."""
    from sentilite.core.tf_import import import_keras

    keras = import_keras("training")
    sched = keras.optimizers.schedules
    if spec.schedule == "step":
        lr = sched.ExponentialDecay(
            spec.lr, decay_steps=max(1, spec.step_epochs * steps_per_epoch), decay_rate=spec.step_factor, staircase=True
        )
    else:
        warm = spec.warmup_epochs * steps_per_epoch
        if warm:
            lr = sched.CosineDecay(
                0.0,
                decay_steps=max(1, spec.epochs * steps_per_epoch - warm),
                alpha=0.0,
                warmup_target=spec.lr,
                warmup_steps=warm,
            )
        else:
            lr = sched.CosineDecay(spec.lr, decay_steps=max(1, spec.epochs * steps_per_epoch), alpha=0.0)
    # Keras keeps the average in the optimizer's variables, so checkpoints and --resume carry it
    ema = dict(use_ema=True, ema_momentum=float(spec.ema)) if spec.ema else {}
    if spec.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=spec.momentum, **ema)
    return keras.optimizers.Adam(learning_rate=lr, **ema)


def conv_kernels(model: keras.Model) -> list[Any]:
    """The trainable conv kernels (Conv2D, DepthwiseConv2D, SeparableConv2D) the L2 decay applies to."""
    from sentilite.core.tf_import import import_keras

    from .modes import iter_layers

    keras = import_keras("training")
    conv_types = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)
    out = []
    for layer in iter_layers(model):
        if isinstance(layer, conv_types) and layer.trainable:
            for name in ("kernel", "depthwise_kernel", "pointwise_kernel"):
                v = getattr(layer, name, None)
                if v is not None and getattr(v, "trainable", False):
                    out.append(v)
    return out
