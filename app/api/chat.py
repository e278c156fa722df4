"""OpenAI-compatible routes (`POST /v1/chat/completions`, `GET /v1/models`), so the official
`openai` client and chat front-ends work against the collection. The last user message is the
question and the earlier user/assistant turns its history (a follow-up is made standalone); the
answer text carries its [n] markers and the response adds `citations` (file, page,
span, sentences). Model `<api.model_name>` answers with the configured answer style,
`<api.model_name>-extractive` by quoting the sources; on a server of several collections the
model names the collection: `<api.model_name>/NAME` (and `-extractive`)."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from app.api.rest import collection_service, readable
from app.api.schemas import ChatIn, ChatMessage
from rag.answering.answer import Answer, Exchange
from rag.answering.engine import length_problem
from rag.answering.generate.base import GeneratorBusyError

router = APIRouter(tags=["openai"])


def error(status: int, message: str, kind: str, param: str | None = None, code: str | None = None) -> JSONResponse:
    """OpenAI's error shape, which its clients turn into typed exceptions."""
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}}, status_code=status)


def model_ids(request: Request) -> dict[str, tuple[str, bool]]:
    """Model id -> (collection, extractive): `<api.model_name>` for a server of one collection,
    `<api.model_name>/NAME` for each collection this key may read of a server of several; each
    with `-extractive` to quote instead."""
    base, collections = request.app.state.settings.api.model_name, request.app.state.collections
    named = {base: only} if (only := collections.only()) else {f"{base}/{n}": n for n in readable(request)}
    return {i: (n, False) for i, n in named.items()} | {f"{i}-extractive": (n, True) for i, n in named.items()}


@router.get("/v1/models")
async def list_models(request: Request) -> dict:
    data = [{"id": m, "object": "model", "created": 0, "owned_by": "rag-local"} for m in model_ids(request)]
    return {"object": "list", "data": data}


def text_of(message: ChatMessage) -> str:
    """A message's text: string content, or its text parts."""
    if isinstance(message.content, str):
        return message.content
    return " ".join(part.get("text", "") for part in message.content or [] if part.get("type") == "text")


def question_of(body: ChatIn) -> str | None:
    """The text of the last user message."""
    for message in reversed(body.messages):
        if message.role == "user":
            return text_of(message)
    return None


def history_of(body: ChatIn) -> list[Exchange]:
    """The earlier turns: each user message before the last, with the assistant's reply to it."""
    users = [i for i, m in enumerate(body.messages) if m.role == "user"]
    turns = []
    for i, at in enumerate(users[:-1]):
        replies = [m for m in body.messages[at + 1 : users[i + 1]] if m.role == "assistant"]
        turns.append(Exchange(text_of(body.messages[at]), text_of(replies[-1]) if replies else ""))
    return turns


def citations_of(answer: Answer) -> list[dict]:
    keys = ("n", "path", "page", "start", "end", "sentences")
    return [{k: getattr(c, k) for k in keys} for c in answer.citations]


def chunk(cid: str, model: str, delta: dict, finish: str | None = None, **extra) -> str:
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def stream_chunks(cid: str, model: str, first, parts: Iterator, svc) -> Iterator[str]:
    try:
        yield chunk(cid, model, {"role": "assistant", "content": ""})
        for piece in itertools.chain([first], parts):
            if isinstance(piece, Answer):
                svc.metrics.observe_stages(piece.timings)
                yield chunk(
                    cid,
                    model,
                    {},
                    "stop",
                    citations=citations_of(piece),
                    answer=piece.answer,
                    abstained=piece.abstained,
                    searched=piece.searched,
                    confidence=piece.confidence,
                )
            else:
                yield chunk(cid, model, {"content": piece})
    except GeneratorBusyError as exc:
        yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'server_busy'}})}\n\n"
    finally:
        parts.close()
    yield "data: [DONE]\n\n"


@router.post("/v1/chat/completions")
def chat_completions(body: ChatIn, request: Request):
    models = model_ids(request)
    if body.model not in models:
        return error(404, f"the model {body.model!r} does not exist; use one of {list(models)}", "invalid_request_error", "model", "model_not_found")
    name, extractive = models[body.model]
    svc = collection_service(request, name)
    question = question_of(body)
    if not question or not question.strip():
        return error(400, "no user message with text to answer", "invalid_request_error", "messages")
    if why := length_problem(question, svc.settings.retrieval.max_question_chars):
        return error(400, why, "invalid_request_error", "messages", "string_too_long")
    generation = svc.settings.generation
    update = {}
    if body.max_completion_tokens or body.max_tokens:
        update["max_new_tokens"] = body.max_completion_tokens or body.max_tokens
    if body.temperature is not None:
        update.update(greedy=body.temperature == 0, temperature=body.temperature or generation.temperature)
    parts = svc.engine.ask_stream(question, extractive=extractive, generation=generation.model_copy(update=update), history=history_of(body))
    try:
        first = next(parts)
    except GeneratorBusyError as exc:
        return error(503, str(exc), "server_busy")
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    if body.stream:
        return StreamingResponse(stream_chunks(cid, body.model, first, parts, svc), media_type="text/event-stream")
    try:
        answer = [p for p in itertools.chain([first], parts) if isinstance(p, Answer)][-1]
    except GeneratorBusyError as exc:
        return error(503, str(exc), "server_busy")
    svc.metrics.observe_stages(answer.timings)
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.answer}, "finish_reason": "stop"}],
        "citations": citations_of(answer),
        "abstained": answer.abstained,
        "confidence": answer.confidence,
        "searched": answer.searched,
        "snapshot": answer.snapshot,
    }
