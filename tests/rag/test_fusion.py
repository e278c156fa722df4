"""Fusion maths on hand-made scores."""

import pytest

from rag.search.fusion import minmax, ranked, reciprocal_rank_fusion, weighted_fusion


def test_minmax_scales_to_unit_range():
    assert minmax({1: 2.0, 2: 4.0, 3: 3.0}) == {1: 0.0, 2: 1.0, 3: 0.5}
    assert minmax({1: 7.0, 2: 7.0}) == {1: 1.0, 2: 1.0}
    assert minmax({}) == {}


def test_weighted_fusion_by_hand():
    dense = {1: 0.9, 2: 0.5, 3: 0.1}  # -> 1.0, 0.5, 0.0
    sparse = {2: 10.0, 4: 0.0}  # -> 1.0, 0.0
    fused = weighted_fusion(dense, sparse, dense_weight=0.5)
    assert fused == pytest.approx({1: 0.5, 2: 0.75, 3: 0.0, 4: 0.0})
    assert ranked(fused) == [2, 1, 3, 4]
    assert weighted_fusion(dense, sparse, 1.0) == pytest.approx({1: 1.0, 2: 0.5, 3: 0.0, 4: 0.0})
    with pytest.raises(ValueError):
        weighted_fusion(dense, sparse, 1.5)


def test_rrf_by_hand():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1]], k=60)
    assert fused == pytest.approx({1: 1 / 61 + 1 / 62, 2: 1 / 62, 3: 1 / 63 + 1 / 61})
    assert ranked(fused) == [1, 3, 2]


def test_ranked_breaks_ties_by_id():
    assert ranked({5: 1.0, 2: 1.0, 9: 2.0}) == [9, 2, 5]
