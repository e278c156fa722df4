"""Readers during writes: four threads ask in a loop through one shared engine (as the app's
sessions do) while real ingests of changed and new files run. No query fails, each answer
comes from one whole generation, and the engine moves to the new generation by itself."""

import threading
import time
from pathlib import Path

import pytest
from conftest import ingested_corpus

from ingest.pipeline import Ingestor
from rag.config import IngestSettings
from rag.engine import Engine
from rag.store import ChunkStore

pytestmark = pytest.mark.slow
QUESTIONS = ["Which town have Etna's lava flows reached?", "Where does the Danube delta lie?", "What is green tea made from?", "Which bridge spans the strait at San Francisco Bay?"]


def test_queries_keep_working_while_ingests_publish(tmp_path: Path, embedder):
    settings = ingested_corpus(tmp_path, embedder, {})
    settings.ingest = IngestSettings(keep_generations=10)  # keep every generation to check answers against
    engine = Engine.from_settings(settings, settings.index_dir, load_llm=False, embedder=embedder)
    answers, failures, stop = [], [], threading.Event()

    def ask_in_a_loop(question: str) -> None:
        while not stop.is_set():
            try:
                answers.append(engine.ask(question, extractive=True))
            except Exception as exc:  # any failure is the finding
                failures.append(repr(exc))

    threads = [threading.Thread(target=ask_in_a_loop, args=(q,)) for q in QUESTIONS]
    for t in threads:
        t.start()
    docs = tmp_path / "docs"
    for round_ in range(3):
        (docs / f"new-{round_}.txt").write_text(f"Glacier number {round_} in the Alps is called Aletsch-{round_}.\n" * 20)
        (docs / "notes" / "tea.txt").write_text(f"Green tea (edition {round_}) is made from unoxidised leaves of Camellia sinensis.\n")
        Ingestor(settings, lambda: embedder, interactive=False).run(docs, settings.index_dir)
        time.sleep(0.5)
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(timeout=60)

    assert failures == [] and len(answers) >= 8
    generations = {a.generation for a in answers}
    assert len(generations) >= 2 and engine.index.generation.name == max(generations)  # switched without a restart
    stores = {g: ChunkStore(settings.index_dir / g / "store.sqlite", readonly=True) for g in generations}
    for answer in answers:  # every hit exists, with the same text, in the generation the answer names
        chunks = stores[answer.generation].chunks([h.chunk_id for h in answer.hits])
        assert all(chunks[h.chunk_id].text == h.text and chunks[h.chunk_id].path == h.path for h in answer.hits)
    print(f"{len(answers)} answers from generations {sorted(generations)} while 3 ingests ran; 0 failures")
