"""Shared fixtures: the bundled MiniLM embedder (loaded once per session), settings, and a
small folder of real documents in every supported format."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

from docx_factory import write_docx  # noqa: E402

from rag.config import MilvusSettings, Settings  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"


@pytest.fixture(scope="session", autouse=True)
def milvus_lite_servers_stop_before_exit():
    """Milvus Lite stops its servers at interpreter exit and logs it, after pytest has closed the
    streams logging writes to: a "--- Logging error ---" traceback under the summary. Stopped here,
    while the streams are open, there is nothing left to stop at exit."""
    yield
    try:
        from milvus_lite import server_manager_instance
    except ImportError:
        return
    server_manager_instance.release_all()


@pytest.fixture(autouse=True)
def cli_in_process_put_back():
    """A test that runs `app.cli.main` in this process gets what the CLI sets up for a whole
    process: a root log handler on the stderr pytest captured for that test (closed after it:
    "--- Logging error --- ... I/O operation on closed file" in later tests), and `--config`
    exported as RAG_CONFIG (read by every later Settings.load(): a later test's `rag serve` ran with
    another test's top_k). Both are put back after each test."""
    import logging

    root = logging.getLogger()
    handlers, level, config = list(root.handlers), root.level, os.environ.get("RAG_CONFIG")
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    if config is None:
        os.environ.pop("RAG_CONFIG", None)
    else:
        os.environ["RAG_CONFIG"] = config


@pytest.fixture(scope="session")
def embedder():
    from rag.search.embedding import Embedder

    return Embedder.load(Settings().embedding)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(index_dir=tmp_path / "index")


def cli_ingest(docs: Path, index: Path) -> Path:
    """`rag ingest DOCS --index INDEX` as a user runs it (a subprocess); returns the index folder."""
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "app.cli", "ingest", str(docs), "--index", str(index)], check=True, capture_output=True)
    return index


def make_corpus(folder: Path) -> Path:
    """A small mixed-format collection with distinctive facts to search for."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes").mkdir(exist_ok=True)
    (folder / "volcanoes.md").write_text(
        "# Volcanoes\n\nMount Etna is an active stratovolcano on the east coast of Sicily.\n\n"
        "## Eruptions\n\nEtna erupts frequently; lava flows have reached the town of Catania.\n",
        encoding="utf-8",
    )
    (folder / "notes" / "tea.txt").write_text(
        "Green tea is made from unoxidised leaves of Camellia sinensis. Black tea leaves are fully oxidised before drying.\n",
        encoding="utf-8",
    )
    (folder / "rivers.html").write_text(
        "<html><head><title>t</title><script>var hidden = 'scriptword';</script></head><body>"
        "<h1>Rivers</h1><p>The Danube flows through ten countries, more than any other river.</p>"
        "<h2>Deltas</h2><p>The Danube Delta lies mostly in Romania.</p></body></html>",
        encoding="utf-8",
    )
    write_docx(
        folder / "bridges.docx",
        [("Heading1", "Suspension bridges"), (None, "The Golden Gate Bridge spans the strait at San Francisco Bay.")],
    )
    write_pdf_pages(SAMPLES / "shared-mime-info-spec.pdf", folder / "mime-spec.pdf", pages=range(2, 5))
    return folder


def write_pdf_pages(source: Path, target: Path, pages: range) -> Path:
    """A real PDF made of some pages of another (small, so tests embed little)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for i in pages:
        writer.add_page(PdfReader(source).pages[i])
    with open(target, "wb") as fh:
        writer.write(fh)
    return target


def ingested_corpus(root: Path, embedder, extra: dict[str, str], backend: str = "local") -> Settings:
    """make_corpus plus `extra` files (relative path -> text), ingested into `backend` (Milvus:
    Milvus Lite in the index folder, an exact FLAT index); returns its settings."""
    from ingest.pipeline import Ingestor

    docs = make_corpus(root / "docs")
    for rel, text in extra.items():
        (docs / rel).write_text(text, encoding="utf-8")
    settings = Settings(index_dir=root / "index", backend=backend, milvus=MilvusSettings(index_type="FLAT", index_params={}, search_params={}))
    Ingestor(settings, lambda: embedder, interactive=False).run(docs, settings.index_dir)
    return settings


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return make_corpus(tmp_path / "docs")
