"""Follow-up questions: one that refers back gets the previous turn's rarest words (and a short
previous answer) carried over; one that stands alone, or the first of a conversation, is left as
it is; and the engine searches with the standalone question and says so on the Answer."""

import pytest
from conftest import ingested_corpus

from rag.answer import Exchange
from rag.config import BM25Settings
from rag.engine import Engine
from rag.followup import key_words, refers_back, standalone
from rag.sparse import SparseIndex

TEXTS = [
    "all-MiniLM-L6-v2 maps sentences and paragraphs to a 384 dimensional dense vector space.",
    "The model was fine-tuned on 1B sentence pairs with a contrastive objective.",
    "Mount Etna is an active stratovolcano on the east coast of Sicily.",
    "The Danube flows through ten countries, more than any other river.",
]


@pytest.fixture(scope="module")
def sparse() -> SparseIndex:
    return SparseIndex.build(enumerate(TEXTS), BM25Settings())


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("And what is its embedding dimension?", True),  # a pronoun, and a lead
        ("How many pairs was it fine-tuned on?", True),
        ("What about Etna?", True),
        ("Why?", True),  # no term of its own
        ("How many countries does the Danube flow through?", False),
        ("Which volcano stands on the east coast of Sicily?", False),
    ],
)
def test_what_refers_back(question: str, expected: bool, sparse: SparseIndex):
    assert refers_back(question, sparse) is expected


def test_the_rarest_words_are_kept_whole_and_in_order(sparse: SparseIndex):
    assert key_words("What is the vector dimension of all-MiniLM-L6-v2?", sparse, 2) == ["dimension", "all-MiniLM-L6-v2"]


def test_a_follow_up_carries_the_previous_turn(sparse: SparseIndex):
    history = [Exchange("What vector space does all-MiniLM-L6-v2 map sentences to?", "a 384 dimensional dense vector space [1]")]
    rewritten = standalone("And how many pairs was it fine-tuned on?", history, sparse)
    assert rewritten.startswith("And how many pairs was it fine-tuned on? (") and "all-MiniLM-L6-v2" in rewritten
    assert "[1]" not in rewritten  # a short answer is carried without its marker
    assert standalone("Which river flows through ten countries?", history, sparse) == "Which river flows through ten countries?"
    assert standalone("And what is its dimension?", [], sparse) == "And what is its dimension?"
    chained = [*history, Exchange("And its dimension?", "", searched="And its dimension? (all-MiniLM-L6-v2 sentences)")]
    assert "all-MiniLM-L6-v2" in standalone("What was it fine-tuned on?", chained, sparse)  # carried along a chain


def test_the_engine_searches_with_the_standalone_question(tmp_path, embedder):
    settings = ingested_corpus(tmp_path, embedder, {})
    engine = Engine.from_settings(settings, load_llm=False, embedder=embedder)
    first = engine.ask("Which town have Etna's lava flows reached?")
    alone = engine.ask("Where is it?")
    follow = engine.ask("Where is it?", history=[first.exchange()])
    assert follow.searched.startswith("Where is it? (") and "Etna" in follow.searched
    assert not follow.abstained and follow.citations[0].path == "volcanoes.md"
    assert alone.searched == "" and alone.abstained  # nothing to search for without the conversation
