"""uvicorn's HTTP protocol, answering a request it cannot parse in the API's JSON shape.

uvicorn answers malformed HTTP (a garbled request line, bad headers) itself, before any route,
with a text/plain ``400 Invalid HTTP request received.``; every other error of ``sentilite serve``
is ``{"error", "fix"}``. This subclass makes that one JSON too.
"""

from __future__ import annotations

import json
from typing import Any

BAD_REQUEST = json.dumps(
    {
        "error": "The request is not valid HTTP.",
        "fix": "send an HTTP/1.1 request, e.g. curl --data-binary @photo.jpg URL",
    }
).encode()


def json_400_protocol() -> Any:
    """The protocol class for ``uvicorn.Config(http=...)``: httptools' when installed, else h11's."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
    except ImportError:  # httptools missing: uvicorn's pure-Python h11 protocol
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base

    class Json400Protocol(Base):  # type: ignore[misc, valid-type]
        def send_400_response(self, msg: str) -> None:
            head = (
                b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
                b"content-length: " + str(len(BAD_REQUEST)).encode() + b"\r\nconnection: close\r\n\r\n"
            )
            self.transport.write(head + BAD_REQUEST)
            self.transport.close()

    return Json400Protocol
