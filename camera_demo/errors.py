"""The demo's user-facing errors (printed as one line by the ``sentilite`` CLI)."""

from __future__ import annotations

from sentilite.core.errors import SentiliteError


class SourceError(SentiliteError):
    """A camera, video, stream, folder or Pi camera that cannot be opened or read."""


class DisplayError(SentiliteError):
    """A window was asked for but cannot be opened (no display, or OpenCV built headless)."""


class OutputError(SentiliteError):
    """A recording or log file cannot be written."""
