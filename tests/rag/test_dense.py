from pathlib import Path

import numpy as np

from rag.config import DenseSettings
from rag.storage.dense import DenseIndex, SegmentedDense


def unit_vectors(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_flat_search_returns_ids_best_first(tmp_path: Path):
    vectors = unit_vectors(50)
    ids = np.arange(1000, 1050, dtype=np.int64)
    index = DenseIndex.build(ids, vectors, DenseSettings())
    found, scores = index.search(vectors[[3, 17]], k=5)
    assert list(found[:, 0]) == [1003, 1017]
    assert np.all(np.diff(scores, axis=1) <= 1e-6)
    index.save(tmp_path / "d.faiss")
    loaded = DenseIndex.load(tmp_path / "d.faiss", DenseSettings())
    assert len(loaded) == 50 and loaded.search(vectors[3], k=1)[0][0, 0] == 1003


def test_hnsw_past_the_threshold(tmp_path: Path):
    vectors = unit_vectors(300, seed=1)
    ids = np.arange(300, dtype=np.int64) * 2
    settings = DenseSettings(hnsw_threshold=100)
    index = DenseIndex.build(ids, vectors, settings)
    index.save(tmp_path / "h.faiss")
    loaded = DenseIndex.load(tmp_path / "h.faiss", settings)
    found, _ = loaded.search(vectors[:20], k=1)
    assert (found[:, 0] == ids[:20]).mean() >= 0.95


def test_empty_index_searches_to_nothing():
    index = DenseIndex.build(np.zeros(0, dtype=np.int64), np.zeros((0, 8), dtype=np.float32), DenseSettings())
    found, scores = index.search(np.ones(8, dtype=np.float32), k=3)
    assert found.shape == (1, 0)


def test_segments_search_like_one_index_without_their_deleted_ids():
    """Flat and HNSW segments together, some ids deleted: the same hits as one exact index
    built without them (HNSW at this size and breadth is exact here)."""
    vectors = unit_vectors(400, seed=2)
    ids = np.arange(1, 401, dtype=np.int64)
    settings = DenseSettings(hnsw_threshold=150)
    cuts = [(0, 200), (200, 260), (260, 330), (330, 400)]  # one HNSW segment, three flat
    segments = [DenseIndex.build(ids[a:b], vectors[a:b], settings) for a, b in cuts]
    deleted = ids[::7]
    segmented = SegmentedDense(segments, deleted)
    keep = ~np.isin(ids, deleted)
    reference = DenseIndex.build(ids[keep], vectors[keep], DenseSettings())
    assert len(segmented) == keep.sum() and len(segmented.segments) == 2  # the flat ones are searched as one
    queries = unit_vectors(10, seed=3)
    found, scores = segmented.search(queries, 10)
    expected, expected_scores = reference.search(queries, 10)
    np.testing.assert_array_equal(found, expected)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5)
    allowed = ids[1::3]
    found, _ = segmented.search(queries, 5, allowed)
    assert np.isin(found[found >= 0], np.setdiff1d(allowed, deleted)).all()


def test_a_segment_holding_all_the_best_hits_is_asked_again_for_them():
    """HNSW segments are first asked for a little more than their share of k: a segment of one topic
    holds every hit of a query on it, fills that smaller ask and is asked again, so the hits
    are one exact index's (else 23 of the 40 would come from the other segments)."""
    rng = np.random.default_rng(6)
    centre = unit_vectors(1, seed=7)
    topic = centre + rng.normal(size=(120, 16)).astype(np.float32) * 0.05
    topic /= np.linalg.norm(topic, axis=1, keepdims=True)
    others = unit_vectors(600, seed=8)
    others = others[others @ centre[0] < 0.5]
    vectors = np.concatenate([others[:240], topic, others[240:480]])
    ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
    segments = [DenseIndex.build(ids[a : a + 120], vectors[a : a + 120], DenseSettings(hnsw_threshold=100)) for a in range(0, 600, 120)]
    for segment in segments:  # a search this broad is exact in graphs of 120: what is tested is who is asked for how many
        segment.inner.hnsw.efSearch = 1000
    segmented = SegmentedDense(segments)
    assert len(vectors) == 600 and segmented.breadths == [200] * 5  # five HNSW segments, none flat
    queries = topic[:5] + 0.01 * unit_vectors(5, seed=9)
    found, scores = segmented.search(queries, 40)
    expected, expected_scores = DenseIndex.build(ids, vectors, DenseSettings()).search(queries, 40)
    np.testing.assert_array_equal(found, expected)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5)
    assert np.isin(found, ids[240:360]).all()


def clustered(n: int, dim: int, seed: int) -> np.ndarray:
    """Vectors around a few centres, as embeddings are (uniform noise has no neighbours to find)."""
    rng = np.random.default_rng(seed)
    centres = unit_vectors(20, dim, seed + 1)
    v = centres[rng.integers(0, 20, n)] + rng.normal(size=(n, dim)).astype(np.float32) * 0.3 / np.sqrt(dim)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_a_compressed_segment_is_built_in_blocks_and_finds_what_exact_search_finds(tmp_path: Path):
    """Past `compress_from` a segment is IVF-PQ re-ranked on 8-bit vectors, trained on a sample
    spread over every block; its top 10 agree with exact search, saved and loaded, and the
    allowed/excluded ids hold through the id translation the re-ranking layer needs."""
    vectors = clustered(3000, 32, seed=4)
    ids = np.arange(3000, dtype=np.int64) * 3 + 7
    settings = DenseSettings(compress_from=1000, pq_m=8, ivf_nprobe=8, refine_factor=4)
    blocks = lambda: [(ids[a : a + 700], vectors[a : a + 700]) for a in range(0, 3000, 700)]  # noqa: E731
    DenseIndex.build_blocks(3000, 32, blocks, settings).save(tmp_path / "c.faiss")
    index = DenseIndex.load(tmp_path / "c.faiss", settings)
    assert type(index.inner).__name__ == "IndexRefine" and len(index) == 3000
    np.testing.assert_array_equal(index.ids(), ids)
    exact = DenseIndex.build(ids, vectors, DenseSettings())
    queries = clustered(30, 32, seed=5)
    found, scores = index.search(queries, 10)
    truth, _ = exact.search(queries, 10)
    assert np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]) >= 0.9
    assert np.all(np.diff(scores, axis=1) <= 1e-6)
    allowed, excluded = ids[::2], ids[::6]
    found, _ = index.search(queries, 10, allowed, excluded)
    hits = found[found >= 0]
    assert len(hits) == 300 and np.isin(hits, allowed).all() and not np.isin(hits, excluded).any()
    found, _ = index.search(queries, 10, excluded=excluded)
    assert (found >= 0).all() and not np.isin(found, excluded).any()
