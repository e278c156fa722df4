"""`rag api` as a real server on a free loopback port over a small ingested folder: the official
`openai` client (streaming and not, extractive and the bundled LLM), every REST route, and each
kind of bad input, answered with a clear status and never a crash."""

from __future__ import annotations

import os

import httpx
import pytest
from api_checks import ETNA, check_documents_upload_ingest_and_delete, check_retrieve_and_ask, wait_for_job
from conftest import ingested_corpus
from servers import rag_api

from rag.keys import KeyStore
from rag.storage.snapshots import WriteLock

pytestmark = pytest.mark.slow
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("api")
    settings = ingested_corpus(root, embedder, {})
    with rag_api(
        settings.index_dir,
        root / "docs",
        root / "server.log",
        {"RAG_INGEST__MAX_FILE_MB": "0.05", "RAG_RETRIEVAL__MAX_QUESTION_CHARS": "500", "RAG_API__MAX_BODY_KB": "64"},
    ) as server:
        yield server


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server["url"], timeout=120) as client:
        yield client


def test_openai_client_chat_completions(server):
    from openai import NotFoundError, OpenAI

    client = OpenAI(base_url=f"{server['url']}/v1", api_key="none-needed-on-loopback", max_retries=0)
    assert {m.id for m in client.models.list()} == {"rag-local", "rag-local-extractive"}

    reply = client.chat.completions.create(model="rag-local-extractive", messages=[{"role": "user", "content": ETNA}])
    text = reply.choices[0].message.content
    citations = reply.model_extra["citations"]
    assert "Catania" in text and "[1]" in text
    assert citations[0]["path"] == "volcanoes.md" and any("Catania" in s for s in citations[0]["sentences"])

    stream = client.chat.completions.create(model="rag-local-extractive", messages=[{"role": "user", "content": ETNA}], stream=True)
    chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "Catania" in streamed and chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["citations"][0]["path"] == "volcanoes.md"

    # the default answer style (the trained reader), streamed: pieces arrive, then the cited answer
    stream = client.chat.completions.create(model="rag-local", messages=[{"role": "user", "content": ETNA}], stream=True, max_tokens=24)
    chunks = list(stream)
    final = chunks[-1].model_extra
    assert chunks[-1].choices[0].finish_reason == "stop" and final["answer"].strip()
    assert final["abstained"] or (final["citations"] and all(c["path"] == "volcanoes.md" for c in final["citations"]))  # all([]) is true
    assert final["confidence"] is not None  # the default style answers with the reader, and says how sure it is

    # a follow-up: the earlier user/assistant turns are its history, so "it" is searched as Etna
    turns = [{"role": "user", "content": ETNA}, {"role": "assistant", "content": text}, {"role": "user", "content": "Where is it?"}]
    reply = client.chat.completions.create(model="rag-local-extractive", messages=turns)
    assert "Etna" in reply.model_extra["searched"] and reply.model_extra["citations"][0]["path"] == "volcanoes.md"

    with pytest.raises(NotFoundError, match="does not exist"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": ETNA}])


def test_retrieve_and_ask(http):
    check_retrieve_and_ask(http)


def test_documents_upload_ingest_and_delete(http, server):
    check_documents_upload_ingest_and_delete(http, server["docs"])


@pytest.mark.parametrize(
    "method, path, kwargs, status, says",
    [
        ("POST", "/v1/ask", {"content": b'{"question": "Etna?', "headers": {"content-type": "application/json"}}, 422, "JSON"),
        ("POST", "/v1/ask", {"json": {"questoin": "Etna?"}}, 422, "question"),
        ("POST", "/v1/retrieve", {"json": {"question": "Etna?", "top_k": "many"}}, 422, "top_k"),
        ("POST", "/v1/ask", {"json": {"question": "x" * 501}}, 422, "question"),
        ("POST", "/v1/ask", {"json": {"question": "Etna?", "pad": "x" * 70_000}}, 413, "limit"),
        ("POST", "/v1/documents", {"files": {"files": ("big.txt", b"word " * 12_000, "text/plain")}}, 413, "limit"),
        ("POST", "/v1/documents", {"files": {"files": ("run.exe", b"MZ", "application/octet-stream")}}, 400, "not a supported type"),
        ("GET", "/v1/nothing-here", {}, 404, "Not Found"),
        ("DELETE", "/v1/documents/..%2F..%2Fetc%2Fpasswd", {}, 400, "not inside"),
        ("DELETE", "/v1/documents/notes/..%2F..%2F..%2Fsecret.txt", {}, 400, "not inside"),
        ("DELETE", "/v1/documents/no-such-file.txt", {}, 404, "no document"),
        ("GET", "/v1/jobs/ingest-999", {}, 404, "no job"),
        # what JSON can carry but the answer cannot: once a 500 from the 422 handler echoing the input
        ("POST", "/v1/retrieve", {"content": b'{"question": "Etna?", "top_k": NaN}', "headers": JSON}, 422, "top_k"),
        ("POST", "/v1/ask", {"content": b'{"question": "Etna?", "top_k": Infinity}', "headers": JSON}, 422, "top_k"),
        ("POST", "/v1/ask", {"content": b'{"question": "Etna?", "top_k": 1e999}', "headers": JSON}, 422, "top_k"),
        ("POST", "/v1/ask", {"content": b'{"question": "\\ud800 Etna?"}', "headers": JSON}, 422, "question holds a lone surrogate"),
        ("POST", "/v1/ask", {"content": b'{"question": "Etna?", "history": [{"question": "\\udfff"}]}', "headers": JSON}, 422, "history[0].question"),
        (
            "POST",
            "/v1/chat/completions",
            {"content": b'{"model": "rag-local", "messages": [{"role": "user", "content": "\\ud800"}]}', "headers": JSON},
            422,
            "lone surrogate",
        ),
        ("POST", "/v1/ask", {"content": b'{"question": ' + b"[" * 5000 + b"]" * 5000 + b"}", "headers": JSON}, 422, "nests too deep"),
        ("POST", "/v1/ask", {"content": b'{"question": "Etna?", "top_k": 1' + b"0" * 5000 + b"}", "headers": JSON}, 422, "cannot read"),
    ],
)
def test_bad_input_gets_a_clear_answer(http, method, path, kwargs, status, says):
    response = http.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    assert says in response.text


def test_ingest_while_another_writes_is_409_naming_the_holder(http, server):
    with WriteLock(server["index"]):  # as `rag ingest` in another process holds it
        response = http.post("/v1/ingest")
    assert response.status_code == 409
    assert str(os.getpid()) in response.json()["holder"]
    response = http.post("/v1/ingest")
    assert response.status_code == 202 and wait_for_job(http, response.json()["job"])["state"] == "done"


def test_an_upload_during_another_ingest_is_queued_then_indexed(http, server):
    text = b"The Perito Moreno Glacier advances across Lago Argentino in Patagonia.\n"
    with WriteLock(server["index"]):  # as `rag ingest` in another process holds it
        response = http.post("/v1/documents", files={"files": ("patagonia.txt", text, "text/plain")})
        assert response.status_code == 202, response.text
        job = response.json()["job"]
        assert job["state"] == "queued" and job["waiting"] == ["patagonia.txt"]
        other = b"The Upsala Glacier feeds its lake from the north and is retreating fast.\n"
        again = http.post("/v1/documents", files={"files": ("patagonia-2.txt", other, "text/plain")}).json()["job"]
        assert again["id"] == job["id"] and again["waiting"] == ["patagonia.txt", "patagonia-2.txt"]  # one re-sync takes both
        assert http.get("/v1/documents").json()["queued"] == ["patagonia.txt", "patagonia-2.txt"]
    done = wait_for_job(http, job)  # the lock is free: the queued re-sync runs
    assert done["state"] == "done" and done["report"]["added"] == 2
    hits = http.post("/v1/retrieve", json={"question": "Where does the Perito Moreno Glacier advance?", "top_k": 1}).json()["hits"]
    assert hits[0]["path"] == "patagonia.txt" and http.get("/v1/documents").json()["queued"] == []
    for name in ("patagonia.txt", "patagonia-2.txt"):
        assert wait_for_job(http, http.delete(f"/v1/documents/{name}").json()["job"])["state"] == "done"


def test_keys_once_created_are_required_and_never_logged(http, server):
    keys = KeyStore.for_index(server["index"])
    key = keys.create("test-client")
    try:
        assert http.get("/healthz").status_code == 200  # open, for load balancers
        assert http.post("/v1/retrieve", json={"question": ETNA}).status_code == 401
        assert http.post("/v1/retrieve", json={"question": ETNA}, headers={"Authorization": "Bearer rag-wrong"}).status_code == 401
        assert http.get("/v1/models", headers={"Authorization": key}).status_code == 401  # no scheme
        assert http.get("/v1/nothing", headers={"Authorization": f"Bearer {key}"}).status_code == 404
        ok = http.post("/v1/retrieve", json={"question": ETNA}, headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200 and ok.json()["hits"]
        assert key not in keys.path.read_text() and key not in server["log"].read_text()
    finally:
        keys.revoke("test-client")
    assert http.post("/v1/retrieve", json={"question": ETNA}).status_code == 200
