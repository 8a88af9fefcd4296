"""Progress bars (rich) for long work; silent when SENTILITE_NO_PROGRESS is set."""

from __future__ import annotations

import os
import sys
from typing import Iterable, Iterator, Optional, TypeVar

T = TypeVar("T")


def progress_enabled() -> bool:
    return not os.environ.get("SENTILITE_NO_PROGRESS")


def make_progress(transient: bool = False):
    """A rich ``Progress`` with bar, count, rate and ETA, printing to stderr."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
        transient=transient,
        disable=not progress_enabled(),
    )


def track(iterable: Iterable[T], description: str, total: Optional[int] = None, transient: bool = False) -> Iterator[T]:
    """Iterate with a progress bar."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with make_progress(transient) as progress:
        task = progress.add_task(description, total=total)
        for item in iterable:
            yield item
            progress.advance(task)
