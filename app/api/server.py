"""`rag api`: build the FastAPI app over one engine and run it with uvicorn.

Keys: loopback needs none; once `rag api-key create` made one, every route but `/healthz` needs
`Authorization: Bearer KEY`, and binding to any other address without keys refuses to start
unless `--insecure` is given. Keys are never logged (uvicorn's access log has no headers)."""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api import chat, rest
from app.api.collections import Collections
from app.api.docs import add_docs
from app.api.limits import BodyLimit
from app.api.metrics import Metrics
from app.api.rest import access_of
from app.api.service import Service
from app.mcp_server import build_server
from rag.answering.engine import Engine, llm_needed
from rag.config import Settings
from rag.keys import KeyStore

log = logging.getLogger("rag.api")
OPEN_PATHS = {"/healthz"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class InsecureBindError(RuntimeError):
    """Another address than loopback, with no API keys and no --insecure."""


def create_app(collections: Collections, keys: KeyStore, settings: Settings, metrics: Metrics) -> FastAPI:
    """The app over `collections`: today's routes under /v1 for a server of one, each
    collection's under /v1/collections/NAME, the OpenAI routes, and MCP at /mcp; every route
    but /healthz behind `keys` once one exists, each key held to its collections."""
    mcp = build_server(engine_for(collections), lambda request: collections.readable(access_of(request)))  # the same tools as `rag mcp`
    mcp_routes = mcp.streamable_http_app(streamable_http_path="/mcp").routes

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api.threads
        async with mcp.session_manager.run():
            yield

    app = FastAPI(
        title="rag-local",
        version="0.1.0",
        lifespan=lifespan,
        description="Cited answers from your own documents: REST and OpenAI-compatible routes.",
        docs_url=None,  # served by add_docs from this machine's files, not a CDN
        redoc_url=None,
    )
    add_docs(app)
    app.router.routes.extend(mcp_routes)
    app.state.collections, app.state.settings, app.state.metrics = collections, settings, metrics
    app.include_router(rest.service_router)
    app.include_router(rest.collection_router("/v1"))
    app.include_router(rest.collection_router("/v1/collections/{collection}"))
    app.include_router(chat.router)
    max_body = settings.api.max_body_kb * 1024
    max_upload = int(settings.ingest.max_file_mb * 2**20) + 64 * 1024  # one file plus multipart framing

    def limit_for(path: str) -> int:
        return max_upload if path == "/v1/documents" or (path.startswith("/v1/collections/") and path.endswith("/documents")) else max_body

    app.add_middleware(BodyLimit, limit_for=limit_for)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 naming each bad field, never echoing the input: FastAPI's own handler echoes it and
        fails (500) on what JSON cannot carry back, such as NaN or a lone surrogate."""
        return JSONResponse({"detail": [described(e) for e in exc.errors()]}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError | ValueError):  # JSON nested too deep, a number too long
            why = "nests too deep" if isinstance(exc.__cause__, RecursionError) else f"holds a value Python cannot read ({exc.__cause__})"
            return JSONResponse({"detail": [{"loc": ["body"], "msg": f"the JSON body {why}", "type": "json_invalid"}]}, status_code=422)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.middleware("http")
    async def keys_and_metrics(request: Request, call_next):
        started = time.perf_counter()
        if request.url.path not in OPEN_PATHS and keys.exists():
            scheme, _, key = request.headers.get("authorization", "").partition(" ")
            access = keys.access(key.strip()) if scheme.lower() == "bearer" and key else None
            if access is None:
                response = JSONResponse(
                    {"detail": "a valid API key is required: Authorization: Bearer KEY"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
                )
                metrics.observe_request("auth", request.method, 401, time.perf_counter() - started)
                return response
            request.state.access = access  # what the routes and the MCP tools hold it to
        try:
            response = await call_next(request)
        except Exception:  # counted and logged as the 500 it becomes, never lost from /metrics
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            response = JSONResponse({"detail": "internal error; the server log has the details"}, status_code=500)
        route = request.scope.get("route")
        metrics.observe_request(getattr(route, "path", "unmatched"), request.method, response.status_code, time.perf_counter() - started)
        return response

    return app


def described(error: dict) -> dict:
    """A validation error as loc, msg and type, in plain ASCII-safe text and without the input."""

    def safe(text) -> str:
        return str(text).encode("ascii", "backslashreplace").decode() if not str(text).isascii() else str(text)

    return {"loc": [safe(part) for part in error.get("loc", ())], "msg": safe(error.get("msg", "invalid")), "type": error.get("type", "")}


def check_bind(host: str, keys: KeyStore, insecure: bool) -> None:
    if host not in LOOPBACK and not keys.exists() and not insecure:
        raise InsecureBindError(
            f"refusing to listen on {host} with no API keys (none in {keys.path}): anyone who can reach it could use it. "
            "Create one with `rag api-key create NAME` (with the same --index or api.keys_file), or pass --insecure"
        )


def fewer_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates its own malloc arena; the worker threads' arenas
    made `rag api` grow from 0.9 to 1.8 GB under 32 clients in 20 s, and 1.4 GB with two arenas
    (MALLOC_ARENA_MAX=2, same throughput). Set before the models load; a no-op off glibc."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c")).mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def engine_for(collections: Collections):
    """The MCP tools' `engine_for`: the collection named (or the only one) when the request's key
    may read it; LookupError saying why otherwise."""

    def engine(collection: str | None, request) -> Engine:
        return collections.resolve(collection, access_of(request) if request is not None else None).engine

    return engine


def collection_dirs(settings: Settings, index_dir: Path | None, named: dict[str, Path]) -> dict[str, Path]:
    """Name -> index folder: `--collection` pairs, else the settings' (Settings.collection_dirs)."""
    return dict(named) if named else settings.collection_dirs(index_dir)


def serve(settings: Settings, dirs: dict[str, Path], keys: KeyStore, host: str, port: int, insecure: bool = False) -> None:
    """Serve the collections `dirs` until SIGINT/SIGTERM: a server of one loads its engine now,
    one of several each engine on first use."""
    import uvicorn

    fewer_malloc_arenas()
    check_bind(host, keys, insecure)  # before the models load: refuse at once
    for name, folder in dirs.items():
        if not Path(folder).is_dir():
            raise ValueError(f"collection {name!r}: {folder} is no index folder; make it with `rag ingest SOURCE --index {folder}`")
    metrics = Metrics()

    def load(name: str, index_dir: Path) -> Service:
        own = settings if len(dirs) == 1 else settings.model_copy(update={"index_dir": index_dir, "api": settings.api.model_copy(update={"source_dir": None})})
        loaded = collections.loaded()  # the collections share one copy of each model (measured: +110-150 MB a collection without)
        engine = Engine.from_settings(own, index_dir, load_llm=llm_needed(own.generation), like=loaded[0].engine if loaded else None)
        log.info("loaded collection %s from %s", name, index_dir)
        return Service.build(own, index_dir, engine, metrics)

    collections = Collections(dirs, load)
    if only := collections.only():
        collections.service(only)
    if host not in LOOPBACK and not keys.exists():
        log.warning("listening on %s with no API keys (--insecure)", host)
    log.info("serving %s at http://%s:%d (docs at /docs)", ", ".join(f"{n}={d}" for n, d in dirs.items()), host, port)
    uvicorn.run(create_app(collections, keys, settings, metrics), host=host, port=port, log_level="warning", timeout_graceful_shutdown=10)
