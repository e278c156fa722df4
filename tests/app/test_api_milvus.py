"""`rag api` unchanged on the Milvus backend (Milvus Lite): the REST checks test_api.py makes
(tests/api_checks.py), against a server whose index lives in Milvus, uploads and removals
included (their ingest runs inside the server, sharing its Milvus Lite)."""

from __future__ import annotations

import httpx
import pytest
from api_checks import ETNA, check_documents_upload_ingest_and_delete, check_retrieve_and_ask
from conftest import ingested_corpus
from servers import rag_api

pytestmark = pytest.mark.slow
MILVUS_ENV = {"RAG_BACKEND": "milvus", "RAG_MILVUS__INDEX_TYPE": "FLAT", "RAG_MILVUS__INDEX_PARAMS": "{}", "RAG_MILVUS__SEARCH_PARAMS": "{}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("api-milvus")
    settings = ingested_corpus(root, embedder, {}, backend="milvus")
    with rag_api(settings.index_dir, root / "docs", root / "server.log", MILVUS_ENV) as server:
        yield server


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server["url"], timeout=120) as client:
        yield client


def test_retrieve_and_ask(http):
    check_retrieve_and_ask(http)


def test_documents_upload_ingest_and_delete(http, server):
    check_documents_upload_ingest_and_delete(http, server["docs"])


def test_answers_name_the_milvus_collection(http):
    assert http.get("/healthz").json()["snapshot"].startswith("milvus:")
    answer = http.post("/v1/ask", json={"question": ETNA, "extractive": True}).json()
    assert answer["snapshot"].startswith("milvus:") and "Catania" in answer["answer"]
    assert {d["document"]: d["status"] for d in http.get("/v1/documents").json()["documents"]}["volcanoes.md"] == "indexed"
