"""Getting a training run's data ready: the split lists, the decoded-image cache, cached features.

Each step logs what it did (images per class, cache files, skipped unreadable images) so the
run's train.log says where every number came from.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional

import numpy as np

from sentilite.core.contract import PreprocessContract
from sentilite.core.datasets import Dataset
from sentilite.core.errors import InputFileError

from .config import TrainConfig, TrainConfigError
from .rundir import live_progress

if TYPE_CHECKING:
    from sentilite.core.heads import Head
    from sentilite.train.backbones import Backbone
    from sentilite.train.data import ImageSource
    from sentilite.train.rundir import RunDir
    from sentilite.train.session import Setup
    from sentilite.train.stream import PackedSource


@contextlib.contextmanager
def counter(description: str, total: int) -> Iterator[Callable[[int], None]]:
    with live_progress() as progress:
        task = progress.add_task(description, total=total)
        yield lambda k: progress.advance(task, k)


def read_lists(config: TrainConfig) -> tuple[Dataset, Optional[Dataset], Optional[Dataset]]:
    """The train (concatenated), val and test lists; a malformed line is an error naming it."""
    from .lists import read_split, read_training_data, require_labels_in_range
    from .pack import is_pack

    packed = [d for d in config.data if is_pack(d)]
    for flag, spec in (("--val", config.val), ("--test", config.test)):
        if spec and is_pack(spec):
            raise InputFileError(
                f"{flag} {spec} is a pack; validation and test sets are split files.",
                f"pass the split file it was packed from as {flag}",
            )
    if packed:
        if len(packed) != len(config.data) or config.teacher or config.partial_data:
            raise InputFileError(
                "Packs cannot be mixed with split files, nor used for distillation (--teacher) or with --partial-data.",
                "pack every training split (sentilite data pack), or train from split files",
            )
        from .stream import PackedSource

        train: Any = PackedSource(config.data, config.labels)
    else:
        train = read_training_data(config.data, config.root, config.labels, config.partial_data)
    val = read_split(config.val, config.root, config.labels) if config.val else None
    test = read_split(config.test, config.root, config.labels) if config.test else None
    for ds in (train, val, test):
        if ds is not None and not (packed and ds is train):  # a pack's labels were checked when it was made
            require_labels_in_range(ds, len(config.labels))
    if test is not None and not any(Path(s.path).is_file() for s in test):
        # Caught here, before training: otherwise the run would end in an evaluation with nothing to score.
        raise InputFileError(
            f"None of the {len(test)} test images of {config.test} exists.",
            "check the paths in the --test split file (and --root)",
        )
    return train, val, test


def log_lists(lists: tuple[Dataset, Optional[Dataset], Optional[Dataset]], log: Callable[[str], None]) -> None:
    for name, ds in zip(("train", "val", "test"), lists):
        if ds is not None:
            counts = ", ".join(f"{k} {v}" for k, v in ds.class_counts().items())
            sources = ds.meta.get("sources") or [ds.source]
            log(f"{name}: {len(ds)} images ({counts}) from {' + '.join(map(str, sources))}")


def prepare_source(
    name: str, dataset: Dataset, contract: PreprocessContract, config: TrainConfig, log: Callable[[str], None]
) -> Any:
    from .data import make_source

    if hasattr(dataset, "check"):  # a pack: streamed, nothing to decode up front
        source = dataset.check(contract)
        log(f"{name}: {source.describe()}")
        log_skipped(name, source, log)
        return source

    def fill(src: Any) -> None:
        with counter(f"decoding {name} images ({src.contract.interpolation} resize)", len(src)) as advance:
            src.fill(config.workers, advance)
        log(
            f"{name}: image cache {src.records.path} ({src.cache_bytes / 1e6:.0f} MB, {src.contract.interpolation} "
            f"resize; "
            f"{src.fill_seconds:.1f} s to fill)"
        )

    source = make_source(dataset, contract, config.cache_dir)
    if source.cached:
        fill(source)
    else:
        log(f"{name}: streaming (no image cache); unreadable images are skipped as they are met")
    log_skipped(name, source, log)
    if name == "train" and "interp" in config.augment:
        if not source.cached:
            log("train: interp augmentation needs the image cache (--cache-dir); not applied")
            return source
        from .resize_mix import resize_mix

        source = resize_mix(source, config.cache_dir, fill)
        log(
            f"train: interp augmentation: each image resized by one of {', '.join(source.methods)} per epoch "
            f"(the contract keeps {contract.interpolation})"
        )
    return source


def log_skipped(name: str, source: ImageSource | PackedSource, log: Callable[[str], None]) -> None:
    if source.skipped:
        log(f"{name}: skipped {len(source.skipped)} unreadable image(s):")
        for item in source.skipped_list():
            log(f"  skipped {item['path']}: {item['reason']}")


def split_arrays(
    source: ImageSource | PackedSource,
    weights: Optional[np.ndarray] = None,
    teacher: Optional[np.ndarray] = None,
    heads: tuple[Head, ...] = (),
) -> Any:
    """A split for the loop; its per-sample targets are the teacher's probabilities, the class masks
    and the extra heads' labels (from the data folders' affect files; none for a pack)."""
    from sentilite.core.affect import affect_labels_for

    from .head_losses import head_columns, tail_width
    from .loop import SplitArrays
    from .losses import pack_targets

    labels = np.asarray(source.dataset.y, np.int64)
    columns = None
    if heads:
        packed = hasattr(source, "batches")
        affect = [None] * len(labels) if packed else affect_labels_for(source.dataset.paths)
        columns = head_columns(heads, affect, concept_vectors(heads))
    targets = pack_targets(teacher, source.dataset.label_masks(), columns)
    return SplitArrays(source, source.valid_indices(), labels, weights, targets, tail=tail_width(heads))


def concept_vectors(heads: tuple[Head, ...]) -> Optional[Callable[[str], np.ndarray]]:
    """The word vector of a concept, for a semantic (embedding) head; None without one."""
    if not any(h.kind == "embedding" for h in heads):
        return None
    from sentilite.core.word_vectors import load_glove

    glove = load_glove()

    def vector(concept: str) -> np.ndarray:
        v = glove.phrase_vector(concept)
        if v is None:
            raise TrainConfigError(
                f"No word vector for the concept {concept!r}.", "fix its spelling in the labels file"
            )
        return v

    return vector


def feature_folder(source: ImageSource | PackedSource, backbone: Backbone, run: RunDir) -> Path:
    """Beside the image cache when the features can be shared (pretrained backbone, cached images):
    later runs on the same images and backbone (e.g. a sweep of heads) reuse them. Else in the run."""
    if source.cached and backbone.fingerprint:
        return Path(source.records.path).parent.parent / "features" / f"{source.key}-{backbone.fingerprint}"
    return run.features


def ensure_features(
    split: str,
    arrays: Any,
    backbone: Backbone,
    run: RunDir,
    batch: int,
    views: tuple[str, ...],
    log: Callable[[str], None],
) -> float:
    from .features import FeatureStore, extract_features

    t0 = time.perf_counter()
    arrays.features = []
    key = f"{getattr(arrays.source, 'key', 'stream')}-{backbone.fingerprint}-{len(arrays.indices)}"
    folder = feature_folder(arrays.source, backbone, run)
    for view in views:
        store = FeatureStore(folder, split, view, len(arrays.source), backbone.feature_dim)
        if not store.complete(key):
            with counter(f"{split} features ({view})", len(arrays.indices)) as advance:
                extract_features(backbone.model, arrays.source, arrays.indices, store, batch, view == "flip", advance)
            store.mark_complete(key)
            log(
                f"{split}: computed {backbone.feature_dim}-d backbone features ({view}) in "
                f"{time.perf_counter() - t0:.1f} s -> {store.path}"
            )
        else:
            log(f"{split}: reusing cached backbone features ({view}) {store.path}")
        arrays.features.append(store)
    return time.perf_counter() - t0


def phase_features(
    config: TrainConfig, run: RunDir, setup: Setup, spec: Any, log: Callable[[str], None]
) -> tuple[bool, float]:
    """(train the head on cached backbone features?, seconds spent computing them) for one phase of
    ``setup`` (the run's train/val arrays and backbone)."""
    augment = tuple(config.augment)
    if not (spec.mode == "ft-f" and config.feature_cache):
        return False, 0.0
    if hasattr(setup.train.source, "batches"):
        log("ft-f from a pack: the backbone runs every epoch (features are cached for split files only)")
        return False, 0.0
    views = ("plain", "flip") if "flip" in augment else ("plain",)
    dropped = [a for a in augment if a != "flip"]
    if dropped:
        log(
            f"ft-f on cached features: {', '.join(dropped)} augmentation not applied in this phase "
            "(use --no-feature-cache to apply it, at the cost of a backbone pass per epoch)"
        )
    seconds = ensure_features("train", setup.train, setup.backbone, run, spec.batch_size, views, log)
    if setup.val is not None:
        seconds += ensure_features("val", setup.val, setup.backbone, run, spec.batch_size, ("plain",), log)
    return True, seconds


def absolute_path(value: Any) -> Any:
    if isinstance(value, list):
        return [absolute_path(v) for v in value]
    if value is None or value in ("imagenet", "none") or not isinstance(value, str):
        return value
    return str(Path(value).resolve())


def preflight(config: TrainConfig) -> None:
    """Cheap checks of every input file, before a run folder is created."""
    for flag, value in (("--backbone-file", config.backbone_file), *(("--teacher", t) for t in config.teacher)):
        if value and not Path(value).is_file():
            raise InputFileError(f"{flag} {value}: file not found.", "check the path")
    if config.weights and config.weights not in ("imagenet", "none") and not Path(config.weights).is_file():
        raise InputFileError(
            f"--weights {config.weights}: file not found.", "pass imagenet, none or an existing weights file"
        )
