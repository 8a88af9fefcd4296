"""The Python API behind ``sentilite train``: ``train_model(config)`` and ``resume_training(run_dir)``.

One run = read the lists -> build backbone + head + contract -> decode images into the cache ->
(teacher targets) -> phases (FT-F on cached features, FT-A on images) with per-epoch checkpoints
-> save the best model with its contract -> evaluate val/test through the core path ->
metrics.json, history.csv, plots.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Optional

from sentilite.core.fsutil import atomic_write_json
from sentilite.core.modelfile import write_contract_keras
from sentilite.core.resources import ResourceMonitor

from .config import TrainConfig, TrainConfigError, TrainingInterrupted, TrainResult
from .evaluate import evaluate_model as evaluate_model  # noqa: F401 - part of the API
from .prepare import absolute_path, phase_features, preflight, read_lists
from .session import Setup, set_up, starting_state
from .state import TrainState
from .summary import build_metrics

if TYPE_CHECKING:
    from sentilite.train.checkpoint import Checkpointer
    from sentilite.train.distribute import Distribution
    from sentilite.train.rundir import RunDir

# Re-exported so ``from sentilite.train.api import evaluate_model`` works as documented.
__all__ = ["train_model", "resume_training", "evaluate_model", "TrainConfig", "TrainResult"]

Log = Callable[[str], None]


def train_model(config: TrainConfig) -> TrainResult:
    """Train a sentiment model as ``config`` says, into a new run folder; returns what it made.

    Raises a :class:`sentilite.core.errors.SentiliteError` subclass with a one-line fix for every user
    error; :class:`TrainingInterrupted` (exit code 130) after Ctrl-C / SIGTERM, with the last
    finished epoch checkpointed for :func:`resume_training`.
    """
    from .rundir import RunDir, default_run_dir

    config.validate()
    preflight(config)
    lists = read_lists(config)
    run = RunDir(
        Path(config.out)
        if config.out
        else default_run_dir("file" if config.backbone_file else config.backbone, config.mode)
    )
    if config.task_index() > 0:  # a multi-worker helper: the chief owns the run folder
        return _run(
            config,
            RunDir(run.path / f"worker-{config.task_index()}").create(),
            resuming=False,
            lists=lists,
            chief_dir=run.path,
        )
    if (run.path / "checkpoint" / "state.json").exists() or run.model.exists():
        raise TrainConfigError(
            f"{run.path} already holds a training run.",
            f"continue it with `sentilite train --resume {run.path}`, or choose another --out",
        )
    run.create()
    config.out = str(run.path)
    stored = config.to_dict()
    for key in ("data", "partial_data", "val", "test", "root", "backbone_file", "teacher", "cache_dir", "weights"):
        stored[key] = absolute_path(stored[key])
    atomic_write_json(run.config, stored)  # absolute paths: --resume works from any folder
    return _run(config, run, resuming=False, lists=lists)


def resume_training(run_dir: str | Path, verbose: bool = True, worker_index: Optional[int] = None) -> TrainResult:
    """Continue an interrupted run from its last finished epoch (same optimizer state, schedule,
    epoch count and early-stopping state). Every worker of a multi-worker job resumes from the
    chief's checkpoint (``worker_index``, or TF_CONFIG, says which worker this is)."""
    import json

    from .rundir import RunDir

    run = RunDir(Path(run_dir))
    if not run.config.is_file():
        raise TrainConfigError(
            f"{run.path} is not a training run folder (no config.json).",
            "pass the --out folder of an earlier `sentilite train`",
        )
    config = TrainConfig.from_dict(json.loads(run.config.read_text()))
    config.verbose, config.worker_index = verbose, worker_index
    if config.task_index() > 0:
        return _run(
            config.validate(),
            RunDir(run.path / f"worker-{config.task_index()}").create(),
            resuming=True,
            chief_dir=run.path,
        )
    return _run(config.validate(), run, resuming=True)


