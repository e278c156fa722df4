"""`/docs` works offline: Swagger UI's files are served by the API itself (it once loaded them from
a CDN and showed a blank page without internet), and in Chromium the page renders the routes of
this OpenAPI 3.1 schema with every request to another host blocked."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from servers import free_port

from app.api.collections import Collections
from app.api.metrics import Metrics
from app.api.server import create_app
from app.api.service import Service
from rag.config import Settings
from rag.keys import KeyStore

CHROMIUM = Path("/usr/bin/chromium")


def docs_app(tmp_path: Path):
    settings, metrics = Settings(index_dir=tmp_path), Metrics()
    svc = Service(settings, tmp_path, engine=None, jobs=None, metrics=metrics)
    return create_app(Collections.of("docs", svc), KeyStore.for_index(tmp_path), settings, metrics)


def test_the_docs_page_and_its_files_come_from_this_server(tmp_path: Path):
    http = TestClient(docs_app(tmp_path))
    page = http.get("/docs")
    assert page.status_code == 200
    linked = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text) + re.findall(r"""url: ['"]([^'"]+)['"]""", page.text)
    assert linked and all(link.startswith("/") for link in linked), linked  # nothing from another host
    assert '"validatorUrl": null' in page.text  # Swagger UI's validator badge would call validator.swagger.io
    bundle = http.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and bundle.headers["content-type"].startswith("application/javascript") and "SwaggerUIBundle" in bundle.text
    assert http.get("/docs/assets/swagger-ui.css").headers["content-type"].startswith("text/css")
    assert http.get("/docs/assets/..%2Fmain.py").status_code == 404
    assert http.get("/openapi.json").json()["openapi"].startswith("3.1")
    assert http.get("/redoc").status_code == 404  # ReDoc would come from a CDN: not offered


@pytest.mark.slow
def test_the_docs_page_renders_in_chromium_with_no_network(tmp_path: Path):
    import uvicorn
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(docs_app(tmp_path), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        elsewhere: list[str] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()

            def only_this_server(route) -> None:
                if route.request.url.startswith(f"http://127.0.0.1:{port}/"):
                    route.continue_()
                else:
                    elsewhere.append(route.request.url)
                    route.abort()

            page.route("**/*", only_this_server)
            page.goto(f"http://127.0.0.1:{port}/docs")
            page.locator(".opblock-summary-path", has_text="/v1/ask").first.wait_for(timeout=30_000)
            assert page.locator(".opblock").count() >= 5
            browser.close()
        assert elsewhere == []
    finally:
        server.should_exit = True
        thread.join(timeout=10)
