"""The routes of ``sentilite serve`` and how each failure becomes an HTTP status.

| route | what |
|---|---|
| ``GET /`` | the upload page (drag-and-drop or file picker) |
| ``GET /camera`` | the live browser camera (getUserMedia; frames POSTed to the API) |
| ``POST /api/predict`` | raw image bytes, or a multipart field ``image`` -> label, probabilities, timing, model |
| ``GET /api/model`` | the model's card and preprocessing contract |
| ``GET /healthz`` | liveness and queue figures |

Errors are JSON ``{"error": problem, "fix": fix}``, every one of them: 413 too large (refused while
the body streams, forms included), 408 a body slower than ``--body-timeout``, 415 not an image,
400 corrupt image, malformed form or too many pixels, 404/405 for unknown routes and methods, 503
queue full (with ``Retry-After``). A queue slot is taken only once the whole body is in, so slow
clients cannot starve the others; a client that goes away mid-upload costs the log one line at
most every 10 s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ...core.photo_index import PhotoIndex
from .inference import Busy, CorruptImage, InferencePool, NotAnImage
from .search_routes import search_routes
from .uploads import BadForm, ClientDisconnect, RateLimitedLog, TooLarge, TooSlow, image_bytes

STATIC = Path(__file__).with_name("static")
DEFAULT_MAX_BYTES = 10 * 2**20
DEFAULT_BODY_TIMEOUT_S = 30.0
LOG = logging.getLogger("sentilite.serve")

#: what to do about each status starlette raises itself (unknown route, wrong method, ...)
_FIXES = {
    404: "the routes are GET /, GET /camera, POST /api/predict, GET /api/model and GET /healthz",
    405: "POST the image to /api/predict; the other routes take GET",
}


def _error(status: int, problem: str, fix: str = "", headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": problem, "fix": fix}, status_code=status, headers=headers)


async def _http_error(_: Request, exc: Exception) -> Response:
    """Starlette's own errors (404, 405, ...) in the API's JSON shape instead of text/plain."""
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return _error(exc.status_code, f"{exc.detail}.", _FIXES.get(exc.status_code, ""), dict(exc.headers or {}))


async def _server_error(_: Request, exc: Exception) -> Response:
    LOG.error("internal error: %s: %s", type(exc).__name__, exc)
    return _error(500, "The server failed on this request.", "retry; if it persists, report it with the server's log")


def _upload_classifier(
    pool: InferencePool, max_bytes: int, body_timeout_s: float, noisy: RateLimitedLog
) -> Callable[[Request], Awaitable[dict[str, Any] | Response]]:
    """The handler step every image route shares: read the upload within its budgets, take a queue
    slot, run the model; the model's answer, or the JSON error response."""

    async def classify(request: Request) -> dict[str, Any] | Response:
        """Read the upload and run the model on it: its answer, or the error response."""
        try:
            data = await image_bytes(request, max_bytes, body_timeout_s)
        except TooLarge as exc:
            return _error(
                413,
                f"The upload is {exc.args[0]} bytes; this server takes at most {max_bytes}.",
                "send a smaller image (the model looks at 224x224 pixels anyway), or start the server with --max-mb",
            )
        except TooSlow as exc:
            noisy.event("slow", f"an upload was cut off after {body_timeout_s:g} s with {exc.args[0]} bytes received")
            return _error(
                408,
                f"The upload did not arrive within {body_timeout_s:g} s.",
                "send the whole image at once, or start the server with a longer --body-timeout",
            )
        except BadForm as exc:
            return _error(
                400, f"Cannot read the form: {exc}.", "send the raw bytes, or a multipart field named 'image'"
            )
        except ClientDisconnect:
            noisy.event("disconnect", "a client disconnected mid-upload")
            return Response(status_code=400)  # nobody is left to read it
        if not data:
            return _error(400, "The request has no body.", "POST the image bytes, or a multipart field 'image'")
        try:
            pool.admit()  # only now: a slot is never held while a body trickles in
        except Busy as exc:
            return _error(503, exc.problem, exc.fix or "", {"Retry-After": "1"})
        try:
            result = await asyncio.wrap_future(pool.submit(data))
        except NotAnImage as exc:
            return _error(415, exc.problem, exc.fix or "")
        except CorruptImage as exc:
            return _error(400, exc.problem, exc.fix or "")
        finally:
            pool.release()
        return result

    return classify


def create_app(
    pool: InferencePool,
    model_info: dict[str, Any],
    max_bytes: int = DEFAULT_MAX_BYTES,
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
    index: Optional[PhotoIndex] = None,
) -> Starlette:
    """The ASGI app serving ``pool``'s model: uploads up to ``max_bytes``, each in within
    ``body_timeout_s``; with a semantic head, /api/embed, and with ``index``, photo search."""
    noisy = RateLimitedLog(LOG)
    short_model = {k: model_info[k] for k in ("name", "sha256", "variant", "runtime")}
    started = time.time()

    classify = _upload_classifier(pool, max_bytes, body_timeout_s, noisy)

    async def predict(request: Request) -> Response:
        result = await classify(request)
        if isinstance(result, Response):
            return result
        result.pop("_embedding", None)
        return JSONResponse({**result, "model": short_model})

    async def model(_: Request) -> Response:
        return JSONResponse(model_info)

    async def healthz(_: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "model": model_info["name"],
                "threads": pool.threads,
                "queue": pool.capacity,
                "in_flight": pool.in_flight,
                "handled": pool.handled,
                "refused": pool.refused,
                "uptime_s": round(time.time() - started, 1),
            }
        )

    async def page(request: Request) -> Response:
        name = "camera.html" if request.url.path.rstrip("/") == "/camera" else "index.html"
        return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

    routes = [
        Route("/", page),
        Route("/camera", page),
        Route("/api/predict", predict, methods=["POST"]),
        Route("/api/model", model),
        Route("/healthz", healthz),
        *search_routes(pool, index, classify, short_model),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error, Exception: _server_error})
