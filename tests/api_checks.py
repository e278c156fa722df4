"""Checks of `rag api`'s REST routes that hold whatever the index backend: test_api.py runs them on
the local index, test_api_milvus.py on Milvus Lite."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

ETNA = "Which town have Etna's lava flows reached?"


def wait_for_job(http: httpx.Client, job: dict) -> dict:
    for _ in range(600):
        state = http.get(f"/v1/jobs/{job['id']}").json()
        if state["state"] not in ("running", "queued"):
            return state
        time.sleep(0.2)
    raise AssertionError(f"job {job['id']} still running")


def check_retrieve_and_ask(http: httpx.Client) -> None:
    health = http.get("/healthz").json()
    assert health["status"] == "ok" and health["chunks"] > 0
    hits = http.post("/v1/retrieve", json={"question": ETNA, "top_k": 3}).json()["hits"]
    assert len(hits) == 3 and hits[0]["path"] == "volcanoes.md" and "dense" in hits[0]["scores"]
    only_text = http.post("/v1/retrieve", json={"question": ETNA, "filters": {"kinds": ["text"]}}).json()["hits"]
    assert {h["path"] for h in only_text} == {"notes/tea.txt"}

    answer = http.post("/v1/ask", json={"question": ETNA, "extractive": True}).json()
    assert "Catania" in answer["answer"] and answer["citations"][0]["path"] == "volcanoes.md" and answer["snapshot"]
    read = http.post("/v1/ask", json={"question": ETNA}).json()  # the default answer style: the shipped reader
    assert read["generator"] == "reader" and "Catania" in read["answer"] and 0.0 < read["confidence"] <= 1.0

    follow = http.post("/v1/ask", json={"question": "Where is it?", "extractive": True, "history": [{"question": ETNA, "answer": answer["answer"]}]}).json()
    assert "Etna" in follow["searched"] and follow["citations"][0]["path"] == "volcanoes.md"

    events = []
    with http.stream("POST", "/v1/ask", json={"question": ETNA, "extractive": True, "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for block in response.read().decode().split("\n\n"):
            if block.strip():
                kind, data = block.split("\n", 1)
                events.append((kind.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    assert [k for k, _ in events][-1] == "answer" and {k for k, _ in events[:-1]} == {"text"}
    assert "".join(d["text"] for _, d in events[:-1]).strip() == events[-1][1]["answer"].strip()

    metrics = http.get("/metrics").text
    assert 'rag_requests_total{method="POST",route="/v1/retrieve",status="200"}' in metrics
    assert 'rag_stage_milliseconds_count{stage="dense"}' in metrics


def check_documents_upload_ingest_and_delete(http: httpx.Client, docs: Path) -> None:
    listed = {d["document"] for d in http.get("/v1/documents").json()["documents"]}
    assert "volcanoes.md" in listed
    text = b"The Aletsch Glacier is the largest glacier in the Alps.\n"
    response = http.post("/v1/documents", files={"files": ("../../glaciers.txt", text, "text/plain")})
    assert response.status_code == 202, response.text
    assert response.json()["saved"] == ["glaciers.txt"] and (docs / "glaciers.txt").is_file()
    assert wait_for_job(http, response.json()["job"])["state"] == "done"
    hits = http.post("/v1/retrieve", json={"question": "largest glacier in the Alps", "top_k": 1}).json()["hits"]
    assert hits[0]["path"] == "glaciers.txt"
    again = http.post("/v1/documents", files={"files": ("glaciers-again.txt", text, "text/plain")})
    assert again.status_code == 400 and "already in the collection as 'glaciers.txt'" in again.json()["detail"]

    response = http.delete("/v1/documents/glaciers.txt", params={"keep_file": "true"})  # from the index only
    assert response.status_code == 202 and response.json()["file_kept"]
    assert wait_for_job(http, response.json()["job"])["report"]["removed"] == 1
    assert "glaciers.txt" not in {d["document"] for d in http.get("/v1/documents").json()["documents"]}
    assert (docs / "glaciers.txt").is_file() and "/glaciers.txt" in (docs / ".ragignore").read_text()
    (docs / ".ragignore").unlink()
    assert wait_for_job(http, http.post("/v1/ingest").json()["job"])["report"]["added"] == 1

    response = http.delete("/v1/documents/glaciers.txt")
    assert response.status_code == 202
    assert wait_for_job(http, response.json()["job"])["report"]["removed"] == 1
    assert "glaciers.txt" not in {d["document"] for d in http.get("/v1/documents").json()["documents"]}
    assert not (docs / "glaciers.txt").exists()
