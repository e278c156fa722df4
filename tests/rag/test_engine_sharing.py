"""Engines over several indexes (a server's collections) share one copy of each model and take
turns on the LLM together, while each answers from its own index."""

from pathlib import Path

from conftest import ingested_corpus

from rag.answering.engine import Engine


def test_an_engine_like_another_shares_its_models_and_turns(tmp_path: Path, embedder):
    one = ingested_corpus(tmp_path / "one", embedder, {})
    two = ingested_corpus(tmp_path / "two", embedder, {"falcon.md": "# Falcon\n\nThe vault code of project Falcon is 7741.\n"})
    first = Engine.from_settings(one, one.index_dir, load_llm=False, embedder=embedder)
    second = Engine.from_settings(two, two.index_dir, load_llm=False, like=first)
    assert second.embedder is first.embedder and second.reader is first.reader and second.reader is not None
    assert second.retriever.reranker is first.retriever.reranker and second._llm_turn is first._llm_turn
    question = "What is the vault code of project Falcon?"
    assert second.retrieve(question)[0].path == "falcon.md" and all(h.path != "falcon.md" for h in first.retrieve(question))
