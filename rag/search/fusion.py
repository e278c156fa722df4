"""Rank fusion as pure functions over {chunk id: score} maps: normalised-score combination (the
default: 0.733 vs RRF's 0.719 nDCG@10 on SciFact train) and reciprocal rank fusion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def minmax(scores: Mapping[int, float]) -> dict[int, float]:
    """Scores scaled to [0, 1] (all 1.0 when they are all equal)."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high == low:
        return {k: 1.0 for k in scores}
    return {k: (v - low) / (high - low) for k, v in scores.items()}


def weighted_fusion(dense: Mapping[int, float], sparse: Mapping[int, float], dense_weight: float) -> dict[int, float]:
    """weight * minmax(dense) + (1 - weight) * minmax(sparse); a chunk missing from one list gets 0 there."""
    if not 0.0 <= dense_weight <= 1.0:
        raise ValueError(f"dense weight must be within [0, 1], got {dense_weight}")
    d, s = minmax(dense), minmax(sparse)
    return {k: dense_weight * d.get(k, 0.0) + (1.0 - dense_weight) * s.get(k, 0.0) for k in d.keys() | s.keys()}


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = 60) -> dict[int, float]:
    """sum over rankings of 1 / (k + rank), rank starting at 1 (Cormack et al., 2009)."""
    if k < 0:
        raise ValueError(f"RRF k must be >= 0, got {k}")
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return fused


def ranked(scores: Mapping[int, float]) -> list[int]:
    """Keys by descending score; ties broken by ascending key, so the order is deterministic."""
    return sorted(scores, key=lambda key: (-scores[key], key))
