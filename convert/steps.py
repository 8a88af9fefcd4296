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


class StepLog:
    """Collects :class:`StepRow` s as the conversion runs; ``say`` hears each one as it ends."""

    def __init__(self, say: Optional[Callable[[str], None]] = None) -> None:
        self.rows: list[StepRow] = []
        self.say = say or (lambda _m: None)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
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
