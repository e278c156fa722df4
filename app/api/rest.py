"""The REST routes: retrieve, ask (JSON or Server-Sent Events), documents, ingest jobs, health
and metrics. Blocking engine calls run in FastAPI's thread pool (plain `def` routes)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

from fastapi import APIRouter, File, HTTPException, Request, Response, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse

from app.api.collections import Refused
from app.api.schemas import AskIn, RetrieveIn
from app.api.service import Service, to_filters
from ingest.jobs import JobConflict
from ingest.scan import leave_out
from ingest.status import read_status
from ingest.uploads import UploadError, resolve_inside, save_upload
from rag.answering.answer import Answer, Exchange
from rag.answering.generate.base import GeneratorBusyError
from rag.keys import Access
from rag.storage.documents import document_rows

service_router = APIRouter()  # the server's own: health, metrics, the collections a key may use


def service(request: Request, write: bool = False) -> Service:
    """The collection the path names, else the server's only one (see `collection_service`)."""
    return collection_service(request, request.path_params.get("collection"), write)


def collection_service(request: Request, name: str | None, write: bool = False) -> Service:
    """The collection `name` when the request's key may read it (`write`: change it); 403 naming
    it otherwise, the same for a name that does not exist (Collections.resolve)."""
    try:
        return request.app.state.collections.resolve(name, access_of(request), write)
    except Refused as exc:
        raise HTTPException(exc.status, str(exc)) from None


def access_of(request: Request) -> Access | None:
    """What the request's key may do (set by the key check); None when the server has no keys."""
    return getattr(request.state, "access", None)


def readable(request: Request) -> list[str]:
    return request.app.state.collections.readable(access_of(request))


def sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def busy(exc: GeneratorBusyError) -> HTTPException:
    return HTTPException(503, str(exc), headers={"Retry-After": "5"})


@service_router.get("/healthz", tags=["service"])
async def healthz(request: Request) -> dict:
    """Liveness, and for a server of one collection what it serves; needs no key, so it names
    no collection of a server of several."""
    collections = request.app.state.collections
    if (only := collections.only()) is None:
        return {"status": "ok"}
    engine = collections.service(only).engine
    return {"status": "ok", "snapshot": engine.index.version, "chunks": len(engine.index.sparse), "notes": engine.notes}


@service_router.get("/metrics", tags=["service"])
async def metrics(request: Request) -> Response:
    """Prometheus text format: requests, errors and latency by route; engine time by stage."""
    m = request.app.state.metrics
    return Response(m.render(), media_type=m.content_type)


@service_router.get("/v1/collections", tags=["service"])
def list_collections(request: Request) -> dict:
    """The collections this key may read or change (and only those): loaded yet, and the
    resident memory their load added."""
    collections = request.app.state.collections
    return {"collections": [collections.get(n).as_dict() for n in readable(request)]}


def retrieve(body: RetrieveIn, request: Request) -> dict:
    """The best passages for a question, with per-stage scores and ranks."""
    svc = service(request)
    svc.check_question(body.question)
    timings: dict[str, float] = {}
    snapshot, hits = svc.engine.search(body.question, body.top_k, to_filters(body.filters), mode=body.mode, timings=timings)
    svc.metrics.observe_stages(timings)
    return {"snapshot": snapshot, "hits": [vars(h) for h in hits], "timings": timings}


def _answer_events(first: str | Answer, parts: Iterator[str | Answer], svc: Service) -> Iterator[str]:
    try:
        for piece in itertools.chain([first], parts):
            if isinstance(piece, Answer):
                svc.metrics.observe_stages(piece.timings)
                yield sse("answer", piece.as_dict())
            else:
                yield sse("text", {"text": piece})
    except GeneratorBusyError as exc:
        yield sse("error", {"status": 503, "detail": str(exc)})
    finally:
        parts.close()  # frees the LLM's turn when the client goes away


