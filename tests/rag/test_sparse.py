"""BM25: the tokenizer, our scores against bm25s and rank-bm25 (the references) when configured\nalike, and segments that rank exactly like one index."""

from pathlib import Path

import bm25s
import numpy as np
import pytest
from rank_bm25 import BM25Okapi

import rag.storage.sparse
from rag.config import BM25Settings
from rag.storage.maxscore import top_rows
from rag.storage.sparse import SparseIndex, SparseSegment, Tokenizer

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


def test_whole_numbers_are_one_term_in_place_of_their_parts():
    tok = Tokenizer.of(BM25Settings())
    assert tok("Debian 2.0 (Hamm) and Ubuntu 22.04.") == ["debian", "hamm", "ubuntu", "2.0", "22.04"]
    assert tok("v2.0 at 192.168.0.1") == ["v2", "192.168.0.1"]  # a number inside a word stays the word's
    assert Tokenizer("english", "en")("Ubuntu 22.04") == ["ubuntu", "22", "04"]  # off: the word rule alone, as before
    rows = [(i, f"| {v} | {name} |") for i, (v, name) in enumerate([("1.3", "Bo"), ("2.0", "Hamm"), ("2.1", "Slink"), ("3.0", "Woody")])]
    ids, _ = SparseIndex.build(rows, BM25Settings()).search("Which codename had Debian 2.0?", 1)
    assert list(ids) == [1]  # the word rule alone finds no term of "2.0" at all


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
    index.segments[0].save(tmp_path / "sparse")
    loaded = SparseIndex([SparseSegment.load(tmp_path / "sparse")], settings)
    np.testing.assert_array_equal(loaded.scores("aspirin heart"), index.scores("aspirin heart"))
    empty = SparseIndex.build([], settings)
    empty.segments[0].save(tmp_path / "empty")
    assert len(SparseIndex([SparseSegment.load(tmp_path / "empty")], settings)) == 0
    assert len(empty.search("aspirin", 5)[0]) == 0


@pytest.mark.parametrize("method", ["lucene", "robertson", "atire"])
def test_scores_are_bm25s_scores(method: str):
    """The same formulas as bm25s (which precomputes them): scores agree to float32 precision."""
    settings = BM25Settings(method=method)
    index = SparseIndex.build(enumerate(CORPUS), settings)
    reference = bm25s.BM25(method=method, k1=settings.k1, b=settings.b)
    reference.index([index.tokenizer(d) for d in CORPUS], show_progress=False)
    for query in QUERIES + ["aspirin aspirin heart"]:
        np.testing.assert_allclose(index.scores(query), reference.get_scores(index.tokenizer(query)), rtol=1e-5, atol=1e-6)


def _segmented(texts: list[tuple[int, str]], cuts: list[int], settings: BM25Settings) -> SparseIndex:
    tok = Tokenizer(settings.stemmer, settings.stopwords)
    bounds = [0, *cuts, len(texts)]
    return SparseIndex([SparseSegment.build(texts[a:b], tok) for a, b in zip(bounds, bounds[1:])], settings)


@pytest.mark.parametrize("cuts", [[3], [1, 2, 7], [5, 9]])
def test_segments_rank_exactly_like_one_index(cuts: list[int]):
    """Collection-wide statistics: how a collection is cut into segments changes no score."""
    settings = BM25Settings()
    texts = list(enumerate(CORPUS, start=1))
    whole, cut = SparseIndex.build(texts, settings), _segmented(texts, cuts, settings)
    for query in QUERIES:
        ids, scores = whole.search(query, 10)
        got_ids, got_scores = cut.search(query, 10)
        assert list(got_ids) == list(ids) and np.array_equal(got_scores, scores)
        np.testing.assert_array_equal(cut.idf(cut.tokenizer(query)), whole.idf(whole.tokenizer(query)))


def test_deleted_chunks_leave_results_and_statistics():
    """An index with chunks deleted scores like one built without them."""
    settings = BM25Settings()
    texts = list(enumerate(CORPUS, start=1))
    gone = np.array([1, 8], dtype=np.int64)  # the two aspirin chunks
    with_deletes = SparseIndex(_segmented(texts, [4], settings).segments, settings, deleted=gone)
    without = SparseIndex.build([t for t in texts if t[0] not in gone], settings)
    assert len(with_deletes) == len(CORPUS) - 2
    for query in QUERIES:
        ids, scores = without.search(query, 10)
        got_ids, got_scores = with_deletes.search(query, 10)
        assert list(got_ids) == list(ids) and np.array_equal(got_scores, scores)
    assert len(with_deletes.search("aspirin", 10)[0]) == 0


def test_merged_segments_keep_their_live_rows():
    settings = BM25Settings()
    texts = list(enumerate(CORPUS, start=1))
    parts = _segmented(texts, [3, 6], settings).segments
    live = [np.ones(len(s), dtype=bool) for s in parts]
    live[1][0] = False  # chunk 4 deleted
    merged = SparseSegment.merged(list(zip(parts, live)))
    assert list(merged.ids) == [i for i, _ in texts if i != 4]
    expected = SparseIndex.build([t for t in texts if t[0] != 4], settings)
    for query in QUERIES:
        assert np.array_equal(SparseIndex([merged], settings).scores(query), expected.scores(query))


