"""The repairs' time budget: candidates tried in order of expected gain per second, none started
that would not finish inside what ``--time-budget`` leaves them (capped by ``--repair-budget``).

The priors are what each repair bought on an FT-F MobileNetV2 (bench/int8_repair, convert/README:
the repair table): the share of int8's mean |Δp| against Keras it took away, and its cost in
units of one int8 conversion plus its validation, measured in the same run. The estimates learn
as the repairs run: after each one, the remaining estimates are scaled by how far the measured
times were from the estimated ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import median
from typing import Optional

#: name prefix -> (share of int8's mean |Δp| it removed, cost in int8 conversions + validations).
#: int16x8 removed the most (61 %) but XNNPACK has no kernels for it: 40x slower than float32,
#: so the keep rule refuses it on a CPU; its expected gain for the kept file is ~0.
PRIORS: dict[str, tuple[float, float]] = {
    "int8-eq": (0.56, 3.0),
    "int8-mixed6": (0.29, 2.0),
    "int8-mixed3": (0.14, 2.0),
    "int8-calib": (0.05, 1.0),  # x (all calibration images / --calib-size)
    "int8-qat": (0.14, 20.0),
    "int16x8": (0.01, 10.0),
}
IO_PRIOR = (0.0, 1.0)  # the other integer I/O type: the same arithmetic


def prior(name: str, calib_ratio: float = 1.0) -> tuple[float, float]:
    """(expected gain, cost in units) of the candidate called ``name``."""
    for prefix, (gain, cost) in PRIORS.items():
        if name.startswith(prefix):
            return gain, cost * (calib_ratio if prefix == "int8-calib" else 1.0)
    return IO_PRIOR


@dataclass
class RepairBudget:
    """Seconds to spend on repairs (None: no limit) and what was spent; ``unit_s`` is one int8
    conversion plus its validation, measured in this run; ``limit`` says where the budget came
    from (the flags), for the rows that were skipped."""

    budget_s: Optional[float]
    unit_s: float
    spent_s: float = 0.0
    ratios: list[float] = field(default_factory=list)  # measured / estimated, per finished repair
    limit: str = "--repair-budget"

    def estimate(self, name: str, calib_ratio: float = 1.0) -> float:
        scale = median(self.ratios) if self.ratios else 1.0
        return prior(name, calib_ratio)[1] * self.unit_s * scale

    def order(self, names: list[str], calib_ratio: float = 1.0) -> list[int]:
        """Indices of ``names`` by expected gain per second, best first (ties: cheapest first)."""

        def key(i: int) -> tuple[float, float]:
            gain, cost = prior(names[i], calib_ratio)
            return (-gain / cost, cost)

        return sorted(range(len(names)), key=key)

    def left(self) -> Optional[float]:
        return None if self.budget_s is None else max(0.0, self.budget_s - self.spent_s)

    def refuses(self, estimate_s: float) -> Optional[str]:
        """Why a repair estimated at ``estimate_s`` is not started, or None when it fits."""
        left = self.left()
        if left is None or estimate_s <= left:
            return None
        return f"skipped: about {estimate_s:.0f} s needed, {left:.0f} s of the repair budget left ({self.limit})"

    def record(self, estimate_s: float, measured_s: float) -> None:
        self.spent_s += measured_s
        if estimate_s > 0:
            self.ratios.append(measured_s / estimate_s)


def repair_budget(time_budget_s: float, repair_budget_s: float, elapsed_s: float, unit_s: float) -> RepairBudget:
    """The repairs' budget when they start ``elapsed_s`` into the run: what is left of the whole
    run's ``time_budget_s``, capped by ``repair_budget_s`` (either 0: that limit is off); ``unit_s``
    is one int8 conversion and its validation, as measured in this run."""
    limits: list[tuple[float, str]] = []
    if time_budget_s > 0:
        left = max(0.0, time_budget_s - elapsed_s)
        limits.append((left, f"--time-budget {time_budget_s:.0f} s, {elapsed_s:.0f} s of it spent before the repairs"))
    if repair_budget_s > 0:
        limits.append((repair_budget_s, f"--repair-budget {repair_budget_s:.0f} s"))
    if not limits:
        return RepairBudget(None, unit_s, limit="no limit")
    seconds, why = min(limits)
    return RepairBudget(round(seconds, 1), unit_s, limit=f"{why}; 0 = no limit")