def ask(body: AskIn, request: Request):
    """A cited answer. With `"stream": true`, Server-Sent Events: `text` pieces as they are
    written, then one `answer` event with the whole Answer (its final text, citations, hits)."""
    svc = service(request)
    svc.check_question(body.question)
    history = [Exchange(e.question, e.answer, e.searched) for e in body.history]
    parts = svc.engine.ask_stream(body.question, body.top_k, to_filters(body.filters), extractive=body.extractive, history=history)
    try:
        first = next(parts)  # retrieval, and the LLM's turn, happen before any byte is sent
    except GeneratorBusyError as exc:
        raise busy(exc) from None
    if body.stream:
        return StreamingResponse(_answer_events(first, parts, svc), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
    try:
        answer = first if isinstance(first, Answer) else [p for p in parts if isinstance(p, Answer)][-1]
    except GeneratorBusyError as exc:
        raise busy(exc) from None
    svc.metrics.observe_stages(answer.timings)
    return answer.as_dict()


def list_documents(request: Request) -> dict:
    svc = service(request)
    with svc.engine.held() as live:  # open until its rows are read, even if an ingest publishes meanwhile
        ingest = read_status(live.index.root, svc.settings.ingest.file_timeout_s)
        queued = svc.jobs.queued()
        return {
            "snapshot": live.index.version,
            "documents": document_rows(live.index.store),
            "queued": queued.waiting if queued else [],
            "ingest": ingest,
        }


def _start_ingest(svc: Service, files: list[str] | None = None) -> dict:
    """A re-sync now, or queued behind the ingest that is running (it then indexes `files` too)."""
    job = svc.jobs.start(svc.source_dir(), queue=True, files=files)
    return {"job": job.as_dict()}


def upload_documents(request: Request, files: list[UploadFile] = File(...)) -> dict:
    """Save uploads under safe names in the source folder (never overwriting), then re-sync."""
    svc = service(request, write=True)
    folder = svc.source_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with svc.engine.held() as live:
        indexed = {record.sha256: path for path, record in live.index.store.files().items()}
    saved = []
    for upload in files:
        data = upload.file.read()
        limit_mb = svc.settings.ingest.max_file_mb
        if len(data) > limit_mb * 2**20:
            raise HTTPException(413, f"{upload.filename!r} is over the {limit_mb:g} MB limit (ingest.max_file_mb); saved before it: {saved}")
        try:
            saved.append(save_upload(upload.filename or "upload", data, folder, svc.settings.ingest, indexed).name)
        except UploadError as exc:
            raise HTTPException(400, f"{exc}; saved before it: {saved}") from None
    return {"saved": saved, **_start_ingest(svc, saved)}


def delete_document(path: str, request: Request, keep_file: bool = False) -> dict:
    """Remove a document from the index: delete its file from the source folder, or with
    `keep_file=true` leave the file and list it in the folder's .ragignore; then re-sync."""
    svc = service(request, write=True)
    try:
        target = resolve_inside(svc.source_dir(), path)
    except UploadError as exc:
        raise HTTPException(400, str(exc)) from None
    if not target.is_file():
        raise HTTPException(404, f"no document {path!r} in the source folder")
    if keep_file:
        leave_out(svc.source_dir(), target.relative_to(svc.source_dir().resolve()).as_posix())
    else:
        target.unlink()
    return {"deleted": path, "file_kept": keep_file, **_start_ingest(svc)}


def start_ingest(request: Request):
    """Re-sync the index with the source folder in the background; one writer at a time."""
    svc = service(request, write=True)
    try:
        return {"job": svc.jobs.start(svc.source_dir()).as_dict()}
    except JobConflict as exc:
        return JSONResponse({"detail": str(exc), "holder": exc.holder}, status_code=409)


def job_status(job_id: str, request: Request) -> dict:
    job = service(request, write=True).jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id!r}")
    return job.as_dict()


ROUTES = (  # a collection's routes: method, path, handler, tag, status
    ("POST", "/retrieve", retrieve, "questions", 200),
    ("POST", "/ask", ask, "questions", 200),
    ("GET", "/documents", list_documents, "documents", 200),
    ("POST", "/documents", upload_documents, "documents", 202),
    ("DELETE", "/documents/{path:path}", delete_document, "documents", 202),
    ("POST", "/ingest", start_ingest, "documents", 202),
    ("GET", "/jobs/{job_id}", job_status, "documents", 200),
)


def collection_router(prefix: str) -> APIRouter:
    """A collection's routes under `prefix`: /v1 for a server of one collection (today's routes),
    /v1/collections/{collection} for each of several."""
    router = APIRouter(prefix=prefix)
    for method, path, handler, tag, status in ROUTES:
        router.add_api_route(path, handler, methods=[method], tags=[tag], status_code=status)
    return router
