"""SIGTERM handled like Ctrl-C, so that a kill ends at a clean point in every command.

The default action of SIGTERM ends the process at once: no ``finally`` runs, so a conversion
leaves its staging folder, a benchmark its runner processes and temporary folder. Inside
:func:`sigterm_as_interrupt` SIGTERM raises ``KeyboardInterrupt`` instead, and every clean-up
written for Ctrl-C runs.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator

#: set by the SIGTERM handler; the training loop reads it after every checkpoint
_TERMINATED = threading.Event()
#: how many sigterm_as_interrupt blocks the main thread is in
_DEPTH: list[int] = []


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt (main thread only) so a kill ends at a clean point.

    The handler raises wherever the main thread happens to be, and library code can swallow
    that exception (a finaliser, a ``finally: return``): in one of six runs of the kill test, a
    training that got SIGTERM after epoch 2 finished all its epochs with exit code 0. So it also sets a flag, and
    :func:`raise_if_terminated`, called after each epoch's checkpoint, raises again."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        _TERMINATED.set()
        raise KeyboardInterrupt

    outermost = not _DEPTH
    if outermost:  # a nested block (train's inside the CLI's) keeps what the outer one saw
        _TERMINATED.clear()
    _DEPTH.append(1)
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        _DEPTH.pop()
        if outermost:
            _TERMINATED.clear()


def raise_if_terminated() -> None:
    """Raise KeyboardInterrupt when SIGTERM arrived inside :func:`sigterm_as_interrupt` and its
    exception was lost on the way."""
    if _TERMINATED.is_set():
        raise KeyboardInterrupt


def terminated() -> bool:
    """Whether SIGTERM arrived inside the current :func:`sigterm_as_interrupt` block."""
    return _TERMINATED.is_set()
