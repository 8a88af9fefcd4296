"""Where a training run stands: the record ``checkpoint/state.json`` holds, shared by the loop,
the checkpointer and the orchestrator (one typed object instead of a dict of string keys)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Optional


@dataclass(frozen=True)
class TrainState:
    """What has been done; every file it names is complete on disk when the state is written."""

    phase: int = 0  # index of the phase in progress (== number of finished phases)
    epoch: int = 0  # finished epochs of that phase
    history: tuple[dict[str, Any], ...] = ()  # one row per finished epoch, all phases
    early_stopping: Optional[dict[str, Any]] = None  # EarlyStopping.to_dict() of the phase in progress
    best_weights: Optional[str] = None  # file name in checkpoint/ of the phase's best epoch
    weights: Optional[str] = None  # file name of the last saved weights
    optimizer: Optional[str] = None  # file name of the optimizer state (None between phases)
    train_seconds: float = 0.0  # seconds spent in epochs, all sessions
    wall_seconds: float = 0.0  # wall time of the finished sessions
    sessions: int = 0  # how many times the run was started (1 + resumes)
    phases: tuple[dict[str, Any], ...] = ()  # one summary per finished phase
    #: --keep best-each: each extra head's best validation loss in the phase, its epoch and weights file
    head_best: dict[str, dict[str, Any]] = field(default_factory=dict)
    finished: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["history"], d["phases"] = list(self.history), list(self.phases)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainState:
        names = {f.name for f in fields(cls)}
        known = {k: v for k, v in data.items() if k in names}
        for key in ("history", "phases"):
            known[key] = tuple(known.get(key) or ())
        return cls(**known)

    def update(self, **changes: Any) -> TrainState:
        if "history" in changes:
            changes["history"] = tuple(changes["history"])
        if "phases" in changes:
            changes["phases"] = tuple(changes["phases"])
        return replace(self, **changes)

    def next_phase(self, phase_info: dict[str, Any]) -> TrainState:
        """The state after phase ``self.phase`` finished with ``phase_info``."""
        return self.update(
            phases=[*self.phases[: self.phase], phase_info],
            phase=self.phase + 1,
            epoch=0,
            early_stopping=None,
            best_weights=None,
            head_best={},
        )
