"""The engine moves to each snapshot an ingest publishes, and a search that holds the one before
keeps it open until it ends, however many publishes happen meanwhile (an ingest can publish two:
its own and a merge's)."""

import sqlite3
from pathlib import Path

import pytest
from conftest import ingested_corpus

from ingest.pipeline import Ingestor
from rag.answering.engine import Engine

QUESTION = "Which bridge spans the strait at San Francisco Bay?"


def test_a_held_snapshot_outlives_two_publishes_and_closes_after(tmp_path: Path, embedder):
    settings = ingested_corpus(tmp_path, embedder, {})
    engine = Engine.from_settings(settings, settings.index_dir, load_llm=False, embedder=embedder)
    docs, first = tmp_path / "docs", engine.index.version
    with engine.held() as waiting:  # a search waiting for its turn to compute
        for n in range(2):
            (docs / f"glacier-{n}.txt").write_text(f"Glacier number {n} in the Alps is called Aletsch-{n}.\n", encoding="utf-8")
            Ingestor(settings, lambda: embedder, interactive=False).run(docs, settings.index_dir)
            assert engine.search(QUESTION)[0] != first  # another question switched to the new snapshot
        assert waiting.index.version == first
        hits = waiting.retrieve(QUESTION, top_k=3)  # closing at the second switch failed here
        assert hits[0].path == "bridges.docx"
    with pytest.raises(sqlite3.ProgrammingError):  # released: the first snapshot is closed now
        waiting.index.store.chunks([hits[0].chunk_id])
    snapshot, hits = engine.search(QUESTION)
    assert snapshot == engine.index.version != first and hits[0].path == "bridges.docx"