def _run(
    config: TrainConfig,
    run: RunDir,
    resuming: bool,
    lists: Optional[tuple[Any, Any, Any]] = None,
    chief_dir: Optional[Path] = None,
) -> TrainResult:
    from .rundir import close_logger, make_logger, sigterm_as_interrupt

    logger = make_logger(run, config.verbose)
    try:
        with sigterm_as_interrupt():
            return _train(config, run, resuming, logger.info, lists, chief_dir)
    except KeyboardInterrupt:
        from .checkpoint import Checkpointer

        home = chief_dir or run.path
        state = Checkpointer(run.path, restore_from=chief_dir).load_state() or TrainState()
        done = len(state.history)
        logger.info(f"interrupted; {done} epoch(s) are checkpointed in {home}")
        raise TrainingInterrupted(
            f"Training interrupted after {done} finished epoch(s); they are checkpointed in {home}.",
            f"continue with `sentilite train --resume {home}`"
            + (" on every worker (each with its --worker-index)" if config.strategy == "multi-worker" else ""),
        ) from None
    except Exception as exc:
        from .distribute import lost_worker_error

        raise lost_worker_error(exc, config, chief_dir or run.path) from None
    finally:
        close_logger(logger)


def _head_kernels(sm: Any, setup: Any, config: TrainConfig) -> tuple[float, list[Any]]:
    """(``--head-l2``, the extra heads' Dense kernels it applies to)."""
    if config.head_l2 <= 0 or not setup.contract.heads:
        return 0.0, []
    return config.head_l2, [sm.head.get_layer(f"{h.name}_logits").kernel for h in setup.contract.heads]


def _run_one_phase(
    tf: ModuleType,
    p: int,
    phases: list[Any],
    config: TrainConfig,
    run: RunDir,
    setup: Setup,
    checkpointer: Checkpointer,
    state: TrainState,
    log: Log,
    dist: Optional[Distribution] = None,
) -> tuple[TrainState, float]:
    from sentilite.core.tf_import import import_keras

    from .loop import LossSpec, PhaseRunner, run_phase
    from .mixing import MixSpec
    from .modes import apply_phase, trainable_summary
    from .precision import wrap_optimizer
    from .presets import conv_kernels, make_optimizer
    from .rundir import write_history

    spec, sm, pretrained = phases[p], setup.sm, setup.backbone.pretrained
    apply_phase(sm.backbone, spec.mode, pretrained=pretrained)
    if not pretrained and spec.mode == "ft-f":
        log("note: ft-f on a randomly initialised backbone trains the head on random features")
    if not pretrained and spec.mode == "ft-a":
        log("note: random initialisation, so BatchNorm trains normally (batch statistics) in ft-a")
    use_features, feature_seconds = phase_features(config, run, setup, spec, log)
    net = sm.head if use_features else sm.logits_model
    n = len(setup.train.indices)
    steps = dist.steps(n, spec.batch_size) if dist else math.ceil(n / spec.batch_size)
    if dist:
        log(dist.describe(spec.batch_size) + f"; {steps} steps per epoch")
    optimizer = wrap_optimizer(import_keras("training"), make_optimizer(spec, steps), config.precision)
    if state.epoch > 0 and state.optimizer:
        checkpointer.load_optimizer(optimizer, net.trainable_variables, state.optimizer)
    else:
        optimizer.build(net.trainable_variables)
    l2 = conv_kernels(sm.logits_model) if spec.weight_decay > 0 else []
    counts = trainable_summary(sm.model)
    augment = tuple(config.augment)
    log(
        f"phase {p + 1}/{len(phases)} {spec.mode}: {spec.optimizer} lr {spec.lr:g} ({spec.schedule}), batch "
        f"{spec.batch_size}, up to {spec.epochs} epochs, patience {spec.patience}, weight decay {spec.weight_decay:g} "
        f"on {len(l2)} conv kernels; {counts['trainable']:,} of {counts['total']:,} parameters trainable"
        + ("; head on cached features" if use_features else f"; augmentation {','.join(augment) or 'off'}")
    )
    loss = LossSpec(
        len(setup.labels),
        config.temperature if config.teacher else None,
        config.alpha,
        config.label_smoothing,
        config.head_specs,
    )
    mix = MixSpec(config.mix, config.mix_alpha, int(config.seed))
    if mix.active:
        log(f"{mix.kind} (alpha {mix.alpha:g}) of {'cached features' if use_features else 'images'}")
    if spec.ema:
        log(f"weights averaged (EMA momentum {spec.ema:g})")
    t_phase = time.perf_counter()
    l2_terms = [(spec.weight_decay, l2), _head_kernels(sm, setup, config)]
    state = run_phase(
        runner=PhaseRunner(tf, net, optimizer, spec, loss, l2_terms, steps, dist, setup.contract, mix),
        model=sm.model,
        checkpointer=checkpointer,
        state=state,
        phase=p,
        n_phases=len(phases),
        train=setup.train,
        val=setup.val,
        use_features=use_features,
        augment=augment,
        seed=int(config.seed),
        log=log,
        on_epoch_end=lambda s: write_history(run, s.history),
    )
    phase_info = _phase_info(spec, state, p, use_features, counts["trainable"], time.perf_counter() - t_phase)
    return checkpointer.save_weights_only(sm.model, state.next_phase(phase_info), f"phase-{p + 1}"), feature_seconds


