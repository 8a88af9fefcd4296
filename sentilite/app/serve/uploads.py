"""Reading an upload from a client that may be slow, oversized, malformed or gone.

Every byte is counted as it arrives: a body (raw, or a multipart form) over the limit is refused
while it streams, never received whole first, and a body that trickles in slower than the
deadline allows is cut off. A multipart form is parsed only from the bytes already held, so its
file part is never spooled to disk past the limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from starlette.requests import ClientDisconnect, Request

#: room for the multipart boundaries and part headers around the image itself
FORM_SLACK = 16 * 1024


class TooLarge(Exception):
    """The body passed the limit (``args[0]``: bytes seen or declared)."""


class TooSlow(Exception):
    """The body did not arrive within the deadline (``args[0]``: bytes seen, ``args[1]``: seconds)."""


class BadForm(ValueError):
    """A multipart body that cannot be parsed, or that lacks the ``image`` field."""


async def read_body(request: Request, max_bytes: int, timeout_s: float) -> bytes:
    """The request body, refused (:class:`TooLarge`) as soon as it passes ``max_bytes`` and
    (:class:`TooSlow`) when it is not in after ``timeout_s``. Raises starlette's
    ``ClientDisconnect`` when the client goes away mid-body."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(int(declared))
    deadline = time.monotonic() + timeout_s
    stream = request.stream().__aiter__()
    parts, size = [], 0
    while True:
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), timeout=max(deadline - time.monotonic(), 0.001))
        except StopAsyncIteration:
            return b"".join(parts)
        except asyncio.TimeoutError:
            raise TooSlow(size) from None
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(size)
        parts.append(chunk)


async def image_bytes(request: Request, max_bytes: int, timeout_s: float) -> bytes:
    """Raw bytes, or the multipart field ``image``; both bounded in size and time."""
    is_form = request.headers.get("content-type", "").startswith("multipart/form-data")
    body = await read_body(request, max_bytes + (FORM_SLACK if is_form else 0), timeout_s)
    if not is_form:
        return body
    return await _form_image(request, body, max_bytes)


async def _form_image(request: Request, body: bytes, max_bytes: int) -> bytes:
    from starlette.exceptions import HTTPException

    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.request", "body": b"", "more_body": False}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    held = Request(request.scope, receive=replay)
    try:
        async with held.form(max_files=1, max_fields=8, max_part_size=max_bytes) as form:
            upload = form.get("image")
            if upload is None or isinstance(upload, str):
                raise BadForm("the multipart form has no file field named 'image'")
            data = await upload.read(max_bytes + 1)
    except HTTPException as exc:  # starlette's word for a multipart body it cannot parse
        raise BadForm(f"the multipart body is malformed ({exc.detail})") from None
    if len(data) > max_bytes:
        raise TooLarge(len(data))
    return data


class RateLimitedLog:
    """One log line per event kind and interval; what it held back is counted in the next line.

    A client that disconnects mid-upload, or sends garbage, costs the log one short line at most
    every ``interval_s`` seconds, whatever the rate of such clients."""

    def __init__(self, logger: logging.Logger, interval_s: float = 10.0) -> None:
        self.logger, self.interval_s = logger, interval_s
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def event(self, kind: str, message: str) -> bool:
        """Log ``message`` unless a line of this ``kind`` went out within the interval; True when logged."""
        now = time.monotonic()
        if now - self._last.get(kind, -1e18) < self.interval_s:
            self._held[kind] = self._held.get(kind, 0) + 1
            return False
        held = self._held.pop(kind, 0)
        self._last[kind] = now
        self.logger.warning("%s%s", message, f" ({held} more like it not logged)" if held else "")
        return True


__all__ = ["ClientDisconnect", "BadForm", "RateLimitedLog", "TooLarge", "TooSlow", "image_bytes", "read_body"]
