"""The Python API behind ``sentilite train``: ``train_model(config)`` and ``resume_training(run_dir)``.

One run = read the lists -> build backbone + head + contract -> decode images into the cache ->
(teacher targets) -> phases (FT-F on cached features, FT-A on images) with per-epoch checkpoints
-> save the best model with its contract -> evaluate val/test through the core path ->
metrics.json, history.csv, plots.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np

from sentilite.core.contract import PreprocessContract
from sentilite.core.datasets import Dataset
from sentilite.core.fsutil import atomic_write_json, atomic_write_text
from sentilite.core.modelfile import write_contract_keras
from sentilite.core.resources import ResourceMonitor

from .config import TrainConfig, TrainConfigError, TrainingInterrupted, TrainResult
from .evaluate import evaluate_model as evaluate_model  # noqa: F401 - part of the API
from .rundir import live_progress

# Re-exported so ``from sentilite.train.api import evaluate_model`` works as documented.
__all__ = ["train_model", "resume_training", "evaluate_model", "TrainConfig", "TrainResult"]


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt (main thread only) so a kill ends at a clean point."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _counter(description: str, total: int) -> Iterator[Callable[[int], None]]:
    with live_progress() as progress:
        task = progress.add_task(description, total=total)
        yield lambda k: progress.advance(task, k)


def train_model(config: TrainConfig) -> TrainResult:
    """Train a sentiment model as ``config`` says, into a new run folder; returns what it made.

    Raises a :class:`sentilite.core.errors.SentiliteError` subclass with a one-line fix for every user
    error; :class:`TrainingInterrupted` (exit code 130) after Ctrl-C / SIGTERM, with the last
    finished epoch checkpointed for :func:`resume_training`.
    """
    from .rundir import RunDir, default_run_dir

    config.validate()
    _preflight(config)
    lists = _read_lists(config)
    run = RunDir(Path(config.out) if config.out else default_run_dir(
        "file" if config.backbone_file else config.backbone, config.mode))
    if (run.path / "checkpoint" / "state.json").exists() or run.model.exists():
        raise TrainConfigError(
            f"{run.path} already holds a training run.",
            f"continue it with `sentilite train --resume {run.path}`, or choose another --out",
        )
    run.create()
    config.out = str(run.path)
    stored = config.to_dict()
    for key in ("data", "val", "test", "root", "backbone_file", "teacher", "cache_dir", "weights"):
        stored[key] = _absolute(stored[key])
    atomic_write_json(run.config, stored)  # absolute paths: --resume works from any folder
    return _run(config, run, resuming=False, lists=lists)


def _absolute(value: Any) -> Any:
    if isinstance(value, list):
        return [_absolute(v) for v in value]
    if value is None or value in ("imagenet", "none") or not isinstance(value, str):
        return value
    return str(Path(value).resolve())


def _preflight(config: TrainConfig) -> None:
    """Cheap checks of every input file, before a run folder is created."""
    from sentilite.core.errors import InputFileError

    for flag, value in (("--backbone-file", config.backbone_file), ("--teacher", config.teacher)):
        if value and not Path(value).is_file():
            raise InputFileError(f"{flag} {value}: file not found.", "check the path")
    if config.weights and config.weights not in ("imagenet", "none") and not Path(config.weights).is_file():
        raise InputFileError(f"--weights {config.weights}: file not found.", "pass imagenet, none or an existing weights file")


def resume_training(run_dir: str | Path, verbose: bool = True) -> TrainResult:
    """Continue an interrupted run from its last finished epoch (same optimizer state, schedule,
    epoch count and early-stopping state)."""
    import json

    from .rundir import RunDir

    run = RunDir(Path(run_dir))
    if not run.config.is_file():
        raise TrainConfigError(f"{run.path} is not a training run folder (no config.json).",
                               "pass the --out folder of an earlier `sentilite train`")
    config = TrainConfig.from_dict(json.loads(run.config.read_text()))
    config.verbose = verbose
    return _run(config.validate(), run, resuming=True)


def _read_lists(config: TrainConfig) -> tuple[Dataset, Optional[Dataset], Optional[Dataset]]:
    """The train (concatenated), val and test lists; a malformed line is an error naming it."""
    from .data import read_split, read_training_data, require_labels_in_range

    train = read_training_data(config.data, config.root, config.labels)
    val = read_split(config.val, config.root, config.labels) if config.val else None
    test = read_split(config.test, config.root, config.labels) if config.test else None
    for ds in (train, val, test):
        if ds is not None:
            require_labels_in_range(ds, len(config.labels))
    return train, val, test


def _log_lists(lists: tuple[Dataset, Optional[Dataset], Optional[Dataset]], log: Callable[[str], None]) -> None:
    for name, ds in zip(("train", "val", "test"), lists):
        if ds is not None:
            counts = ", ".join(f"{k} {v}" for k, v in ds.class_counts().items())
            sources = ds.meta.get("sources") or [ds.source]
            log(f"{name}: {len(ds)} images ({counts}) from {' + '.join(map(str, sources))}")


def _prepare_source(name: str, dataset: Dataset, contract: PreprocessContract, config: TrainConfig,
                    log: Callable[[str], None]) -> Any:
    from .data import make_source

    source = make_source(dataset, contract, config.cache_dir)
    if source.cached:
        with _counter(f"decoding {name} images", len(source)) as advance:
            source.fill(config.workers, advance)
        log(f"{name}: image cache {source.records.path} ({source.cache_bytes / 1e6:.0f} MB; "
            f"{source.fill_seconds:.1f} s to fill)")
    else:
        log(f"{name}: streaming (no image cache); unreadable images are skipped as they are met")
    _log_skipped(name, source, log)
    return source


def _log_skipped(name: str, source: Any, log: Callable[[str], None]) -> None:
    if source.skipped:
        log(f"{name}: skipped {len(source.skipped)} unreadable image(s):")
        for item in source.skipped_list():
            log(f"  skipped {item['path']}: {item['reason']}")


def _arrays(source: Any, weights: Optional[np.ndarray] = None, targets: Optional[np.ndarray] = None) -> Any:
    from .loop import SplitArrays

    labels = np.asarray(source.dataset.y, np.int64)
    return SplitArrays(source, source.valid_indices(), labels, weights, targets)


def _feature_folder(source: Any, backbone: Any, run: Any) -> Path:
    """Beside the image cache when the features can be shared (pretrained backbone, cached images):
    later runs on the same images and backbone (e.g. a sweep of heads) reuse them. Else in the run."""
    if source.cached and backbone.fingerprint:
        return Path(source.records.path).parent.parent / "features" / f"{source.key}-{backbone.fingerprint}"
    return run.features


def _ensure_features(split: str, arrays: Any, backbone: Any, run: Any, batch: int, views: tuple[str, ...],
                     log: Callable[[str], None]) -> float:
    from .features import FeatureStore, extract_features

    t0 = time.perf_counter()
    arrays.features = []
    key = f"{getattr(arrays.source, 'key', 'stream')}-{backbone.fingerprint}-{len(arrays.indices)}"
    folder = _feature_folder(arrays.source, backbone, run)
    for view in views:
        store = FeatureStore(folder, split, view, len(arrays.source), backbone.feature_dim)
        if not store.complete(key):
            with _counter(f"{split} features ({view})", len(arrays.indices)) as advance:
                extract_features(backbone.model, arrays.source, arrays.indices, store, batch, view == "flip", advance)
            store.mark_complete(key)
            log(f"{split}: computed {backbone.feature_dim}-d backbone features ({view}) in "
                f"{time.perf_counter() - t0:.1f} s -> {store.path}")
        else:
            log(f"{split}: reusing cached backbone features ({view}) {store.path}")
        arrays.features.append(store)
    return time.perf_counter() - t0


def _run(config: TrainConfig, run: Any, resuming: bool, lists: Optional[tuple[Any, Any, Any]] = None) -> TrainResult:
    from .rundir import close_logger, make_logger

    logger = make_logger(run, config.verbose)
    try:
        with _sigterm_as_interrupt():
            return _train(config, run, resuming, logger.info, lists)
    except KeyboardInterrupt:
        from .checkpoint import Checkpointer

        state = Checkpointer(run.path).load_state() or {}
        done = len(state.get("history", []))
        logger.info(f"interrupted; {done} epoch(s) are checkpointed in {run.path}")
        raise TrainingInterrupted(
            f"Training interrupted after {done} finished epoch(s); they are checkpointed in {run.path}.",
            f"continue with `sentilite train --resume {run.path}`",
        ) from None
    finally:
        close_logger(logger)


def _train(config: TrainConfig, run: Any, resuming: bool, log: Callable[[str], None],
           lists: Optional[tuple[Any, Any, Any]] = None) -> TrainResult:
    import json

    from sentilite.core.tf_import import import_keras, import_tensorflow

    from .backbones import build_backbone
    from .checkpoint import Checkpointer, CheckpointError
    from .data import class_weight_vector
    from .distill import teacher_targets
    from .loop import LossSpec, PhaseRunner, run_phase
    from .model import assemble
    from .modes import apply_phase, trainable_summary
    from .presets import conv_kernels, make_optimizer, resolve_phases
    from .rundir import plot_learning_curves, summary_line, write_history

    checkpointer = Checkpointer(run.path)
    state = checkpointer.load_state() if resuming else None
    if resuming:
        if state is None:
            raise CheckpointError(f"{run.path} has no finished epoch to resume from.",
                                  "start it again (remove the folder or choose another --out)")
        if state.get("finished") and run.metrics.is_file():
            log(f"{run.path} has already finished; nothing to resume")
            return TrainResult(run.path, run.model, json.loads(run.metrics.read_text()), run.contract,
                               list(state.get("history", [])))
        log(f"resuming {run.path}: phase {state['phase'] + 1}, {len(state.get('history', []))} epoch(s) done")
    else:
        log(f"sentilite train -> {run.path}")

    tf = import_tensorflow("training")
    keras = import_keras("training")
    keras.utils.set_random_seed(int(config.seed))
    t_session = time.perf_counter()
    monitor = ResourceMonitor()
    monitor.start()

    train_ds, val_ds, test_ds = lists or _read_lists(config)
    _log_lists((train_ds, val_ds, test_ds), log)
    labels = tuple(config.labels)
    backbone = build_backbone(config)
    contract = PreprocessContract(
        height=backbone.size, width=backbone.size, color_order=backbone.color_order, norm=backbone.norm,
        labels=labels, output="probabilities",
        provenance={**backbone.provenance, "mode": config.mode, "preset": config.preset,
                    "trained_on": ["/".join(Path(d).parts[-2:]) for d in config.data], "trainer": "sentilite train"},
    )
    log(f"backbone {backbone.name}: {backbone.feature_dim}-d features, input {contract.describe()}")
    sm = assemble(backbone, len(labels), config.head_dropout, name=f"sentilite_{backbone.name.replace(':', '_').replace('-', '_')}")
    atomic_write_text(run.contract, contract.to_json() + "\n")

    train_src = _prepare_source("train", train_ds, contract, config, log)
    val_src = _prepare_source("val", val_ds, contract, config, log) if val_ds is not None else None
    train_y_valid = np.asarray(train_ds.y, np.int64)[train_src.valid_indices()]
    cw = class_weight_vector(train_y_valid, len(labels), config.class_weight)
    if config.class_weight != "none":
        log("class weights: " + ", ".join(f"{n} {w:.3f}" for n, w in zip(labels, cw)))
    targets = None
    if config.teacher:
        if run.teacher_targets.is_file():
            targets = np.load(run.teacher_targets)
        else:
            targets = teacher_targets(config.teacher, train_ds, labels, config.temperature, log)
            np.save(run.teacher_targets, targets)
        log(f"distillation: T = {config.temperature}, alpha (hard-label weight) = {config.alpha}")
    train = _arrays(train_src, cw, targets)
    val = _arrays(val_src) if val_src is not None else None
    if len(train.indices) == 0:
        raise TrainConfigError("No readable training images.", "check the paths in the split file (and --root)")

    phases = resolve_phases(config)
    if state is None:
        state = {"phase": 0, "epoch": 0, "history": [], "early_stopping": None, "best_weights": None,
                 "weights": None, "optimizer": None, "train_seconds": 0.0, "wall_seconds": 0.0, "sessions": 0,
                 "phases": []}
    elif state.get("weights"):
        checkpointer.load_weights(sm.model, state["weights"])
    state["sessions"] = int(state.get("sessions", 0)) + 1
    feature_seconds = 0.0
    loss = LossSpec(config.temperature if config.teacher else None, config.alpha)
    augment = tuple(config.augment)

    for p in range(int(state["phase"]), len(phases)):
        spec = phases[p]
        apply_phase(sm.backbone, spec.mode, pretrained=backbone.pretrained)
        if not backbone.pretrained and spec.mode == "ft-f":
            log("note: ft-f on a randomly initialised backbone trains the head on random features")
        if not backbone.pretrained and spec.mode == "ft-a":
            log("note: random initialisation, so BatchNorm trains normally (batch statistics) in ft-a")
        use_features = spec.mode == "ft-f" and config.feature_cache
        if use_features:
            views = ("plain", "flip") if "flip" in augment else ("plain",)
            dropped = [a for a in augment if a != "flip"]
            if dropped:
                log(f"ft-f on cached features: {', '.join(dropped)} augmentation not applied in this phase "
                    "(use --no-feature-cache to apply it, at the cost of a backbone pass per epoch)")
            feature_seconds += _ensure_features("train", train, backbone, run, spec.batch_size, views, log)
            if val is not None:
                feature_seconds += _ensure_features("val", val, backbone, run, spec.batch_size, ("plain",), log)
        net = sm.head if use_features else sm.logits_model
        steps = math.ceil(len(train.indices) / spec.batch_size)
        optimizer = make_optimizer(spec, steps)
        if int(state.get("epoch", 0)) > 0 and state.get("optimizer"):
            checkpointer.load_optimizer(optimizer, net.trainable_variables, state["optimizer"])
        else:
            optimizer.build(net.trainable_variables)
        l2 = conv_kernels(sm.logits_model) if spec.weight_decay > 0 else []
        counts = trainable_summary(sm.model)
        log(f"phase {p + 1}/{len(phases)} {spec.mode}: {spec.optimizer} lr {spec.lr:g} ({spec.schedule}), batch "
            f"{spec.batch_size}, up to {spec.epochs} epochs, patience {spec.patience}, weight decay {spec.weight_decay:g} "
            f"on {len(l2)} conv kernels; {counts['trainable']:,} of {counts['total']:,} parameters trainable"
            + ("; head on cached features" if use_features else f"; augmentation {','.join(augment) or 'off'}"))
        runner = PhaseRunner(tf, net, optimizer, spec, loss, l2, steps)
        t_phase = time.perf_counter()
        state = run_phase(runner=runner, model=sm.model, checkpointer=checkpointer, state=state, phase=p,
                          n_phases=len(phases), train=train, val=val, use_features=use_features, augment=augment,
                          seed=int(config.seed), log=log, on_epoch_end=lambda s: write_history(run, s["history"]))
        es = state.get("early_stopping") or {}
        phase_rows = [r for r in state["history"] if r["phase"] == p + 1]
        phase_info = {"mode": spec.mode, "spec": spec.to_dict(), "epochs_run": len(phase_rows),
                      "best_epoch": (es.get("best_epoch", -1) + 1) or None, "best_monitor": es.get("best"),
                      "stopped_early": bool(es.get("stopped")), "feature_cache": use_features,
                      "seconds": float(sum(r["seconds"] for r in phase_rows)),
                      "trainable_parameters": counts["trainable"],
                      "session_seconds": time.perf_counter() - t_phase}
        state["phases"] = [*state.get("phases", [])[:p], phase_info]
        state = {**state, "phase": p + 1, "epoch": 0, "early_stopping": None, "best_weights": None}
        state = checkpointer.save_weights_only(sm.model, state, f"phase-{p + 1}")

    # -- save the best model with its contract ---------------------------------------------------
    tmp = run.path / "model.part.keras"
    sm.model.save(tmp)
    tmp.replace(run.model)
    write_contract_keras(run.model, contract)
    monitor.stop()
    usage = monitor.summary()
    wall = float(state.get("wall_seconds", 0.0)) + (time.perf_counter() - t_session)
    state["wall_seconds"] = wall
    log(f"saved {run.model} ({run.model.stat().st_size / 1e6:.2f} MB); training wall time {wall:.1f} s")

    # -- evaluate through the core path (the same one `sentilite evaluate` uses) --------------
    from sentilite.core.keras_classifier import KerasClassifier

    from .evaluate import evaluate_classifier

    clf = KerasClassifier(run.model)
    results: dict[str, Any] = {}
    for name, ds in (("val", val_ds), ("test", test_ds)):
        if ds is not None:
            results[name] = evaluate_classifier(clf, ds, description=f"evaluating {name}")
            log(summary_line(results[name], name))
    params = sm.parameter_counts()
    metrics: dict[str, Any] = {
        "model": str(run.model),
        "contract": contract.to_dict(),
        "config": config.to_dict(),
        "data": {
            "train": {"n": len(train_ds), "n_used": int(len(train.indices)), "class_counts": train_ds.class_counts(),
                      "sources": train_ds.meta.get("sources", [train_ds.source])},
            "val": {"n": len(val_ds), "class_counts": val_ds.class_counts(), "source": val_ds.source} if val_ds else None,
            "test": {"n": len(test_ds), "class_counts": test_ds.class_counts(), "source": test_ds.source} if test_ds else None,
            "class_weights": dict(zip(labels, map(float, cw))),
        },
        "skipped": {"train": train_src.skipped_list(), "val": val_src.skipped_list() if val_src else []},
        "n_skipped": len(train_src.skipped) + (len(val_src.skipped) if val_src else 0),
        **{name: m for name, m in results.items()},
        "training": {
            "wall_seconds": wall,
            "epoch_seconds": float(state.get("train_seconds", 0.0)),
            "cache_fill_seconds": train_src.fill_seconds + (val_src.fill_seconds if val_src else 0.0),
            "feature_seconds": feature_seconds,
            "epochs": len(state["history"]),
            "phases": state.get("phases", []),
            "sessions": state.get("sessions", 1),
            "cpu_percent_mean": usage["cpu_percent_mean"],
            "cpu_percent_peak": usage["cpu_percent_peak"],
            "cpu_cores": usage["cpu_cores"],
            "rss_peak_mb": usage["rss_peak_mb"],
            "resource_note": "CPU and memory of the last session" if state.get("sessions", 1) > 1 else "whole run",
        },
        "model_size": {"parameters": params["total"], "backbone_parameters": params["backbone"],
                       "head_parameters": params["head"], "file_bytes": run.model.stat().st_size},
    }
    atomic_write_json(run.metrics, metrics)
    write_history(run, state["history"])
    if config.plots:
        from sentilite.core.plotting import plot_confusion_matrix

        plot_learning_curves(state["history"], run.curves)
        for name, m in results.items():
            plot_confusion_matrix(m["confusion_matrix"], labels, run.confusion(name), title=f"{name} ({m['n']} images)")
    checkpointer.write_state({**state, "finished": True})
    train_src.close()
    if val_src is not None:
        val_src.close()
    log(f"run folder: {run.path}")
    return TrainResult(run.path, run.model, metrics, run.contract, list(state["history"]))