def _phase_info(
    spec: Any, state: TrainState, p: int, use_features: bool, trainable: int, seconds: float
) -> dict[str, Any]:
    """What metrics.json says of one finished phase."""
    es = state.early_stopping or {}
    phase_rows = [r for r in state.history if r["phase"] == p + 1]
    return {
        "mode": spec.mode,
        "spec": spec.to_dict(),
        "epochs_run": len(phase_rows),
        "best_epoch": (es.get("best_epoch", -1) + 1) or None,
        "best_monitor": es.get("best"),
        "stopped_early": bool(es.get("stopped")),
        "feature_cache": use_features,
        "seconds": float(sum(r["seconds"] for r in phase_rows)),
        "trainable_parameters": trainable,
        "session_seconds": seconds,
    }


def _save_model(setup: Setup, run: RunDir, precision: str = "float32", vocabulary: Optional[str] = None) -> None:
    """model.keras (float32) with its contract inside, or nothing: written under a temporary name, then renamed."""
    model = setup.sm.model
    if precision != "float32":
        from sentilite.core.tf_import import import_keras

        from .precision import with_policy

        model = with_policy(import_keras("training"), model, "float32")
    tmp = run.path / "model.part.keras"
    model.save(tmp)
    write_contract_keras(tmp, setup.contract)
    if any(h.kind == "embedding" for h in setup.contract.heads):  # the words it can tag with, and their vectors
        from sentilite.core.vocabulary_file import write_vocabulary_keras
        from sentilite.core.word_vectors import build_vocabulary

        write_vocabulary_keras(tmp, build_vocabulary(vocabulary))
    tmp.replace(run.model)


def _evaluate(run: RunDir, setup: Setup, log: Log) -> dict[str, Any]:
    """val/test metrics through the core path (the same one `sentilite evaluate` uses)."""
    from sentilite.core.keras_classifier import KerasClassifier

    from .evaluate import evaluate_classifier
    from .rundir import summary_line

    clf = KerasClassifier(run.model)
    results: dict[str, Any] = {}
    for name, ds in (("val", setup.datasets[1]), ("test", setup.datasets[2])):
        if ds is not None:
            results[name] = evaluate_classifier(clf, ds, description=f"evaluating {name}")
            log(summary_line(results[name], name))
    return results


def _write_outputs(config: TrainConfig, run: RunDir, setup: Setup, state: TrainState, results: dict[str, Any]) -> None:
    from .rundir import plot_learning_curves, write_history

    write_history(run, state.history)
    if config.plots:
        from sentilite.core.plotting import plot_confusion_matrix

        plot_learning_curves(state.history, run.curves)
        for name, m in results.items():
            plot_confusion_matrix(
                m["confusion_matrix"], setup.labels, run.confusion(name), title=f"{name} ({m['n']} images)"
            )


