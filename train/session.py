"""One training session's set-up: the state it starts from (fresh, checkpointed or finished), and
the model, its contract and the prepared data (lists read, images cached, teacher targets)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

import numpy as np

from sentilite.core.contract import PreprocessContract
from sentilite.core.datasets import Dataset
from sentilite.core.fsutil import atomic_path, atomic_write_text

from .config import TrainConfig, TrainConfigError, TrainResult
from .prepare import log_lists, prepare_source, read_lists, split_arrays
from .state import TrainState

if TYPE_CHECKING:
    from sentilite.train.checkpoint import Checkpointer
    from sentilite.train.loop import SplitArrays
    from sentilite.train.rundir import RunDir
    from sentilite.train.semantic_prior import ConsePrior

Log = Callable[[str], None]


@dataclass
class Setup:
    """The model, its contract and the prepared data of one training session."""

    backbone: Any
    contract: PreprocessContract
    sm: Any  # the assembled sentiment model (backbone + head)
    labels: tuple[str, ...]
    datasets: tuple[Dataset, Optional[Dataset], Optional[Dataset]]
    sources: tuple[Any, Optional[Any]]  # train, val image sources
    train: Any  # SplitArrays
    val: Optional[Any]
    class_weights: np.ndarray

    def close(self) -> None:
        for src in self.sources:
            if src is not None:
                src.close()


def starting_state(checkpointer: Checkpointer, run: RunDir, resuming: bool, log: Log) -> Union[TrainState, TrainResult]:
    """A fresh state, the checkpointed one, or (a finished run) its result."""
    import json

    from .checkpoint import CheckpointError
    from .rundir import remove_partial_files

    if not resuming:
        log(f"sentilite train -> {run.path}")
        return TrainState()
    removed = remove_partial_files(run.path)
    if removed:
        log(f"removed {len(removed)} half-written file(s) a killed run left: {', '.join(removed)}")
    state = checkpointer.load_state()
    if state is None:
        raise CheckpointError(
            f"{run.path} has no finished epoch to resume from.",
            "start it again (remove the folder or choose another --out)",
        )
    if state.finished and run.metrics.is_file():
        log(f"{run.path} has already finished; nothing to resume")
        return TrainResult(run.path, run.model, json.loads(run.metrics.read_text()), run.contract, list(state.history))
    log(f"resuming {run.path}: phase {state.phase + 1}, {len(state.history)} epoch(s) done")
    return state


def set_up(config: TrainConfig, run: RunDir, lists: Optional[tuple[Any, Any, Any]], log: Log) -> Setup:
    """Read the lists, build backbone + head + contract, fill the image cache, teacher targets."""
    from .backbones import build_backbone
    from .lists import class_weight_vector
    from .model import assemble

    train_ds, val_ds, test_ds = lists or read_lists(config)
    log_lists((train_ds, val_ds, test_ds), log)
    labels = tuple(config.labels)
    backbone = build_backbone(config)
    contract = PreprocessContract(
        height=backbone.size,
        width=backbone.size,
        color_order=backbone.color_order,
        norm=backbone.norm,
        labels=labels,
        output="probabilities",
        interpolation=config.interpolation,
        heads=config.head_specs,
        provenance={
            **backbone.provenance,
            "mode": config.mode,
            "preset": config.preset,
            "trained_on": ["/".join(Path(d).parts[-2:]) for d in config.data]
            + ["/".join(Path(d).parts[-2:]) + " (partial labels)" for d in config.partial_data],
            "trainer": "sentilite train",
            **(
                {"semantic_prior": f"conse, rank {config.semantic_prior_rank}"}
                if config.semantic_prior != "none"
                else {}
            ),
        },
    )
    log(f"backbone {backbone.name}: {backbone.feature_dim}-d features, input {contract.describe()}")
    priors = _semantic_priors(config, backbone.feature_dim, log)
    sm = assemble(
        backbone,
        len(labels),
        config.head_dropout,
        name=f"sentilite_{backbone.name.replace(':', '_').replace('-', '_')}",
        precision=config.precision,
        heads=config.head_specs,
        priors=priors,
    )
    atomic_write_text(run.contract, contract.to_json() + "\n")
    train_src = prepare_source("train", train_ds, contract, config, log)
    val_src = prepare_source("val", val_ds, contract, config, log) if val_ds is not None else None
    train_y_valid = np.asarray(train_ds.y, np.int64)[train_src.valid_indices()]
    cw = class_weight_vector(train_y_valid, len(labels), config.class_weight)
    if config.class_weight != "none":
        log("class weights: " + ", ".join(f"{n} {w:.3f}" for n, w in zip(labels, cw)))
    targets = _teacher_targets(config, run, train_ds, labels, log) if config.teacher else None
    train = split_arrays(train_src, cw, targets, config.head_specs)
    _log_head_labels(config, train, log)
    if len(train.indices) == 0:
        raise TrainConfigError("No readable training images.", "check the paths in the split file (and --root)")
    val = split_arrays(val_src, heads=config.head_specs) if val_src is not None else None
    if val is not None and len(val.indices) == 0:
        raise TrainConfigError(
            f"None of the {len(val_ds)} validation images could be read.",
            "check the paths in the --val split file (and --root)",
        )
    return Setup(backbone, contract, sm, labels, (train_ds, val_ds, test_ds), (train_src, val_src), train, val, cw)


def _semantic_priors(config: TrainConfig, feature_dim: int, log: Log) -> dict[str, ConsePrior]:
    if config.semantic_prior == "none":
        return {}
    from .semantic_prior import build_prior

    prior = build_prior(config, feature_dim)
    log(f"semantic head: {prior.describe()}")
    return {"semantic": prior}


def _log_head_labels(config: TrainConfig, train: SplitArrays, log: Log) -> None:
    """Say how many training images teach each extra head; a head nothing teaches is an error."""
    from .head_losses import head_counts

    heads = config.head_specs
    if not heads:
        return
    counts = head_counts(heads, train.targets[:, train.targets.shape[1] - train.tail :])
    log(
        "extra heads: " + ", ".join(f"{name} taught by {n} of {len(train.labels)} images" for name, n in counts.items())
    )
    empty = [name for name, n in counts.items() if n == 0]
    if empty:
        raise TrainConfigError(
            f"No training image has labels for the {', '.join(empty)} head(s).",
            "add --data from a folder with Emotion6's ground_truth.txt (emotions, valence/arousal) or OASIS's "
            "valence.csv (valence/arousal), or drop the head (packs carry no affect labels)",
        )


def _teacher_targets(
    config: TrainConfig, run: RunDir, train_ds: Dataset, labels: tuple[str, ...], log: Log
) -> np.ndarray:
    """The teacher's soft targets, computed once per run and kept (written atomically) for --resume."""
    from .distill import teacher_targets

    if run.teacher_targets.is_file():
        targets = np.load(run.teacher_targets)
    else:
        targets = teacher_targets(config.teacher, train_ds, labels, config.temperature, log)
        with atomic_path(run.teacher_targets) as tmp, open(tmp, "wb") as fh:
            np.save(fh, targets)
    log(f"distillation: T = {config.temperature}, alpha (hard-label weight) = {config.alpha}")
    return targets
