"""The steps of a conversion, each with its time and its own peak memory: report.json's ``steps``
and report.md's "Where the time went" (issue 32: a default convert must say what it spends)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator, Optional, TypedDict

from sentilite.core.resources import ResourceMonitor


class StepRow(TypedDict):
    """One step: what it did, how long it took, the most memory the process held during it."""

    step: str
    seconds: float
    peak_rss_mb: float


def clock(seconds: float) -> str:
    """``seconds`` as m:ss (progress lines)."""
    s = max(0, int(round(seconds)))
    return f"{s // 60}:{s % 60:02d}"


class StepLog:
    """Collects :class:`StepRow` s as the conversion runs; ``say`` hears each one as it starts
    (with the run's elapsed time and what is left of ``budget_s``, the whole run's target: 0 or
    None, no target) and as it ends."""

    def __init__(self, say: Optional[Callable[[str], None]] = None, budget_s: Optional[float] = None) -> None:
        self.rows: list[StepRow] = []
        self.say = say or (lambda _m: None)
        self.budget_s = budget_s or None
        self.t0 = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.perf_counter() - self.t0

    def progress(self, name: str) -> str:
        """``name`` with the run's clock: where it stands and, with a budget, how long it has left."""
        now = self.elapsed()
        line = f"[{clock(now)}"
        if self.budget_s is not None:
            over = now - self.budget_s
            line += (
                f", {clock(-over)} left of the {clock(self.budget_s)} budget"
                if over < 0
                else f", {clock(over)} over the {clock(self.budget_s)} budget: no repair will start"
            )
        return f"{line}] {name}"

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.say(self.progress(name))
        mon = ResourceMonitor(interval=0.2)
        mon.start()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            mon.stop()
            row: StepRow = {
                "step": name,
                "seconds": round(time.perf_counter() - t0, 2),
                "peak_rss_mb": round(mon.sampled_peak_mb, 1),
            }
            self.rows.append(row)
            self.say(f"{name}: {row['seconds']:.1f} s, peak RSS {row['peak_rss_mb']:.0f} MB")

    def seconds(self, name: str) -> Optional[float]:
        return next((r["seconds"] for r in self.rows if r["step"] == name), None)


def steps_markdown(rows: list[StepRow]) -> list[str]:
    """report.md's section: each step's time, its share of the whole and its peak memory."""
    if not rows:
        return []
    total = sum(r["seconds"] for r in rows) or 1.0
    lines = ["## Where the time went", "", "| step | seconds | share | peak RSS (MB) |", "|---|---|---|---|"]
    lines += [
        f"| {r['step']} | {r['seconds']:.1f} | {100 * r['seconds'] / total:.0f} % | {r['peak_rss_mb']:.0f} |"
        for r in rows
    ]
    return [*lines, ""]
