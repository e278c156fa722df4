"""BM25: the tokenizer, and bm25s against rank-bm25 (the reference) when configured alike."""

from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from rag.config import BM25Settings
from rag.sparse import SparseIndex, Tokenizer

CORPUS = [
    "Aspirin reduces the risk of heart attacks in adults with cardiovascular disease.",
    "The heart pumps blood through the circulatory system.",
    "Statins lower cholesterol and reduce cardiovascular events.",
    "Running improves cardiovascular fitness and lowers blood pressure.",
    "Vitamin D deficiency is common in northern latitudes during winter.",
    "Sunlight exposure lets the skin synthesise vitamin D.",
    "Blood pressure medication includes ACE inhibitors and beta blockers.",
    "Attacks of migraine are sometimes treated with aspirin.",
    "Cholesterol is carried in the blood by lipoproteins.",
    "Winter running requires warm clothing and good shoes.",
]
QUERIES = ["aspirin heart attack", "vitamin D winter", "blood pressure running", "cholesterol statins", "lipoproteins"]


def test_tokenizer_stems_and_drops_stopwords():
    tok = Tokenizer("english", "en")
    assert tok("The runners are running quickly") == ["runner", "run", "quick"]
    assert Tokenizer(None, None)("The cats") == ["the", "cats"]
    assert tok("") == []


@pytest.mark.parametrize("query", QUERIES)
def test_bm25s_ranks_like_rank_bm25(query: str):
    """rank-bm25's BM25Okapi scores are bm25s 'robertson' scores times the constant k1 + 1."""
    settings = BM25Settings(method="robertson", k1=1.5, b=0.75)
    index = SparseIndex.build(enumerate(CORPUS, start=100), settings)
    tok = index.tokenizer
    reference = BM25Okapi([tok(d) for d in CORPUS], k1=1.5, b=0.75, epsilon=0.25)
    expected = reference.get_scores(tok(query))
    got = index.scores(query)
    np.testing.assert_allclose(got * (1.5 + 1), expected, rtol=1e-4, atol=1e-5)
    ids, _ = index.search(query, k=3)
    ref_order = np.argsort(-expected, kind="stable")[: len(ids)] + 100
    assert list(ids) == list(ref_order)


def test_search_returns_chunk_ids_and_skips_zero_scores():
    index = SparseIndex.build([(7, "alpha beta"), (9, "gamma delta"), (11, "beta gamma")], BM25Settings())
    ids, scores = index.search("beta", k=10)
    assert set(ids) == {7, 11} and np.all(scores > 0)
    assert len(index.search("zzzunknown", k=5)[0]) == 0
    assert len(index.search("", k=5)[0]) == 0


def test_save_and_load_round_trip(tmp_path: Path):
    settings = BM25Settings()
    index = SparseIndex.build(enumerate(CORPUS), settings)
    index.save(tmp_path / "sparse")
    loaded = SparseIndex.load(tmp_path / "sparse", settings)
    np.testing.assert_allclose(loaded.scores("aspirin heart"), index.scores("aspirin heart"))
    empty = SparseIndex.build([], settings)
    empty.save(tmp_path / "empty")
    assert len(SparseIndex.load(tmp_path / "empty", settings)) == 0
