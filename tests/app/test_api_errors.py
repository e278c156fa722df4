"""The API's error paths without a real engine: an engine that fails is a 500 that /metrics
counts (it once escaped the metrics middleware uncounted), and validation errors never echo the
input back (FastAPI's handler did, and failed on NaN)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.api.collections import Collections
from app.api.metrics import Metrics
from app.api.schemas import lone_surrogate_at
from app.api.server import create_app
from app.api.service import Service
from rag.config import Settings
from rag.keys import KeyStore


class Broken:
    """An engine whose every question fails, as a bug would."""

    def ask_stream(self, *args, **kwargs):
        raise RuntimeError("the engine broke")


def client(tmp_path: Path) -> TestClient:
    settings, metrics = Settings(index_dir=tmp_path), Metrics()
    svc = Service(settings, tmp_path, Broken(), jobs=None, metrics=metrics)
    return TestClient(create_app(Collections.of("broken", svc), KeyStore.for_index(tmp_path), settings, metrics), raise_server_exceptions=False)


def test_an_unhandled_error_is_a_counted_500(tmp_path: Path):
    http = client(tmp_path)
    response = http.post("/v1/ask", json={"question": "Etna?"})
    assert response.status_code == 500 and "server log" in response.json()["detail"]
    metrics = http.get("/metrics").text
    assert 'rag_requests_total{method="POST",route="/v1/ask",status="500"} 1.0' in metrics
    assert 'rag_errors_total{route="/v1/ask"} 1.0' in metrics


def test_a_validation_error_names_the_field_without_echoing_it(tmp_path: Path):
    response = client(tmp_path).post("/v1/ask", content=b'{"question": "Etna?", "top_k": NaN}', headers={"content-type": "application/json"})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "top_k"] and "input" not in error


def test_lone_surrogates_are_found_wherever_they_are():
    assert lone_surrogate_at({"question": "fine", "history": [{"question": "ok"}, {"answer": "bad \ud800"}]}) == "history[1].answer"
    assert lone_surrogate_at({"q\udfff": 1}) == "body"
    assert lone_surrogate_at({"question": "all fine, naïve café"}) is None
