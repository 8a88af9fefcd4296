"""What a training run is asked to do (``TrainConfig``) and what it gives back (``TrainResult``).

The config is stored as ``config.json`` in the run folder; ``--resume`` rebuilds the run from it.
Plain data only: importing this module never imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from sentilite.core.contract import INTERPOLATIONS
from sentilite.core.errors import SentiliteError
from sentilite.core.heads import KNOWN_HEADS, Head
from sentilite.core.labels import SENTIMENT_LABELS

from .precision import PRECISIONS

#: tf.distribute strategies of --strategy (see train/distribute.py)
STRATEGIES = ("none", "mirrored", "multi-worker")

MODES = ("ft-f", "ft-a", "two-phase")
PRESETS = ("replication", "adam-cosine")
CLASS_WEIGHTS = ("none", "balanced")
#: "interp" resizes each training image by a method drawn per epoch (train/resize_mix.py)
AUGMENTATIONS = ("flip", "crop", "color", "interp")
DEFAULT_AUGMENT = ("flip", "crop", "color")
#: batch mixing of --mix (train/mixing.py)
MIXES = ("none", "mixup", "cutmix")


class TrainConfigError(SentiliteError):
    """A training option is invalid or contradicts another one."""


class TrainingInterrupted(SentiliteError):
    """Training was stopped (Ctrl-C, SIGTERM); the last finished epoch is checkpointed."""

    exit_code = 130


class PeerWorkerLost(TrainingInterrupted):
    """A multi-worker job lost a peer; the last finished epoch is checkpointed. TensorFlow's
    collective threads still wait on the dead peer, and tearing them down at normal exit aborted
    the survivor now and then (SIGABRT instead of exit 130), so the CLI leaves at once."""

    exit_at_once = True


def parse_augment(value: Any) -> tuple[str, ...]:
    """``"flip,crop"`` / a sequence / ``"none"`` -> a tuple of augmentation names."""
    if value is None or value is False:
        return ()
    if value is True:
        return DEFAULT_AUGMENT
    items = value.split(",") if isinstance(value, str) else list(value)
    names = [str(v).strip().lower() for v in items if str(v).strip()]
    if names in (["none"], ["off"]):
        return ()
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise TrainConfigError(
            f"Unknown augmentation {', '.join(unknown)}.", f"use a comma list of {', '.join(AUGMENTATIONS)}, or none"
        )
    return tuple(n for n in AUGMENTATIONS if n in names)


def _paths(value: Any) -> list[str]:
    """One path, several, or none (``None``, as older config.json files store "no teacher") -> a list of str."""
    if value is None:
        return []
    return [str(value)] if isinstance(value, (str, Path)) else [str(v) for v in value]


@dataclass
class TrainConfig:
    """Everything ``sentilite train`` can be told. ``None`` means "the preset's / backbone's default"."""

    #: Training splits (B-T4SA split file, CSV or class-per-folder tree); several are concatenated.
    data: Sequence[str] = ()
    #: Training lists labelled with only some classes (negative/positive tweets): they teach the
    #: choice among the classes they use, never that the others do not occur (train/losses.py).
    partial_data: Sequence[str] = ()
    val: Optional[str] = None
    test: Optional[str] = None
    root: Optional[str] = None
    #: Run folder; default ``runs/<timestamp>-train-<backbone>-<mode>``.
    out: Optional[str] = None
    backbone: str = "mobilenet_v2"
    #: ``imagenet`` | ``none`` | path to a weights file; default imagenet (``none`` for the student).
    weights: Optional[str] = None
    backbone_file: Optional[str] = None
    feature_layer: Optional[str] = None
    #: Normalisation of a --backbone-file without an embedded contract (default ``imagenet``).
    backbone_norm: Optional[str] = None
    #: MobileNet width multiplier (keras.applications ``alpha``).
    width: float = 1.0
    input_size: Optional[int] = None
    #: How images are resampled to the input size (recorded in the contract; see INTERPOLATIONS).
    interpolation: str = "warp_linear"
    mode: str = "ft-f"
    preset: str = "replication"
    epochs: Optional[int] = None
    #: Epochs of linear learning-rate warm-up before the cosine decay (adam-cosine preset).
    warmup_epochs: int = 0
    #: Epochs of the FT-A phase of two-phase (default: ``epochs``).
    fine_tune_epochs: Optional[int] = None
    batch_size: Optional[int] = None
    lr: Optional[float] = None
    #: Learning rate of the FT-A phase of two-phase = lr * this.
    fine_tune_lr_factor: float = 0.1
    weight_decay: Optional[float] = None
    patience: Optional[int] = None
    #: The weights a phase ends with: "best" (the sentiment head's lowest validation loss, early
    #: stopping after ``patience``), "last" (every epoch runs) or "best-each" (FT-F: the sentiment
    #: head's best epoch, and each extra head's Dense layer from its own lowest validation loss).
    #: The extra heads converge after the sentiment head's early minimum (bench/affect_heads.py).
    keep: str = "best"
    head_dropout: float = 0.2
    #: L2 on the extra heads' kernels (emotions, valence_arousal, semantic): loss += head_l2 / 2 * sum(w ** 2).
    #: A linear head fitted to seven annotator shares from 1,280 features overfits without it (bench/affect_heads).
    head_l2: float = 0.0
    augment: Sequence[str] = DEFAULT_AUGMENT
    class_weight: str = "none"
    #: Label smoothing epsilon, spread over the classes a sample's annotation could choose from.
    label_smoothing: float = 0.0
    #: Mix pairs of training images and their losses: none, mixup or cutmix (train/mixing.py).
    mix: str = "none"
    #: The mixing weight is drawn from Beta(mix_alpha, mix_alpha).
    mix_alpha: float = 0.2
    #: Momentum of an exponential moving average of the weights (0 = off); validation, the best
    #: weights and the saved model use the average.
    ema: float = 0.0
    #: Distillation teacher(s): one model, or several whose mean probability is the target.
    teacher: Sequence[str] = ()
    temperature: float = 4.0
    #: Distillation: weight of the hard-label cross-entropy; (1 - alpha) weighs the T²-scaled KL term.
    alpha: float = 0.1
    seed: int = 0
    #: Folder of the decoded-image cache; ``"none"`` streams (decodes every epoch).
    cache_dir: Optional[str] = None
    #: Train the frozen-backbone (FT-F) phase on cached backbone features.
    feature_cache: bool = True
    labels: Sequence[str] = SENTIMENT_LABELS
    #: Extra heads beside sentiment (issue 30): ``emotions`` (the seven-emotion distribution) and/or
    #: ``valence_arousal``; taught by the images whose data folder has their labels (core.affect).
    heads: Sequence[str] = ()
    #: The words a semantic head's model carries for tagging (a file, one label a line); default
    #: sentilite's affect, scene and object words (sentilite/models/vocabulary.txt).
    vocabulary: Optional[str] = None
    #: The semantic head's frozen prior (train/semantic_prior.py): "none", or "conse" (the backbone's
    #: ImageNet classifier read as a word vector, to which the trained projection adds).
    semantic_prior: str = "none"
    #: Rank the ConSE prior keeps the ImageNet classifier at (0: the whole 1,000-class layer, 1.3 MB int8).
    semantic_prior_rank: int = 48
    #: Threads decoding images (default: CPU count).
    workers: Optional[int] = None
    #: After training, fit the contract's decision rule (temperature, neutral offset) on --val: fit | none.
    decision: str = "fit"
    #: Numeric precision: float32, mixed_float16 or mixed_bfloat16 (see train/precision.py).
    precision: str = "float32"
    #: tf.distribute strategy: none, mirrored, multi-worker (see train/distribute.py).
    strategy: str = "none"
    #: multi-worker without TF_CONFIG: every worker's host:port, and this process's index (not stored).
    worker_hosts: Sequence[str] = ()
    worker_index: Optional[int] = None
    plots: bool = True
    #: Print log lines to stderr (the run log file is always written).
    verbose: bool = True

    def __post_init__(self) -> None:
        self.data, self.partial_data, self.teacher = (
            _paths(self.data),
            _paths(self.partial_data),
            _paths(self.teacher),
        )
        self.augment = parse_augment(self.augment)
        self.labels = tuple(self.labels)
        if isinstance(self.heads, str):
            self.heads = [h.strip() for h in self.heads.split(",") if h.strip()]
        self.heads = tuple(self.heads)
        if isinstance(self.worker_hosts, str):
            self.worker_hosts = [h.strip() for h in self.worker_hosts.split(",") if h.strip()]
        self.worker_hosts = list(self.worker_hosts)

    @property
    def head_specs(self) -> tuple[Head, ...]:
        """The extra heads, in the order a model outputs them (the contract's)."""
        return tuple(KNOWN_HEADS[name] for name in KNOWN_HEADS if name in self.heads)

    def validate(self) -> TrainConfig:
        problems: list[tuple[str, str]] = []
        if not self.data and not self.partial_data:
            problems.append(("No training data given.", "pass --data SPLIT (repeat it to mix datasets)"))
        if self.mode not in MODES:
            problems.append((f"Unknown mode {self.mode!r}.", f"use one of {', '.join(MODES)}"))
        if self.preset not in PRESETS:
            problems.append((f"Unknown preset {self.preset!r}.", f"use one of {', '.join(PRESETS)}"))
        if self.decision not in ("fit", "none"):
            problems.append((f"Unknown --decision-rule {self.decision!r}.", "use fit or none"))
        if self.precision not in PRECISIONS:
            problems.append((f"Unknown precision {self.precision!r}.", f"use one of {', '.join(PRECISIONS)}"))
        if self.strategy not in STRATEGIES:
            problems.append((f"Unknown strategy {self.strategy!r}.", f"use one of {', '.join(STRATEGIES)}"))
        if self.strategy == "multi-worker" and not self.out:
            problems.append(
                ("--strategy multi-worker needs --out.", "give every worker the same --out folder (shared storage)")
            )
        if self.interpolation not in INTERPOLATIONS:
            problems.append(
                (f"Unknown interpolation {self.interpolation!r}.", f"use one of {', '.join(INTERPOLATIONS)}")
            )
        if self.class_weight not in CLASS_WEIGHTS:
            problems.append(
                (f"Unknown class weighting {self.class_weight!r}.", f"use one of {', '.join(CLASS_WEIGHTS)}")
            )
        unknown = [h for h in self.heads if h not in KNOWN_HEADS]
        if unknown:
            problems.append((f"Unknown head(s) {', '.join(unknown)}.", f"use {', '.join(KNOWN_HEADS)}"))
        problems += self._semantic_problems() + self._numeric_problems()
        if problems:
            raise TrainConfigError(problems[0][0], problems[0][1])
        return self

    def _semantic_problems(self) -> list[tuple[str, str]]:
        if self.semantic_prior not in ("none", "conse"):
            return [(f"Unknown --semantic-prior {self.semantic_prior!r}.", "use none or conse")]
        if self.semantic_prior == "conse" and "semantic" not in self.heads:
            return [("--semantic-prior conse is part of the semantic head.", "add --heads semantic")]
        if self.semantic_prior_rank < 0:
            return [(f"--semantic-prior-rank must be >= 0, got {self.semantic_prior_rank}.", "e.g. 48 (0: full)")]
        return []

    def _numeric_problems(self) -> list[tuple[str, str]]:
        """Out-of-range numbers and options that contradict each other: (problem, fix) pairs."""
        problems: list[tuple[str, str]] = []
        for name in ("epochs", "fine_tune_epochs", "batch_size", "input_size"):
            v = getattr(self, name)
            if v is not None and int(v) < 1:
                problems.append((f"--{name.replace('_', '-')} must be at least 1, got {v}.", "pass a positive number"))
        if self.keep not in ("best", "last", "best-each"):
            problems.append((f"Unknown --keep {self.keep!r}.", "use best, last or best-each"))
        if self.keep == "best-each" and (
            self.mode != "ft-f" or (self.backbone == "student" and not self.backbone_file)
        ):
            problems.append(
                (
                    f"--keep best-each gives each head its own best epoch, which needs heads that share no trained "
                    f"layer; {self.mode} with the {self.backbone} backbone trains shared layers.",
                    "use --mode ft-f on a pretrained backbone, or --keep best / last",
                )
            )
        if self.patience is not None and self.patience < 1:
            problems.append((f"--patience must be at least 1, got {self.patience}.", "pass a positive number"))
        if not 0.0 <= self.alpha <= 1.0:
            problems.append((f"--alpha must be in [0, 1], got {self.alpha}.", "0 = teacher only, 1 = labels only"))
        if self.warmup_epochs < 0 or (self.warmup_epochs and self.preset != "adam-cosine"):
            problems.append(
                (
                    f"--warmup-epochs {self.warmup_epochs} needs the adam-cosine preset and a value >= 0.",
                    "add --preset adam-cosine, or drop --warmup-epochs",
                )
            )
        if self.warmup_epochs and self.warmup_epochs >= (self.epochs or 15):
            problems.append(
                (
                    f"--warmup-epochs {self.warmup_epochs} leaves no epoch for the decay.",
                    "use fewer warm-up epochs than --epochs",
                )
            )
        if not 0.0 <= self.label_smoothing < 1.0:
            problems.append((f"--label-smoothing must be in [0, 1), got {self.label_smoothing}.", "e.g. 0.1"))
        if self.mix not in MIXES:
            problems.append((f"Unknown --mix {self.mix!r}.", f"use one of {', '.join(MIXES)}"))
        if self.mix_alpha <= 0:
            problems.append(
                (f"--mix-alpha must be positive, got {self.mix_alpha}.", "0.2 is usual for mixup, 1.0 for cutmix")
            )
        if self.mix == "cutmix" and self.mode in ("ft-f", "two-phase") and self.feature_cache:
            problems.append(
                (
                    f"--mix cutmix cuts images, and {self.mode} trains the head on cached features.",
                    "add --no-feature-cache, or use --mix mixup (which mixes the cached features)",
                )
            )
        if not 0.0 <= self.ema < 1.0:
            problems.append(
                (f"--ema must be in [0, 1), got {self.ema}.", "e.g. 0.99 (about the last 100 steps); 0 = off")
            )
        if self.temperature <= 0:
            problems.append(
                (f"--temperature must be positive, got {self.temperature}.", "the distillation study used 4")
            )
        if self.head_l2 < 0:
            problems.append((f"--head-l2 must be >= 0, got {self.head_l2}.", "e.g. --head-l2 0.01 (0: none)"))
        if not 0.0 <= self.head_dropout < 1.0:
            problems.append((f"--dropout must be in [0, 1), got {self.head_dropout}.", "e.g. 0.2"))
        if self.width <= 0:
            problems.append((f"--width must be positive, got {self.width}.", "MobileNet widths are 0.35 .. 1.4"))
        if self.backbone_file and not self.feature_layer:
            pass  # resolved later ("gap" when the file has it)
        if self.feature_layer and not self.backbone_file:
            problems.append(
                (
                    "--feature-layer only applies to --backbone-file.",
                    "add --backbone-file MODEL.keras, or drop --feature-layer",
                )
            )
        return problems

    # -- (de)serialisation for config.json ------------------------------------------------
    def task_index(self) -> int:
        """This process's worker index in a multi-worker job (0 otherwise): --worker-index, else TF_CONFIG."""
        if self.strategy != "multi-worker":
            return 0
        if self.worker_index is not None:
            return int(self.worker_index)
        import json
        import os

        return int(json.loads(os.environ.get("TF_CONFIG") or "{}").get("task", {}).get("index", 0))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["worker_hosts"] = list(self.worker_hosts)
        d.pop("worker_index")  # per process: each worker passes its own
        d["data"] = list(self.data)
        d["partial_data"] = list(self.partial_data)
        d["teacher"] = list(self.teacher)
        d["augment"] = list(self.augment)
        d["labels"] = list(self.labels)
        d["heads"] = list(self.heads)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        # runs made before these options existed: INTER_AREA resizing, no decision rule
        return cls(**{"interpolation": "area", "decision": "none", **{k: v for k, v in data.items() if k in known}})


@dataclass
class TrainResult:
    """What :func:`train.api.train_model` returns."""

    run_dir: Path
    model_path: Path
    metrics: dict[str, Any]
    contract_path: Optional[Path] = None
    history: list[dict[str, Any]] = field(default_factory=list)
