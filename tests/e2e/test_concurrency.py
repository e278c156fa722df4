"""One engine shared by 16 threads (as the API's workers and the app's sessions share it): a fixed
mix of retrieve, extractive, reader and LLM answers while two ingests publish new snapshots. No request
fails, each answer's hits exist with the same text in the snapshot it names, and the engine
moves to the newest snapshot by itself. Run several times: a race shows as a failure."""

import threading
from pathlib import Path

import pytest
from conftest import ingested_corpus
from tiny_models import tiny_llama

from ingest.pipeline import Ingestor
from rag.answering.engine import Engine
from rag.answering.generate.hf import HFGenerator
from rag.config import GenerationSettings, IngestSettings
from rag.storage.segments import open_store
from rag.storage.snapshots import live_snapshot

pytestmark = pytest.mark.slow
QUESTIONS = [
    "Which town have Etna's lava flows reached?",
    "Where does the Danube delta lie?",
    "What is green tea made from?",
    "Which bridge spans the strait at San Francisco Bay?",
]
THREADS, REQUESTS_EACH = 16, 12
KINDS = ("retrieve", "extractive", "reader", "retrieve", "extractive", "llm")  # the LLM waits its turn; the rest run at once


@pytest.fixture(scope="module")
def tiny_generator(tmp_path_factory) -> HFGenerator:
    return HFGenerator(tiny_llama(tmp_path_factory.mktemp("tiny-llama")), context_tokens=1024, threads=1)


@pytest.mark.parametrize("run", [1, 2, 3])
def test_sixteen_threads_while_ingests_publish(tmp_path: Path, embedder, tiny_generator, run: int):
    settings = ingested_corpus(tmp_path, embedder, {})
    settings.ingest = IngestSettings(keep_snapshots=10)  # keep every snapshot to check answers against
    settings.generation = GenerationSettings(max_new_tokens=8, abstain_below=-1.0)  # the reader's style, so the reader loads
    engine = Engine.from_settings(settings, settings.index_dir, load_llm=False, embedder=embedder)
    assert engine.reader is not None
    styles = {"llm": settings.generation.model_copy(update={"answer_style": "short"}), "reader": settings.generation}
    engine.generator = tiny_generator
    results, failures = [], []
    phase = threading.Barrier(THREADS + 1)  # the clients' halves each overlap one ingest

    def client(number: int) -> None:
        for i in range(REQUESTS_EACH):
            if i in (0, REQUESTS_EACH // 2):
                phase.wait()
            question = QUESTIONS[(number + i) % len(QUESTIONS)]
            kind = KINDS[(number + i) % len(KINDS)]
            try:
                if kind == "retrieve":
                    results.append((kind, *engine.search(question)))  # the snapshot searched and its hits
                else:
                    answer = engine.ask(question, extractive=kind == "extractive", generation=styles.get(kind))
                    results.append((kind, answer.snapshot, answer.hits))
            except Exception as exc:  # any failure is the finding
                failures.append(f"{kind} {question!r}: {exc!r}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    docs = tmp_path / "docs"
    for round_ in range(2):
        (docs / f"new-{round_}.txt").write_text(f"Glacier number {round_} in the Alps is called Aletsch-{round_}.\n" * 20)
        (docs / "notes" / "tea.txt").write_text(f"Green tea (edition {round_}) is made from unoxidised leaves of Camellia sinensis.\n")
        phase.wait()  # release the clients' next half, then publish while they ask
        Ingestor(settings, lambda: embedder, interactive=False).run(docs, settings.index_dir)
    for t in threads:
        t.join(timeout=300)

    assert failures == []
    assert len(results) == THREADS * REQUESTS_EACH
    engine.ask(QUESTIONS[0], extractive=True)
    assert engine.index.snapshot == live_snapshot(settings.index_dir) != settings.index_dir / "snap-000001"  # moved on without a restart
    named = [(g, hits) for _, g, hits in results]
    assert all(hits for _, hits in named)
    snapshots = {g for g, _ in named}
    assert len(snapshots) >= 2  # the second half started after the first ingest had published
    stores = {g: open_store(settings.index_dir / g) for g in snapshots}
    for snapshot, hits in named:  # every hit exists, with the same text, in the snapshot the answer names
        chunks = stores[snapshot].chunks([h.chunk_id for h in hits])
        assert all(h.chunk_id in chunks and chunks[h.chunk_id].text == h.text and chunks[h.chunk_id].path == h.path for h in hits)
    print(f"run {run}: {len(results)} requests from {THREADS} threads over snapshots {sorted(snapshots)}; 0 failures")
