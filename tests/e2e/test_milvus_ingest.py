"""Ingest into the Milvus backend (Milvus Lite): the same diff as a local index (changed files
replaced, deleted ones removed, an unchanged folder costs nothing), kill -9 at points inside the
writes and then a re-run ending with the local backend's chunks and no duplicate id, and readers
answering while an ingest writes."""

import threading
from pathlib import Path

import pytest
from kills import kill_ingest_at

from ingest.pipeline import Ingestor
from rag.answering.engine import Engine
from rag.config import MilvusSettings, Settings
from rag.search.retriever import HybridRetriever
from rag.storage.backend import open_index
from rag.storage.index import HybridIndex
from rag.storage.milvus import open_milvus
from rag.storage.milvus.views import every_row

pytestmark = pytest.mark.slow

FLAT = MilvusSettings(index_type="FLAT", index_params={}, search_params={})
FLAT_ENV = {"RAG_BACKEND": "milvus", "RAG_MILVUS__INDEX_TYPE": "FLAT", "RAG_MILVUS__INDEX_PARAMS": "{}", "RAG_MILVUS__SEARCH_PARAMS": "{}"}


def grow(folder: Path, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        sentences = " ".join(f"Report {i} line {j} notes reading {i * j} of probe {j}." for j in range(40))
        (folder / f"report-{i:03d}.txt").write_text(sentences)


def milvus_settings(root: Path) -> Settings:
    return Settings(index_dir=root, backend="milvus", milvus=FLAT)


def local_chunks(source: Path, root: Path, embedder) -> dict[str, int]:
    """Chunks per file of a local index of `source`."""
    settings = Settings(index_dir=root)
    Ingestor(settings, lambda: embedder, interactive=False).run(source, root)
    index = HybridIndex.open(root, settings, dim=embedder.dim)
    counts = index.store.chunks_per_file()
    index.close()
    return counts


def milvus_state(root: Path, embedder) -> tuple[dict[str, int], list[int], set[str]]:
    """(chunks per file, every chunk id, files in the registry) of the Milvus index in `root`."""
    index = open_milvus(FLAT, Settings().bm25, root, None)
    try:
        ids = [row["id"] for row in every_row(index.client, index.name, "id >= 0 or id < 0", ["id"])]
        return index.store.chunks_per_file(), ids, set(index.store.files())
    finally:
        index.close()


def test_the_diff_on_milvus_matches_a_local_index(corpus: Path, tmp_path: Path, embedder):
    grow(corpus, 3)
    settings = milvus_settings(tmp_path / "milvus")
    ingest = Ingestor(settings, lambda: embedder, interactive=False)
    first = ingest.run(corpus, settings.index_dir)
    assert first.added == len(list(p for p in corpus.rglob("*") if p.is_file())) and not first.failed
    again = ingest.run(corpus, settings.index_dir)
    assert (again.chunks_embedded, again.added, again.updated, again.removed) == (0, 0, 0, 0)
    (corpus / "report-000.txt").write_text("A rewritten report about seismic probes near the Etna crater.")
    (corpus / "report-001.txt").unlink()
    grow(corpus, 1, start=7)
    changed = ingest.run(corpus, settings.index_dir)
    assert (changed.added, changed.updated, changed.removed) == (1, 1, 1)
    counts, ids, files = milvus_state(settings.index_dir, embedder)
    assert counts == local_chunks(corpus, tmp_path / "local", embedder) and len(ids) == len(set(ids)) and files == set(counts)


@pytest.mark.parametrize(("first", "event", "at"), [(True, "file_stored", 8), (False, "file_stored", 4), (False, "stage", "publishing")])
def test_a_kill_mid_ingest_is_repaired_by_the_next(corpus: Path, tmp_path: Path, embedder, first: bool, event: str, at):
    """Killed during the first ingest of a folder, or during an update of half its files."""
    grow(corpus, 16)
    index = tmp_path / "milvus"
    if not first:
        Ingestor(milvus_settings(index), lambda: embedder, interactive=False).run(corpus, index)
        for path in sorted(corpus.glob("report-*.txt"))[::2]:  # 8 reports change, one goes
            path.write_text(path.read_text() + " Revised after calibration.")
        (corpus / "report-001.txt").unlink()
    assert kill_ingest_at(corpus, index, event, at, env=FLAT_ENV), f"the ingest ended before {event} {at}"
    report = Ingestor(milvus_settings(index), lambda: embedder, interactive=False).run(corpus, index)
    assert not report.failed
    counts, ids, files = milvus_state(index, embedder)
    assert len(ids) == len(set(ids)), "a chunk id appears twice"
    assert counts == local_chunks(corpus, tmp_path / "local", embedder) and files == set(counts)


def test_readers_keep_answering_while_an_ingest_writes(corpus: Path, tmp_path: Path, embedder):
    settings = milvus_settings(tmp_path / "milvus")
    Ingestor(settings, lambda: embedder, interactive=False).run(corpus, settings.index_dir)
    index = open_index(settings.index_dir, settings, dim=embedder.dim)
    engine = Engine(settings, index, embedder, HybridRetriever(index, embedder, settings.retrieval), generator=None)
    answers, failures, done = [], [], threading.Event()

    def ask() -> None:
        while not done.is_set():
            try:
                answers.append(engine.ask("How many countries does the Danube flow through?"))
            except Exception as exc:  # any failure of a reader is the finding
                failures.append(repr(exc))

    readers = [threading.Thread(target=ask) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        grow(corpus, 20)
        report = Ingestor(settings, lambda: embedder, interactive=False).run(corpus, settings.index_dir)
    finally:
        done.set()
        for reader in readers:
            reader.join()
    index.close()
    assert report.added == 20 and not failures and answers
    assert all("ten countries" in a.answer and a.citations[0].path == "rivers.html" for a in answers)
    print(f"{len(answers)} answers during an ingest of 20 files into Milvus Lite; 0 failures")
