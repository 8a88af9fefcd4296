"""Per-epoch checkpoints: model weights, optimizer state, epoch, history and early-stopping state.

Layout (``<run>/checkpoint/``)::

    state.json                      what has been done; written last, atomically
    ckpt-<phase>-<epoch>.weights.h5 weights of the whole model after that epoch
    ckpt-<phase>-<epoch>.optimizer.npz   optimizer variables (iterations, momenta...)
    best-<phase>.weights.h5         best weights of the phase so far (for "restore best")
    best-<phase>-<head>.npz         --keep best-each: that extra head's Dense layer at its own best

A kill at any moment leaves ``state.json`` pointing at complete files, so ``--resume`` loses at
most the epoch in progress. The learning-rate schedules are functions of the optimizer's
iteration counter, which is restored, so the schedule continues where it was.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from sentilite.core.errors import SentiliteError
from sentilite.core.fsutil import atomic_write_json

from .state import TrainState

if TYPE_CHECKING:
    import keras

STATE_VERSION = 1


class CheckpointError(SentiliteError):
    """A checkpoint cannot be used to resume."""


def _save_arrays_atomic(arrays: list[np.ndarray], path: Path) -> None:
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as fh:
        np.savez(fh, *arrays)
    os.replace(tmp, path)


def _save_weights_atomic(model: keras.Model, path: Path) -> None:
    tmp = path.with_name(path.name.replace(".weights.h5", ".part.weights.h5"))
    model.save_weights(tmp)
    os.replace(tmp, path)


class Checkpointer:
    """Writes into ``<run_dir>/checkpoint``; ``restore_from`` (a multi-worker helper's chief run
    folder) is where a restart reads the state and weights to resume from, as in Keras'
    BackupAndRestore: the chief's backup is the job's, a helper's own files are scratch."""

    def __init__(self, run_dir: Path, restore_from: Optional[Path] = None) -> None:
        self.folder = Path(run_dir) / "checkpoint"
        self.state_path = self.folder / "state.json"
        self.restore_folder = Path(restore_from) / "checkpoint" if restore_from else self.folder

    def load_state(self) -> Optional[TrainState]:
        """The state to resume from (the chief's)."""
        return self._read(self.restore_folder / "state.json")

    def _read(self, path: Path) -> Optional[TrainState]:
        if not path.is_file():
            return None
        try:
            state = json.loads(path.read_text())
        except ValueError as exc:
            raise CheckpointError(f"{path} is not valid JSON ({exc}).", "start a new run with another --out") from None
        if state.get("version") != STATE_VERSION:
            raise CheckpointError(f"{path} has checkpoint version {state.get('version')}.", "start a new run")
        return TrainState.from_dict(state)

    def write_state(self, state: TrainState) -> None:
        atomic_write_json(self.state_path, {**state.to_dict(), "version": STATE_VERSION})

    def save_epoch(
        self, model: keras.Model, optimizer: keras.optimizers.Optimizer, state: TrainState, phase: int, epoch: int
    ) -> TrainState:
        """Save weights + optimizer of a finished epoch, then the state that points at them."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = f"ckpt-{phase}-{epoch}"
        _save_weights_atomic(model, self.folder / f"{stem}.weights.h5")
        opt_path = self.folder / f"{stem}.optimizer.npz"
        _save_arrays_atomic([np.asarray(v.numpy()) for v in optimizer.variables], opt_path)
        previous = self._read(self.state_path) or TrainState()
        state = state.update(weights=f"{stem}.weights.h5", optimizer=opt_path.name)
        self.write_state(state)
        self._remove_stale(previous, state)
        return state

    def save_best(self, model: keras.Model, phase: int) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"best-{phase}.weights.h5"
        _save_weights_atomic(model, self.folder / name)
        return name

    def save_layer(self, layer: keras.Layer, phase: int, tag: str) -> str:
        """One layer's weights at a best epoch (--keep best-each: an extra head's Dense layer)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"best-{phase}-{tag}.npz"
        _save_arrays_atomic([np.asarray(w) for w in layer.get_weights()], self.folder / name)
        return name

    def load_layer(self, layer: keras.Layer, name: str) -> None:
        """Set ``layer`` to the weights :meth:`save_layer` wrote as ``name``."""
        path = self.folder / name
        if not path.is_file():
            raise CheckpointError(f"Checkpoint file {path} is missing.", "start a new run with another --out")
        with np.load(path) as data:
            layer.set_weights([data[f"arr_{i}"] for i in range(len(data.files))])

    def save_weights_only(self, model: keras.Model, state: TrainState, tag: str) -> TrainState:
        """End of a phase: the (best-restored) weights, no optimizer (the next phase starts fresh)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{tag}.weights.h5"
        _save_weights_atomic(model, self.folder / name)
        previous = self._read(self.state_path) or TrainState()
        state = state.update(weights=name, optimizer=None)
        self.write_state(state)
        self._remove_stale(previous, state)
        return state

    def _remove_stale(self, previous: TrainState, current: TrainState) -> None:
        keep = {current.weights, current.optimizer, current.best_weights}
        for key in ("weights", "optimizer", "best_weights"):
            name = getattr(previous, key)
            if name and name not in keep:
                (self.folder / name).unlink(missing_ok=True)

    def load_weights(self, model: keras.Model, name: str, own: bool = False) -> None:
        """Weights to resume from (the chief's), or with ``own`` this process's (a phase's best)."""
        path = (self.folder if own else self.restore_folder) / name
        if not path.is_file():
            raise CheckpointError(f"Checkpoint file {path} is missing.", "start a new run with another --out")
        model.load_weights(path)

    def load_optimizer(self, optimizer: keras.optimizers.Optimizer, variables: list[Any], name: str) -> None:
        path = self.restore_folder / name
        if not path.is_file():
            raise CheckpointError(f"Optimizer checkpoint {path} is missing.", "start a new run with another --out")
        optimizer.build(variables)
        with np.load(path) as data:
            values = [data[f"arr_{i}"] for i in range(len(data.files))]
        if len(values) != len(optimizer.variables) or any(
            tuple(v.shape) != tuple(a.shape) for v, a in zip(optimizer.variables, values)
        ):
            raise CheckpointError(
                f"{path} does not match this model's optimizer state.", "resume with the same code and config"
            )
        for v, a in zip(optimizer.variables, values):
            v.assign(a)
