"""The HTTP side of ``restore serve``: ``create_app(settings)`` builds the FastAPI app.

Its lifespan opens the store, queues again what a previous server left running,
starts the workers' supervisor and the retention sweep, and stops them all at
shutdown. Blocking work (SQLite, files, plots) runs in the threadpool (plain
``def`` endpoints or ``run_in_threadpool``), so the event loop only moves bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse

from restore.app.web import stats
from restore.app.web.catalog import BadRequest, Catalog
from restore.app.web.middleware import TOKEN_COOKIE, Access, UploadLimit
from restore.app.web.service import QueueFull, Service
from restore.app.web.settings import Settings
from restore.app.web.store import TERMINAL, Store
from restore.app.web.supervisor import Supervisor
from restore.app.web.uploads import MEDIA_TYPES, UploadError, disposition, receive_form
from restore.engine.context import resolve_device

logger = logging.getLogger(__name__)

EVENT_POLL_SECONDS = 0.25
HEARTBEAT_SECONDS = 15.0
MEGAPIXEL_CHOICES = [None, 1, 4, 12, 24]


def create_app(settings: Settings, *, clock: Callable[[], float] = time.time) -> FastAPI:
    """The app serving ``settings``; ``clock`` (seconds since the epoch) dates jobs
    and decides their expiry. Raises ValueError (one line) for bad settings."""
    settings.check()
    resolve_device(settings.device)
    catalog = Catalog.load(settings.pipelines)
    store = Store(settings.database)
    service = Service(settings, store, catalog, clock)
    supervisor = Supervisor(settings, store, clock)
    described = catalog.describe()
    os.environ.setdefault("MPLCONFIGDIR", str(settings.data / "matplotlib"))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(_open, settings, store, clock)
        supervisor.start()
        sweeping = asyncio.create_task(_sweep_forever(service))
        try:
            yield
        finally:
            sweeping.cancel()
            await run_in_threadpool(supervisor.stop)
            store.close()

    app = FastAPI(
        title="restore serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )  # no schema either: outside /api, the token would not guard it
    app.state.service = service
    app.add_middleware(UploadLimit, max_bytes=settings.max_upload_bytes)
    app.add_middleware(Access, token=settings.token)
    _handle_errors(app)

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        counts = store.counts()
        return {"status": "ok", **counts, "workers": supervisor.alive}

    @app.get("/api/pipelines")
    def pipelines() -> dict[str, Any]:
        limits = {
            "max_upload_bytes": settings.max_upload_bytes,
            "max_pixels": settings.max_pixels,
            "max_megapixels_choices": MEGAPIXEL_CHOICES,
        }
        return {"pipelines": described, "limits": limits}

    @app.post("/api/jobs", status_code=202)
    async def submit(request: Request) -> dict[str, str]:
        session = request.state.session
        try:
            await run_in_threadpool(service.check_room)
        except QueueFull:
            async for _ in request.stream():  # read it all, so that the client hears us
                pass
            raise
        upload = await receive_form(dict(request.headers), request.stream(), settings.uploads)
        try:
            job_id = await run_in_threadpool(service.accept, upload, session)
        finally:
            upload.path.unlink(missing_ok=True)
        return {"id": job_id, "status_url": f"/api/jobs/{job_id}"}

    @app.get("/api/jobs")
    def jobs(request: Request) -> dict[str, Any]:
        return {"jobs": service.statuses(request.state.session)}

    @app.get("/api/jobs/{job_id}")
    def job(job_id: str, request: Request) -> dict[str, Any]:
        return _found(service.status(job_id, request.state.session), job_id)

    @app.get("/api/jobs/{job_id}/events")
    async def events(job_id: str, request: Request) -> StreamingResponse:
        session = request.state.session
        first = _found(await run_in_threadpool(service.status, job_id, session), job_id)

        async def stream() -> AsyncIterator[str]:
            current: dict[str, Any] | None = first
            sent, beat = "", time.monotonic()
            while current is not None:
                text = json.dumps(current)
                if text != sent:
                    yield f"data: {text}\n\n"
                    sent, beat = text, time.monotonic()
                if current["status"] in TERMINAL:
                    return
                if time.monotonic() - beat >= HEARTBEAT_SECONDS:
                    yield ": heartbeat\n\n"
                    beat = time.monotonic()
                await anyio.sleep(EVENT_POLL_SECONDS)
                current = await run_in_threadpool(service.status, job_id, session)

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    @app.get("/api/jobs/{job_id}/result")
    def result(job_id: str, request: Request, port: str = "image") -> FileResponse:
        try:
            found = service.result(job_id, request.state.session, port)
        except LookupError as missing:
            raise HTTPException(404, str(missing)) from None
        return _file(*_found(found, job_id))

    @app.get("/api/jobs/{job_id}/input")
    def source(job_id: str, request: Request) -> FileResponse:
        return _file(*_found(service.source(job_id, request.state.session), job_id))

    @app.delete("/api/jobs/{job_id}")
    def cancel(job_id: str, request: Request) -> dict[str, str]:
        if not service.cancel(job_id, request.state.session):
            raise HTTPException(404, f"no job {job_id}")
        return {"id": job_id, "status": "canceled"}

    @app.get("/api/runs")
    def runs(limit: int = 1000) -> dict[str, Any]:
        return {"runs": store.runs(max(1, min(limit, 100_000)))}

    @app.get("/stats", response_class=HTMLResponse)
    def statistics() -> HTMLResponse:
        return HTMLResponse(stats.render(store.runs(10_000)))

    @app.get("/", response_model=None)
    def index(token: str | None = None) -> Response:
        if token is not None:
            if settings.token and not secrets.compare_digest(
                token.encode(), settings.token.encode()
            ):
                raise HTTPException(401, "wrong token")
            response = RedirectResponse("/", status_code=303)
            if settings.token:
                response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
            return response
        page = settings.static / "index.html"
        if not page.is_file():
            raise HTTPException(404, "the web page is not installed (no static/index.html)")
        return FileResponse(page, media_type="text/html")

    if settings.static.is_dir():
        app.mount("/static", StaticFiles(directory=settings.static), name="static")
    return app


def _open(settings: Settings, store: Store, clock: Callable[[], float]) -> None:
    """Prepare the data folder at startup: tables, jobs a previous server left."""
    for folder in (settings.data, settings.jobs, settings.uploads):
        folder.mkdir(parents=True, exist_ok=True)
    for part in settings.uploads.iterdir():  # uploads cut off by the previous server
        part.unlink(missing_ok=True)
    store.create()
    requeued, failed = store.recover(clock())
    if requeued or failed:
        logger.warning("%d interrupted jobs queued again, %d failed", requeued, failed)


async def _sweep_forever(service: Service) -> None:
    """Delete expired jobs every ``sweep_seconds``, until cancelled."""
    while True:
        await anyio.sleep(service.settings.sweep_seconds)
        try:
            await run_in_threadpool(service.sweep)
        except Exception:  # a failed sweep is tried again next time
            logger.exception("retention sweep failed")


def _found(value: Any, job_id: str) -> Any:
    """``value``, or 404 when there is none (another session's job is none too)."""
    if value is None:
        raise HTTPException(404, f"no job {job_id}")
    return value


def _file(path: Path, name: str) -> FileResponse:
    """A job file as a download called ``name``; 404 when it is gone."""
    if not path.is_file():
        raise HTTPException(404, "the file is gone (canceled or expired)")
    return FileResponse(
        path,
        media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
        headers={"Content-Disposition": disposition(name)},
    )


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(message.split())}, status, headers=dict(headers or {}))


def _handle_errors(app: FastAPI) -> None:
    """Every error answers ``{"error": "one line"}``."""

    @app.exception_handler(UploadError)
    async def refused(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, UploadError)
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, QueueFull) else None
        return _error(error.status, str(error), headers)

    @app.exception_handler(BadRequest)
    async def bad(request: Request, error: Exception) -> JSONResponse:
        return _error(422, str(error))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return _error(422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(StarletteHTTPException)
    async def http(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        return _error(error.status_code, str(error.detail), error.headers)

    @app.exception_handler(ClientDisconnect)
    async def gone(request: Request, error: Exception) -> JSONResponse:
        return _error(400, "the client went away during the upload")  # nobody hears it

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> JSONResponse:
        logger.error("internal error", exc_info=error)
        return _error(500, f"internal error ({type(error).__name__})")
