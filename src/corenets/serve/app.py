"""The FastAPI app (imported only when serving, so FastAPI stays an optional extra): GET / (one offline page), POST /predict, GET /health, GET /info; docs at /docs.

Every refusal is a JSON body {"error": "..."} with a 4xx status; an unexpected failure is a
500 with the same shape, and the server keeps serving either way. The body size is
counted as it arrives (not trusted from Content-Length alone), so a chunked upload
cannot get past the limit either.
"""

from __future__ import annotations

import gc
import json
import os
from importlib import import_module
from pathlib import Path
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse

from . import schema
from .batcher import ImageBatcher
from .model import InputError, ServedModel
from .multipart import read_files

STATIC = Path(__file__).resolve().parent / "static"
ENV = "CORENETS_SERVE"  # the settings each worker process of `corenets serve --workers N` reads (JSON)


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: refuse request bodies over `limit` bytes with 413, by header and by counting."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await self._refuse(send, int(length))
        seen, started = 0, False

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        async def tracked(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await self._refuse(send, seen)

    async def _refuse(self, send, size: int) -> None:
        mb = self.limit / 2**20
        body = json.dumps({"error": f"the upload is {size / 2**20:.1f} MB or more, over the server's limit of {mb:g} MB; "
                                    "send a smaller file (or start the server with a larger --max-upload-mb)"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


# Modules that add routes: each has `routes(app, served)`, called by create_app after the core routes (a route of
# its own, such as POST /explain, without touching this file's routes). Append a module's name to add it.
EXTENSIONS: list[str] = ["corenets.serve.explain"]


def create_app(run_dir: str | Path, max_upload_mb: float = 10, top_k: int = 5, **limits: Any):
    """A FastAPI app serving one run folder.

    Args:
        run_dir: a folder made by `corenets run`; its model is loaded (and the folder checked) once, here.
        max_upload_mb: request bodies larger than this are refused with 413.
        top_k: classes returned per input.
        **limits: per-request limits, refused with 413 before decoding: max_pixels (per image), max_request_pixels,
            max_texts, max_text_chars, max_rows, max_prices (corenets.data.bundle.Limits; docs/guides/serving.md).
    Returns:
        The app; run it with uvicorn, or test it with fastapi.testclient.TestClient.
    """
    served = ServedModel(run_dir, top_k=top_k, **limits)
    app = FastAPI(title=f"corenets: {served.card['run']}", version=str(served.card.get("corenets_version")),
                  description=f"{served.card['model']} on {served.card['dataset']}. {served.hint()}.")
    app.state.served = served
    # images from concurrent requests share one forward pass; other kinds (padding, CSVs) go alone
    batcher = app.state.batcher = ImageBatcher(served) if served.pre.batch_uploads else None
    app.add_middleware(BodyLimit, limit=int(max_upload_mb * 2**20))
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(Exception, _unexpected)

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "run": served.card["run"]}

    @app.get("/info")
    def info() -> dict[str, Any]:
        """The model card: recipe, dataset, classes, test metrics, parameter count, date trained, expected input."""
        return served.card

    @app.post("/predict", responses=schema.responses(),
              openapi_extra={"requestBody": schema.request_body(served.body, served.hint())})
    async def predict(request: Request):
        """Images or a CSV as multipart field `file` (repeat it for a batch); JSON for text, rows and prices."""
        if batcher is None:
            return JSONResponse(await read_request(request, served, served.predict))
        pixels, names = await read_request(request, served)  # decoded off the event loop, within the budget
        return JSONResponse(await batcher.predict(pixels, names))

    for name in EXTENSIONS:
        import_module(name).routes(app, served)
    return app


async def _input_error(request: Request, e: InputError) -> JSONResponse:
    return JSONResponse({"error": str(e)}, status_code=e.status)


async def _unexpected(request: Request, e: Exception) -> JSONResponse:  # pragma: no cover - a bug: still JSON, still serving
    return JSONResponse({"error": f"internal error: {type(e).__name__}: {str(e)[:200]}"}, status_code=500)


def _pair(raw: Any, names: list[str] | None) -> tuple[Any, list[str] | None]:
    return raw, names


async def read_request(request: Request, served: ServedModel, then: Callable[[Any, list[str] | None], Any] = _pair):
    """The one reading of a request's inputs, for POST /predict and every route that takes the same inputs.

    Multipart files (field `file`) go to served.files, JSON to served.json, any other content type is a 415. The
    body is read here (at most --max-upload-mb, counted by BodyLimit; a files-only kind refuses JSON unread), then
    parsed, checked and decoded in one worker thread, which also runs `then(raw inputs, file names or None)` and
    returns its result: one hop off the event loop per request, for the refusals and the answers alike.
    """
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        body, header = await request.body(), request.headers.get("content-type", "")

        def work() -> Any:
            uploads = read_files(body, header, served.hint())  # serve/multipart.py
            return then(served.files(uploads), [n for n, _ in uploads])
    elif ctype in ("application/json", ""):
        body = await request.body() if served.body is not None else b""

        def work() -> Any:
            return then(served.json(body), None)
    else:
        raise InputError(f"content type '{ctype}' is not accepted; {served.hint()}", 415)
    return await run_in_threadpool(work)


def serving_app(run_dir: str | Path, threads: int = 1, max_upload_mb: float = 10, **limits: Any):
    """create_app, with this process set up to serve: `threads` torch intra-op threads (0: torch's default), and
    everything loaded so far frozen out of the garbage collector. Without the freeze, each full collection walks
    the hundreds of thousands of objects of torch, FastAPI and the model, a pause of tens of ms under load."""
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    app = create_app(run_dir, max_upload_mb=max_upload_mb, **limits)
    gc.collect()
    gc.freeze()
    return app


def app_from_environment():
    """uvicorn's app factory for `corenets serve --workers N`: each worker process loads the model once, itself,
    with the settings the command put in the environment variable CORENETS_SERVE."""
    try:
        settings = json.loads(os.environ[ENV])
    except (KeyError, json.JSONDecodeError) as e:
        raise RuntimeError(f"{ENV} must hold the serve settings as JSON (set by `corenets serve --workers N`): {e}") from None
    return serving_app(**settings)
