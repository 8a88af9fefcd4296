"""CPU load and memory of the current process, sampled in a background thread (psutil).

These are the replication studies' "CPU load" and "memory" columns: mean and peak CPU %
(100 % = one core busy) and peak resident memory over a piece of work.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Optional

import psutil

from .probe import peak_rss_mb


def rss_mb(pid: Optional[int] = None) -> float:
    """Current resident memory of a process in MiB."""
    return psutil.Process(pid).memory_info().rss / 2**20


class ResourceMonitor:
    """Samples CPU % and RSS every ``interval`` seconds between ``start()`` and ``stop()``."""

    def __init__(self, interval: float = 0.5, pid: Optional[int] = None) -> None:
        self.interval = interval
        self.process = psutil.Process(pid)
        self._cpu: list[float] = []
        self._rss: list[float] = []
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._t0 = self._t1 = 0.0
        self._cpu_times0: Any = None

    def __enter__(self) -> ResourceMonitor:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._cpu_times0 = self.process.cpu_times()
        self.process.cpu_percent(None)  # prime: the first call always returns 0
        self._rss.append(self.process.memory_info().rss / 2**20)
        self._thread = threading.Thread(target=self._run, name="resource-monitor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._cpu.append(self.process.cpu_percent(None))
                self._rss.append(self.process.memory_info().rss / 2**20)
            except psutil.Error:
                return

    def stop(self) -> None:
        self._t1 = time.perf_counter()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._rss.append(self.process.memory_info().rss / 2**20)

    @property
    def sampled_peak_mb(self) -> float:
        """The largest RSS sampled between start and stop (this piece of work's own peak, where
        the process's VmHWM is the peak of its whole life)."""
        return max(self._rss) if self._rss else 0.0

    def summary(self) -> dict[str, Any]:
        wall = (self._t1 or time.perf_counter()) - self._t0
        t0, t1 = self._cpu_times0, self.process.cpu_times()
        cpu_seconds = (t1.user - t0.user) + (t1.system - t0.system) if t0 is not None else 0.0
        peak_rss = max(self._rss) if self._rss else 0.0
        if self.process.pid == psutil.Process().pid:
            peak_rss = max(peak_rss, peak_rss_mb())
        return {
            "wall_seconds": wall,
            "cpu_seconds": cpu_seconds,
            # The mean from CPU time is exact; sampling is only needed for the peak.
            "cpu_percent_mean": 100.0 * cpu_seconds / wall if wall > 0 else 0.0,
            "cpu_percent_peak": max(self._cpu) if self._cpu else 0.0,
            "cpu_cores": psutil.cpu_count(logical=True),
            "rss_start_mb": self._rss[0] if self._rss else 0.0,
            "rss_peak_mb": peak_rss,
        }
