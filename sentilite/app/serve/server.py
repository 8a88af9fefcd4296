"""The routes of ``sentilite serve`` and how each failure becomes an HTTP status.

| route | what |
|---|---|
| ``GET /`` | the upload page (drag-and-drop or file picker) |
| ``GET /camera`` | the live browser camera (getUserMedia; frames POSTed to the API) |
| ``POST /api/predict`` | raw image bytes, or a multipart field ``image`` -> label, probabilities, timing, model |
| ``GET /api/model`` | the model's card and preprocessing contract |
| ``GET /healthz`` | liveness and queue figures |

Errors are JSON ``{"error": problem, "fix": fix}``: 413 too large, 415 not an image, 400 corrupt
image or bad form, 503 queue full (with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .inference import Busy, CorruptImage, InferencePool, NotAnImage

STATIC = Path(__file__).with_name("static")
DEFAULT_MAX_BYTES = 10 * 2**20


class TooLarge(Exception):
    pass


def _error(status: int, problem: str, fix: str = "", headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": problem, "fix": fix}, status_code=status, headers=headers)


async def _read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refusing (413) as soon as it passes ``max_bytes``: never buffered whole."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(int(declared))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(size)
        chunks.append(chunk)
    return b"".join(chunks)


async def _image_bytes(request: Request, max_bytes: int) -> bytes:
    """Raw bytes, or the multipart field ``image`` (whose parser is also size-bounded)."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=8, max_part_size=max_bytes) as form:
            upload = form.get("image")
            if upload is None or isinstance(upload, str):
                raise ValueError("the multipart form has no file field named 'image'")
            data = await upload.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise TooLarge(len(data))
            return data
    return await _read_body(request, max_bytes)


def create_app(pool: InferencePool, model_info: dict[str, Any], max_bytes: int = DEFAULT_MAX_BYTES) -> Starlette:
    """The ASGI app serving ``pool``'s model."""
    short_model = {k: model_info[k] for k in ("name", "sha256", "variant", "runtime")}
    started = time.time()

    async def predict(request: Request) -> Response:
        try:
            pool.admit()
        except Busy as exc:
            return _error(503, exc.problem, exc.fix or "", {"Retry-After": "1"})
        try:
            data = await _image_bytes(request, max_bytes)
            if not data:
                return _error(400, "The request has no body.", "POST the image bytes, or a multipart field 'image'")
            result = await asyncio.wrap_future(pool.submit(data))
        except TooLarge as exc:
            return _error(413, f"The upload is {exc.args[0]} bytes; this server takes at most {max_bytes}.",
                          "send a smaller image (the model looks at 224x224 pixels anyway), or start the server with --max-mb")
        except NotAnImage as exc:
            return _error(415, exc.problem, exc.fix or "")
        except CorruptImage as exc:
            return _error(400, exc.problem, exc.fix or "")
        except (ValueError, KeyError) as exc:  # a malformed multipart body
            return _error(400, f"Cannot read the form: {exc}.", "send the raw bytes, or a multipart field named 'image'")
        finally:
            pool.release()
        return JSONResponse({**result, "model": short_model})

    async def model(_: Request) -> Response:
        return JSONResponse(model_info)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok", "model": model_info["name"], "threads": pool.threads, "queue": pool.capacity,
                             "in_flight": pool.in_flight, "handled": pool.handled, "refused": pool.refused,
                             "uptime_s": round(time.time() - started, 1)})

    async def page(request: Request) -> Response:
        name = "camera.html" if request.url.path.rstrip("/") == "/camera" else "index.html"
        return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

    routes = [
        Route("/", page),
        Route("/camera", page),
        Route("/api/predict", predict, methods=["POST"]),
        Route("/api/model", model),
        Route("/healthz", healthz),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes)
