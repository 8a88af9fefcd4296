"""The training loop of one phase: epochs, early stopping, best weights, checkpoints, progress.

A small custom loop (``tf.GradientTape``) rather than ``model.fit``: the same loop trains the whole
network on images or the head alone on cached features, adds the distillation and L2 terms, and
can be stopped and resumed at any epoch boundary with the exact sample order, augmentation seeds,
optimizer state and learning-rate schedule.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional

import numpy as np

from sentilite.core.heads import Head

from .checkpoint import Checkpointer
from .data import ImageSource, epoch_order, image_batches, normalize_tf
from .distribute import Distribution
from .ema import averaged_weights
from .features import FeatureStore, feature_batches
from .head_losses import each_head_loss, head_loss, tail_width
from .keep import end_phase, save_head_bests
from .losses import distillation_loss, hard_loss, unpack_targets
from .mixing import MixSpec, mix_batch
from .precision import scaled
from .presets import PhaseSpec, learning_rate_at
from .rundir import live_progress, raise_if_terminated
from .state import TrainState

if TYPE_CHECKING:
    import keras
    import tensorflow as tf


@dataclass
class EarlyStopping:
    """Stop when ``monitor`` has not improved for ``patience`` epochs; remember the best epoch."""

    patience: int
    monitor: str = "val_loss"
    best: float = math.inf
    best_epoch: int = -1
    wait: int = 0
    stopped: bool = False

    def update(self, value: float, epoch: int) -> bool:
        """Record one epoch's value; True when it is the best so far."""
        if value < self.best:
            self.best, self.best_epoch, self.wait = float(value), epoch, 0
            return True
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped = True
        return False

    def to_dict(self) -> dict[str, Any]:
        return {
            "patience": self.patience,
            "monitor": self.monitor,
            "best": self.best if math.isfinite(self.best) else None,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped": self.stopped,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EarlyStopping:
        best = d.get("best")
        return cls(
            int(d["patience"]),
            d.get("monitor", "val_loss"),
            math.inf if best is None else float(best),
            int(d.get("best_epoch", -1)),
            int(d.get("wait", 0)),
            bool(d.get("stopped", False)),
        )


@dataclass
class LossSpec:
    """Hard-label cross-entropy over each sample's allowed classes, or distillation when
    ``temperature`` is set; ``t`` rows are laid out by :func:`train.losses.pack_targets`."""

    num_classes: int
    temperature: Optional[float] = None
    alpha: float = 0.1
    label_smoothing: float = 0.0
    #: extra heads: ``logits`` then holds their outputs after the C sentiment logits
    heads: tuple[Head, ...] = ()

    def per_sample(self, tf: ModuleType, y: tf.Tensor, logits: tf.Tensor, t: tf.Tensor) -> Any:
        teacher_width = self.num_classes if self.temperature is not None else 1
        teacher, mask, tail = unpack_targets(t, self.num_classes, teacher_width)
        z = logits[:, : self.num_classes]
        if self.temperature is None:
            loss = hard_loss(tf, y, z, mask, self.label_smoothing)
        else:
            loss = distillation_loss(tf, y, z, teacher, self.temperature, self.alpha, mask, self.label_smoothing)
        return loss + head_loss(tf, self.heads, logits[:, self.num_classes :], tail) if self.heads else loss


@dataclass
class SplitArrays:
    """One split ready for the loop: source, usable indices, labels (and weights/targets for train)."""

    source: ImageSource
    indices: np.ndarray
    labels: np.ndarray
    weights: Optional[np.ndarray] = None  # per class
    targets: Optional[np.ndarray] = None  # (len(source), Ct + C): losses.pack_targets rows (prepare.split_arrays)
    features: list[FeatureStore] = field(default_factory=list)
    tail: int = 0  # target columns of the extra heads (train.head_losses)


class PhaseRunner:
    """Runs one phase's epochs for a given trainable network (``logits_model`` or ``head``)."""

    def __init__(
        self,
        tf: ModuleType,
        net: keras.Model,
        optimizer: keras.optimizers.Optimizer,
        spec: PhaseSpec,
        loss: LossSpec,
        l2_terms: list[tuple[float, list[Any]]],
        steps_per_epoch: int,
        dist: Optional[Distribution] = None,
        contract: Any = None,
        mix: Optional[MixSpec] = None,
    ) -> None:
        self.tf, self.net, self.optimizer, self.spec, self.loss = tf, net, optimizer, spec, loss
        self.steps_per_epoch, self.dist = steps_per_epoch, dist
        mix = mix or MixSpec()
        variables = net.trainable_variables
        l2_terms = [(float(c), vs) for c, vs in l2_terms if vs and c > 0]  # (coefficient, variables) pairs
        replicas = dist.replicas if dist else 1

        def step(x: tf.Tensor, y: tf.Tensor, w: tf.Tensor, t: tf.Tensor, global_n: tf.Tensor) -> Any:
            # The loss of a replica's share over the *global* batch size: summed over replicas
            # (as tf.distribute sums gradients), it is the mean over the global batch.
            if x.dtype == tf.uint8:  # pixels from a pack: normalised here, on the accelerator
                x = normalize_tf(tf, x, contract)
            if mix.active:
                x, perm, lam = mix_batch(tf, x, mix, optimizer.iterations)
            with tf.GradientTape() as tape:
                logits = net(x, training=True)
                z = tf.cast(logits, tf.float32)
                per = tf.cast(loss.per_sample(tf, y, z, t), tf.float32) * w
                if mix.active:  # the same blend of the partner's loss (its label, mask, teacher, weight)
                    partner = loss.per_sample(tf, tf.gather(y, perm), z, tf.gather(t, perm)) * tf.gather(w, perm)
                    per = lam * per + (1.0 - lam) * tf.cast(partner, tf.float32)
                data_loss = tf.reduce_sum(per) / global_n
                total = data_loss
                for coef, vs in l2_terms:  # loss += coef / 2 * sum(w ** 2)
                    total = total + 0.5 * coef * tf.add_n([tf.reduce_sum(tf.square(v)) for v in vs]) / replicas
                total = scaled(optimizer, total)
            grads = tape.gradient(total, variables)
            optimizer.apply_gradients(zip(grads, variables))
            pred = tf.argmax(logits[:, : loss.num_classes], axis=-1, output_type=tf.int32)
            return data_loss, tf.reduce_sum(tf.cast(tf.equal(pred, tf.cast(y, tf.int32)), tf.float32))

        @tf.function(reduce_retracing=True)
        def train_step(x: tf.Tensor, y: tf.Tensor, w: tf.Tensor, t: tf.Tensor) -> Any:
            return step(x, y, w, t, tf.cast(tf.shape(y)[0], tf.float32))

        self.global_batch = dist.per_replica_batch(spec.batch_size) * replicas if dist else spec.batch_size

        @tf.function(reduce_retracing=True)
        def dist_step(x: tf.Tensor, y: tf.Tensor, w: tf.Tensor, t: tf.Tensor) -> Any:
            n = tf.constant(float(self.global_batch), tf.float32)
            data_loss, correct = dist.strategy.run(step, args=(x, y, w, t, n))
            return dist.strategy.reduce("SUM", data_loss, axis=None), dist.strategy.reduce("SUM", correct, axis=None)

        if dist is not None:
            train_step = dist_step

        tail = tail_width(loss.heads)

        @tf.function(reduce_retracing=True)
        def eval_step(x: tf.Tensor, y: tf.Tensor, t: tf.Tensor) -> Any:
            out = tf.cast(net(x, training=False), tf.float32)
            logits = out[:, : loss.num_classes]  # the validation loss is the sentiment head's
            per = hard_loss(tf, y, logits)
            pred = tf.argmax(logits, axis=-1, output_type=tf.int32)
            each = each_head_loss(tf, loss.heads, out[:, loss.num_classes :], t[:, -tail:]) if tail else []
            sums = tf.stack([tf.reduce_sum(v) for v, _ in each]) if each else tf.zeros([0])
            counts = tf.stack([tf.reduce_sum(p) for _, p in each]) if each else tf.zeros([0])
            correct = tf.reduce_sum(tf.cast(tf.equal(pred, tf.cast(y, tf.int32)), tf.float32))
            return tf.reduce_sum(per), correct, sums, counts

        self.train_step, self.eval_step = train_step, eval_step

    def train_epoch(
        self, batches: Iterable[Any], on_step: Callable[[float, float, int], None]
    ) -> tuple[float, float, int]:
        tot_loss = tot_correct = 0.0
        n = 0
        if self.dist is not None:
            batches = self.dist.distribute(batches)
        for x, y, w, t in batches:
            loss, correct = self.train_step(x, y, w, t)
            b = self.global_batch if self.dist else int(np.shape(y)[0])
            tot_loss += float(loss) * b
            tot_correct += float(correct)
            n += b
            on_step(tot_loss / max(n, 1), tot_correct / max(n, 1), b)
        return tot_loss / max(n, 1), tot_correct / max(n, 1), n

    def evaluate(self, batches: Iterable[Any]) -> tuple[float, float, dict[str, float]]:
        """(the sentiment head's mean loss, its accuracy, each extra head's mean loss over the
        samples that teach it)."""
        tot_loss = tot_correct = 0.0
        n = 0
        sums = counts = np.zeros(len(self.loss.heads))
        for x, y, _, t in batches:
            loss, correct, s, c = self.eval_step(x, y, t)
            tot_loss += float(loss)
            tot_correct += float(correct)
            sums, counts = sums + s.numpy(), counts + c.numpy()
            n += int(np.shape(y)[0])
        heads = {h.name: float(v / c) for h, v, c in zip(self.loss.heads, sums, counts) if c > 0}
        return tot_loss / max(n, 1), tot_correct / max(n, 1), heads


def _train_batches(
    train: SplitArrays,
    spec: PhaseSpec,
    use_features: bool,
    augment: tuple[str, ...],
    seed: int,
    phase: int,
    epoch: int,
    dist: Optional[Distribution] = None,
) -> Any:
    if hasattr(train.source, "batches"):  # a pack: streamed shard by shard
        steps = dist.steps(len(train.indices), spec.batch_size) if dist else None
        batch = dist.per_replica_batch(spec.batch_size) if dist else spec.batch_size
        return train.source.batches(train.weights, batch, augment, seed, phase, epoch, dist, steps, tail=train.tail)
    if hasattr(train.source, "set_epoch"):  # the interp augmentation draws each image's resize method
        train.source.set_epoch(seed, phase, epoch)
    order = train.indices[epoch_order(len(train.indices), seed, phase, epoch)]
    choice = None
    if use_features and len(train.features) > 1:
        choice = np.random.default_rng([seed, phase, epoch, 7]).random(len(order)) < 0.5
    batch, worker = spec.batch_size, 0
    if dist is not None:  # this worker's part of every global batch, served as per-replica batches
        keep = dist.worker_positions(len(order), spec.batch_size)
        order, choice = order[keep], (choice[keep] if choice is not None else None)
        batch, worker = dist.per_replica_batch(spec.batch_size), dist.worker_index
    y = train.labels[order]
    w = train.weights[y] if train.weights is not None else np.ones(len(order), np.float32)
    t = train.targets[order]
    if use_features:
        return feature_batches(train.features, order, y, w, t, batch, choice)
    s0 = (int(seed) * 16 + phase, epoch * 1_000_000 + worker * 10_000)
    return image_batches(train.source, order, y, w, t, batch, augment, s0)


def _val_batches(val: SplitArrays, spec: PhaseSpec, use_features: bool) -> Any:
    k = len(val.indices)
    # the targets carry the extra heads' labels (their validation losses); sentiment needs none
    t = val.targets[val.indices] if val.targets is not None else np.zeros((k, 1), np.float32)
    if use_features:
        return feature_batches(
            val.features[:1], val.indices, val.labels[val.indices], np.ones(k, np.float32), t, spec.batch_size
        )
    return image_batches(val.source, val.indices, val.labels[val.indices], np.ones(k, np.float32), t, spec.batch_size)


def _epoch_row(
    n: int, phase: int, mode: str, epoch: int, lr: float, scores: tuple[Any, Any, Any, Any], seconds: float, best: bool
) -> dict[str, Any]:
    """One row of history.csv (``scores``: loss, accuracy, val loss, val accuracy)."""
    loss, acc, val_loss, val_acc = scores
    return {
        "epoch": n,
        "phase": phase + 1,
        "mode": mode,
        "phase_epoch": epoch + 1,
        "lr": lr,
        "loss": loss,
        "accuracy": acc,
        "val_loss": val_loss,
        "val_accuracy": val_acc,
        "seconds": seconds,
        "best": best,
    }


def run_phase(
    *,
    runner: PhaseRunner,
    model: keras.Model,
    checkpointer: Checkpointer,
    state: TrainState,
    phase: int,
    n_phases: int,
    train: SplitArrays,
    val: Optional[SplitArrays],
    use_features: bool,
    augment: tuple[str, ...],
    seed: int,
    log: Callable[[str], None],
    on_epoch_end: Optional[Callable[[TrainState], None]] = None,
) -> TrainState:
    """Epochs ``state.epoch .. spec.epochs - 1`` of one phase; returns the updated state."""
    spec = runner.spec
    es = (
        EarlyStopping.from_dict(state.early_stopping)
        if state.early_stopping
        else EarlyStopping(
            spec.patience if spec.keep == "best" else spec.epochs + 1, "val_loss" if val is not None else "loss"
        )
    )
    history: list[dict[str, Any]] = list(state.history)
    start = int(state.epoch)
    if es.stopped:
        start = spec.epochs
    for epoch in range(start, spec.epochs):
        t0 = time.perf_counter()
        lr = learning_rate_at(spec, int(runner.optimizer.iterations.numpy()), runner.steps_per_epoch)
        desc = f"{spec.mode} {phase + 1}/{n_phases} epoch {epoch + 1}/{spec.epochs}"
        with live_progress() as progress:
            task = progress.add_task(desc, total=runner.steps_per_epoch)

            def on_step(loss: float, acc: float, b: int, _task: Any = task, _p: Any = progress, _d: str = desc) -> None:
                _p.update(_task, advance=1, description=f"{_d} loss {loss:.4f} acc {acc:.3f}")

            loss, acc, n_seen = runner.train_epoch(
                _train_batches(train, spec, use_features, augment, seed, phase, epoch, runner.dist), on_step
            )
        val_loss = val_acc = None
        heads_val: dict[str, float] = {}
        with averaged_weights(runner.optimizer, runner.net.trainable_variables):  # --ema: judge and keep the average
            if val is not None and len(val.indices):
                val_loss, val_acc, heads_val = runner.evaluate(_val_batches(val, spec, use_features))
            monitored = val_loss if val_loss is not None else loss
            improved = es.update(monitored, epoch)
            if improved:
                best_weights = checkpointer.save_best(model, phase)
            if spec.keep == "best-each":
                state = save_head_bests(state, heads_val, checkpointer, model, phase, epoch)
        seconds = time.perf_counter() - t0
        row = _epoch_row(
            len(history) + 1, phase, spec.mode, epoch, lr, (loss, acc, val_loss, val_acc), seconds, improved
        )
        history.append({**row, **{f"val_{name}": v for name, v in heads_val.items()}})
        vtxt = f", val_loss {val_loss:.4f}, val_acc {val_acc:.3f}" if val_loss is not None else ""
        log(
            f"{desc}: loss {loss:.4f}, acc {acc:.3f}{vtxt}, lr {lr:.2e}, {seconds:.1f} s ({n_seen} samples)"
            + (" *best*" if improved else "")
        )
        state = state.update(
            history=history, epoch=epoch + 1, early_stopping=es.to_dict(), train_seconds=state.train_seconds + seconds
        )
        if improved:
            state = state.update(best_weights=best_weights)
        state = checkpointer.save_epoch(model, runner.optimizer, state, phase, epoch + 1)
        raise_if_terminated()  # a SIGTERM whose exception something swallowed stops here, checkpointed
        if on_epoch_end is not None:
            on_epoch_end(state)
        if es.stopped:
            log(
                f"early stopping: {es.monitor} has not improved for {es.patience} epochs "
                f"(best {es.best:.4f} at phase epoch {es.best_epoch + 1})"
            )
            break
    end_phase(spec, state, es, checkpointer, model, phase, log)
    return state