def _train(
    config: TrainConfig,
    run: RunDir,
    resuming: bool,
    log: Log,
    lists: Optional[tuple[Any, Any, Any]] = None,
    chief_dir: Optional[Path] = None,
) -> TrainResult:
    from sentilite.core.tf_import import import_keras, import_tensorflow

    from .checkpoint import Checkpointer
    from .distribute import make_distribution
    from .precision import describe_devices, devices_line, set_policy
    from .presets import resolve_phases

    checkpointer = Checkpointer(run.path, restore_from=chief_dir)
    state = starting_state(checkpointer, run, resuming, log)
    if isinstance(state, TrainResult):
        return state
    tf = import_tensorflow("training")
    dist = make_distribution(tf, config.strategy, config.worker_hosts, config.worker_index)  # before any other TF op
    keras = import_keras("training")
    keras.utils.set_random_seed(int(config.seed))
    devices = describe_devices(tf)
    log(f"{devices_line(devices)}; precision {config.precision}")
    if (
        chief_dir is not None and str(config.cache_dir).lower() != "none"
    ):  # helpers on the chief's machine fill their own cache
        from .data import default_cache_dir

        config.cache_dir = str(Path(config.cache_dir or default_cache_dir()) / run.path.name)
    t_session = time.perf_counter()
    monitor = ResourceMonitor()
    monitor.start()
    set_policy(keras, config.precision)
    with dist.strategy.scope() if dist else contextlib.nullcontext():
        setup = set_up(config, run, lists, log)
        if state.weights:
            checkpointer.load_weights(setup.sm.model, state.weights)
        state = state.update(sessions=state.sessions + 1)
        phases = resolve_phases(config)
        feature_seconds = 0.0
        for p in range(state.phase, len(phases)):
            state, seconds = _run_one_phase(tf, p, phases, config, run, setup, checkpointer, state, log, dist)
            feature_seconds += seconds
    set_policy(keras, "float32")
    monitor.stop()
    if chief_dir is not None:
        setup.close()
        log(f"worker {config.task_index()} finished its part; the chief writes the model into {chief_dir}")
        return TrainResult(chief_dir, chief_dir / "model.keras", {}, chief_dir / "contract.json", list(state.history))
    return _finish(
        config,
        run,
        setup,
        state,
        checkpointer,
        monitor,
        feature_seconds,
        t_session,
        log,
        {
            "devices": devices,
            "precision": config.precision,
            "strategy": dist.describe(phases[-1].batch_size) if dist else "none (one device)",
        },
    )


def _finish(
    config: TrainConfig,
    run: RunDir,
    setup: Setup,
    state: TrainState,
    checkpointer: Checkpointer,
    monitor: Any,
    feature_seconds: float,
    t_session: float,
    log: Log,
    facts: dict[str, Any],
) -> TrainResult:
    """Save the model, evaluate it, write metrics and plots (the chief, or the only process)."""
    _save_model(setup, run, config.precision, config.vocabulary)
    state = state.update(wall_seconds=state.wall_seconds + (time.perf_counter() - t_session))
    log(f"saved {run.model} ({run.model.stat().st_size / 1e6:.2f} MB); training wall time {state.wall_seconds:.1f} s")
    if setup.datasets[1] is not None and config.decision == "fit":
        from .calibrate import calibrate_model

        setup.contract = replace(
            setup.contract, decision=calibrate_model(run.model, setup.datasets[1], str(config.val), log)
        )
    results = _evaluate(run, setup, log)
    metrics = build_metrics(config, run, setup, state, results, monitor.summary(), feature_seconds)
    metrics["training"].update(facts)
    atomic_write_json(run.metrics, metrics)
    _write_outputs(config, run, setup, state, results)
    checkpointer.write_state(state.update(finished=True))
    setup.close()
    log(f"run folder: {run.path}")
    return TrainResult(run.path, run.model, metrics, run.contract, list(state.history))
