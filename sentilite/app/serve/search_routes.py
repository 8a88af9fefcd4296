"""The semantic head's routes of ``sentilite serve`` (issue 31): ``POST /api/embed``, photo search
(``GET /api/search?text=...``, ``POST /api/search`` with an image), ``GET /api/photo/{row}`` (the
indexed photos only) and the ``/search`` page."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional, Union

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ...core.errors import SentiliteError
from ...core.photo_index import PhotoIndex
from .inference import InferencePool

STATIC = Path(__file__).resolve().parent / "static"
Classify = Callable[[Request], Awaitable[Union[dict[str, Any], Response]]]


def _error(status: int, problem: str, fix: str = "") -> JSONResponse:
    return JSONResponse({"error": problem, "fix": fix}, status_code=status)


def search_routes(
    pool: InferencePool, index: Optional[PhotoIndex], classify: Classify, short_model: dict[str, Any]
) -> list[Route]:
    """The routes; each answers a JSON error with the fix when the model or the index is missing."""
    no_head = _error(404, "This model has no semantic head.", "serve a model trained with --heads semantic")
    no_index = _error(404, "No photo index is loaded.", "start the server with --index INDEX (sentilite index)")

    async def embed(request: Request) -> Response:
        if pool.semantic is None:
            return no_head
        result = await classify(request)
        if isinstance(result, Response):
            return result
        vector = result.pop("_embedding")
        return JSONResponse(
            {
                "head": pool.semantic,
                "dims": len(vector),
                "embedding": [round(float(v), 6) for v in vector],
                "tags": result.get("tags", []),
                "model": short_model,
            }
        )

    async def search(request: Request) -> Response:
        if pool.semantic is None:
            return no_head
        if index is None:
            return no_index
        try:
            k = max(1, min(int(request.query_params.get("k", "10")), 100))
        except ValueError:
            return _error(400, "k is not a number.", "e.g. ?k=10")
        if request.method == "GET":
            text = request.query_params.get("text", "").strip()
            if not text:
                return _error(400, "No query.", "GET /api/search?text=WORDS, or POST an image")
            try:
                vector = await asyncio.to_thread(_text_vector, pool, text)
            except SentiliteError as exc:
                return _error(400, exc.problem, exc.fix or "")
        else:
            result = await classify(request)
            if isinstance(result, Response):
                return result
            vector = result["_embedding"]
        hits = index.search(vector, k)
        return JSONResponse({"hits": [{"row": h.row, "path": Path(h.path).name, "score": h.score} for h in hits]})

    async def photo(request: Request) -> Response:
        if index is None:
            return no_index
        row = request.path_params["row"]
        if not 0 <= row < len(index.paths) or not Path(index.paths[row]).is_file():
            return _error(404, f"No photo at row {row} of the index.", "use a row /api/search returned")
        return FileResponse(index.paths[row])  # only files the index lists, never a path from the request

    async def page(_: Request) -> Response:
        return FileResponse(STATIC / "search.html", headers={"Cache-Control": "no-cache"})

    return [
        Route("/api/embed", embed, methods=["POST"]),
        Route("/api/search", search, methods=["GET", "POST"]),
        Route("/api/photo/{row:int}", photo),
        Route("/search", page),
    ]


def _text_vector(pool: InferencePool, text: str) -> Any:
    from ..tag import candidate_words

    return candidate_words(pool.vocabulary, [text]).vectors[0]
