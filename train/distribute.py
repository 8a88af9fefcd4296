"""Training on several devices or machines, on TensorFlow's own engine (``tf.distribute``).

- ``mirrored``: one machine, every local GPU (or, for tests, several logical CPUs):
  ``MirroredStrategy``;
- ``multi-worker``: several machines (processes), ``MultiWorkerMirroredStrategy``, configured by
  ``TF_CONFIG`` or by ``--worker-hosts`` + ``--worker-index``.

``--batch-size`` stays the *global* batch: each of the R replicas gets B / R images of every
step and the gradients are summed across replicas from losses divided by B, so one step is
the same update as on one device, and the recipe's learning rate stays valid (the log says so).
Each worker reads only its own part of every global batch (its shard of the split); the
remainder that would not split evenly is left out of that epoch (the order changes every epoch).

Checkpoints follow Keras' ``BackupAndRestore`` protocol: the chief (worker 0) writes them into
the run folder at each epoch end, the other workers write nothing, and on a restart every worker
restores the chief's last checkpoint, so a job whose worker was killed continues from there.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Optional, Sequence

import numpy as np

from .config import PeerWorkerLost, TrainConfigError


@dataclass
class Distribution:
    """The strategy of one training process, and where this process sits in it."""

    kind: str
    strategy: Any
    replicas: int  # in sync, over all workers
    workers: int
    worker_index: int

    @property
    def is_chief(self) -> bool:
        return self.worker_index == 0

    @property
    def local_replicas(self) -> int:
        return self.replicas // self.workers

    def describe(self, global_batch: int) -> str:
        per = global_batch // self.replicas
        where = (
            f"{self.workers} worker(s) x {self.local_replicas} device(s)"
            if self.workers > 1
            else f"{self.replicas} device(s)"
        )
        return (
            f"{self.kind} strategy over {where}: global batch {per * self.replicas} = {per} per replica x "
            f"{self.replicas} "
            "replicas; the learning rate is the one-device recipe's (the global batch is unchanged, so no scaling)"
        )

    def steps(self, n: int, global_batch: int) -> int:
        """Steps per epoch: whole global batches only (every replica must take part in every step)."""
        return n // self.usable_batch(global_batch)

    def usable_batch(self, global_batch: int) -> int:
        return max(self.replicas, global_batch - global_batch % self.replicas)

    def worker_positions(self, n: int, global_batch: int) -> np.ndarray:
        """Positions (into an epoch's order) this worker serves, step by step, as per-replica batches."""
        b = self.usable_batch(global_batch)
        share = b // self.workers
        steps = n // b
        starts = np.arange(steps) * b + self.worker_index * share
        return (starts[:, None] + np.arange(share)[None, :]).reshape(-1)

    def per_replica_batch(self, global_batch: int) -> int:
        return self.usable_batch(global_batch) // self.replicas

    def distribute(self, dataset: Any) -> Any:
        """Feed a worker's dataset of per-replica batches to its local replicas, in order."""
        return self.strategy.distribute_datasets_from_function(lambda ctx: dataset)


def tf_config_from_flags(hosts: Sequence[str], index: int) -> dict[str, Any]:
    """The ``TF_CONFIG`` for ``--worker-hosts a:p,b:p --worker-index i``."""
    if not 0 <= index < len(hosts):
        raise TrainConfigError(
            f"--worker-index {index} is outside the {len(hosts)} --worker-hosts.",
            "give each worker its position in the list, from 0",
        )
    return {"cluster": {"worker": list(hosts)}, "task": {"type": "worker", "index": int(index)}}


def _mirrored_devices(tf: ModuleType) -> Optional[list[str]]:
    """Every GPU; without one, ``SENTILITE_LOGICAL_CPUS=N`` logical CPUs (how the tests mirror on a CPU)."""
    if tf.config.list_physical_devices("GPU"):
        return None
    n = int(os.environ.get("SENTILITE_LOGICAL_CPUS", "1") or 1)
    if n > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def make_distribution(
    tf: ModuleType, kind: str, hosts: Sequence[str] = (), index: Optional[int] = None, timeout_s: Optional[float] = None
) -> Optional[Distribution]:
    """The strategy for ``kind`` (None for one device). Must run before any other TensorFlow op."""
    if kind == "none":
        return None
    if kind == "mirrored":
        strategy = tf.distribute.MirroredStrategy(devices=_mirrored_devices(tf))
        return Distribution(kind, strategy, strategy.num_replicas_in_sync, 1, 0)
    if hosts:
        os.environ["TF_CONFIG"] = json.dumps(tf_config_from_flags(hosts, int(index or 0)))
    cfg = json.loads(os.environ.get("TF_CONFIG") or "{}")
    workers = len(cfg.get("cluster", {}).get("worker", []))
    if workers < 1:
        raise TrainConfigError(
            "--strategy multi-worker needs a cluster.",
            "set TF_CONFIG, or pass --worker-hosts host:port,host:port --worker-index N",
        )
    # A dead peer must end the survivors' collectives with an error instead of a hang.
    timeout = timeout_s or float(os.environ.get("SENTILITE_COLLECTIVE_TIMEOUT", "120"))
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    task = cfg.get("task", {})
    return Distribution(kind, strategy, strategy.num_replicas_in_sync, workers, int(task.get("index", 0)))


def lost_worker_error(exc: BaseException, config: Any, run_dir: Any) -> BaseException:
    """A collective that failed because a peer died, as a one-line error that says how to go on;
    any other exception is returned as it is."""
    lost = type(exc).__name__ in ("UnavailableError", "DeadlineExceededError", "CancelledError", "AbortedError")
    if config.strategy != "multi-worker" or not lost:
        return exc
    first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    return PeerWorkerLost(
        f"A peer worker stopped answering ({type(exc).__name__}: {first}); the last finished epoch is checkpointed "
        f"in {run_dir}.",
        f"restart every worker with `sentilite train --resume {run_dir} --worker-index N` (TF_CONFIG or its own N)",
    )
