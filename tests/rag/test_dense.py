from pathlib import Path

import numpy as np

from rag.config import DenseSettings
from rag.dense import DenseIndex, SegmentedDense


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