@pytest.mark.parametrize("seed", range(5))
def test_top_rows_are_the_k_best_with_their_ties(seed: int):
    rng = np.random.default_rng(seed)
    scores = np.zeros(200_000, dtype=np.float32)
    scores[rng.choice(len(scores), 50_000, replace=False)] = rng.integers(1, 400, 50_000).astype(np.float32)  # many ties
    for k in (1, 10, 100, 60_000):
        rows = top_rows(scores, k)
        kth = np.sort(scores)[::-1][k - 1]
        expected = np.flatnonzero((scores >= kth) & (scores > 0))
        assert set(rows.tolist()) == set(expected.tolist())


@pytest.mark.parametrize("cuts", [(0, 3000), (0, 1800, 3000), tuple(range(0, 3001, 300))])
def test_pruned_search_returns_exactly_what_scoring_every_chunk_returns(monkeypatch: pytest.MonkeyPatch, cuts: tuple[int, ...]):
    """MaxScore on a Zipf collection (common words in most chunks, as at 10M), in 1, 2 and 10
    segments: the same ids and bit-identical scores as the full pass, with deleted chunks, an
    allowed set, repeated query terms and ties; and it did prune and did fall back, else this
    test would compare the full pass with itself."""
    rng = np.random.default_rng(11)
    p = 1.0 / np.arange(1, 301) ** 1.1
    words = np.array([f"w{i}" for i in range(300)])
    texts = [(i + 1, " ".join(words[rng.choice(300, size=12, p=p / p.sum())])) for i in range(3000)]
    settings = BM25Settings(stemmer=None, stopwords=None)
    segments = [SparseSegment.build(texts[a:b], Tokenizer(None, None)) for a, b in zip(cuts, cuts[1:])]
    index = SparseIndex(segments, settings, deleted=np.arange(5, 3000, 17))
    queries = [" ".join(words[rng.choice(300, size=int(rng.integers(2, 5)), p=p / p.sum())]) for _ in range(60)] + ["w0 w0 w57", "w1 w2"]
    allowed = np.arange(1, 3001, 3)
    outcomes = {"pruned": 0, "full pass": 0}
    real = rag.storage.sparse.pruned_top

    def counting(*args, **kw):
        top = real(*args, **kw)
        outcomes["full pass" if top is None else "pruned"] += 1
        return top

    for k in (1, 10, 50):
        for query in queries:
            for only in (None, allowed):
                monkeypatch.setattr("rag.storage.maxscore.PRUNE_FROM", 10**9)
                full = index.search(query, k, only)
                monkeypatch.setattr("rag.storage.maxscore.PRUNE_FROM", 10)
                monkeypatch.setattr(rag.storage.sparse, "pruned_top", counting)
                fast = index.search(query, k, only)
                monkeypatch.setattr(rag.storage.sparse, "pruned_top", real)
                np.testing.assert_array_equal(fast[0], full[0])
                np.testing.assert_array_equal(fast[1], full[1])
    assert outcomes["pruned"] > 100 and outcomes["full pass"] > 10, outcomes


def test_a_term_whose_chunks_a_merge_dropped_does_not_break_pruning(monkeypatch: pytest.MonkeyPatch):
    """A merged segment keeps the column of a term whose only chunk was deleted, empty; a query
    with that term (live in another segment) prunes past it and ranks as the full pass does."""
    settings = BM25Settings(stemmer=None, stopwords=None)
    tok = Tokenizer(None, None)
    part = SparseSegment.build([(1, "common rare"), (2, "common word"), *((i, "common other") for i in range(3, 40))], tok)
    merged = SparseSegment.merged([(part, np.arange(39) > 0)])
    other = SparseSegment.build([(40, "common rare"), (41, "common")], tok)
    index = SparseIndex([merged, other], settings)
    for query in ("common rare", "common word rare"):  # the second scores rows of the merged segment for "rare" too
        monkeypatch.setattr("rag.storage.maxscore.PRUNE_FROM", 10**9)
        full = index.search(query, 3)
        monkeypatch.setattr("rag.storage.maxscore.PRUNE_FROM", 1)
        fast = index.search(query, 3)
        np.testing.assert_array_equal(fast[0], full[0])
        np.testing.assert_array_equal(fast[1], full[1])


@pytest.mark.parametrize("prune_from", [10**9, 10])
def test_a_segment_holding_most_of_the_top_k_is_searched_for_all_of_it(monkeypatch: pytest.MonkeyPatch, prune_from: int):
    """One segment of ten that holds a whole topic gives all k of a query on it, as the
    collection built in one go does."""
    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(50)]
    texts = [(i + 1, " ".join(rng.choice(words, 8)) + (" glacier" * int(rng.integers(1, 4)) if i < 300 else "")) for i in range(3000)]
    settings = BM25Settings(stemmer=None, stopwords=None)
    whole = SparseIndex.build(texts, settings)
    cut = _segmented(texts, list(range(300, 3000, 300)), settings)
    monkeypatch.setattr("rag.storage.maxscore.PRUNE_FROM", prune_from)
    for query in ("glacier", "glacier w3", "w7 glacier w9"):
        ids, scores = cut.search(query, 80)
        expected_ids, expected_scores = whole.search(query, 80)
        assert len(ids) == 80 and (query != "glacier" or ids.max() <= 300)  # all from the first segment
        np.testing.assert_array_equal(ids, expected_ids)
        np.testing.assert_array_equal(scores, expected_scores)
