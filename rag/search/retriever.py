"""Hybrid retrieval over one index snapshot: dense (FAISS) and BM25 candidates over the same
chunk ids, fused, then optionally reranked by a cross-encoder. Every hit keeps its per-stage
scores and ranks; `timings` collects milliseconds per stage."""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from rag.config import RetrievalSettings
from rag.search.embedding import Embedder
from rag.search.fusion import ranked, reciprocal_rank_fusion, weighted_fusion
from rag.search.hit import Hit
from rag.search.rerank import Reranker
from rag.storage.index import Index

Mode = Literal["sparse", "dense", "hybrid"]


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to files whose path matches a glob and/or whose kind is listed."""

    path_glob: str | None = None
    kinds: tuple[str, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return bool(self.path_glob or self.kinds)


class _Stopwatch:
    def __init__(self, timings: dict[str, float]) -> None:
        self.timings, self.last = timings, time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + (now - self.last) * 1000.0
        self.last = now


class HybridRetriever:
    def __init__(self, index: Index, embedder: Embedder, settings: RetrievalSettings, reranker: Reranker | None = None, rerank_top_n: int = 30) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.reranker = reranker
        self.rerank_top_n = rerank_top_n

    def allowed_ids(self, filters: Filters | None) -> np.ndarray | None:
        if not filters:
            return None
        paths = [
            path
            for path, record in self.index.store.files().items()
            if (not filters.path_glob or fnmatch.fnmatch(path, filters.path_glob)) and (not filters.kinds or record.kind in filters.kinds)
        ]
        return self.index.store.chunk_ids_of(paths)

    def retrieve(
        self,
        query: str,
        top_k: int | None = None,
        filters: Filters | None = None,
        mode: Mode = "hybrid",
        rerank: bool = True,
        timings: dict[str, float] | None = None,
        settings: RetrievalSettings | None = None,
    ) -> list[Hit]:
        """The best `top_k` chunks for `query`, best first. `settings` overrides the retriever's
        own for this query (the UI's sidebar), leaving them unchanged for everyone else."""
        settings = settings or self.settings
        top_k = top_k or settings.top_k
        timings = {} if timings is None else timings
        clock = _Stopwatch(timings)
        allowed = self.allowed_ids(filters)
        n = settings.candidates
        stage_scores: dict[str, dict[int, float]] = {}
        if mode in ("dense", "hybrid"):
            vector = self.embedder.encode_query(query)
            clock.lap("embed_query")
            ids, scores = self.index.dense.search(vector, n, allowed)
            stage_scores["dense"] = {int(i): float(s) for i, s in zip(ids[0], scores[0]) if i >= 0}
            clock.lap("dense")
        if mode in ("sparse", "hybrid"):
            ids, scores = self.index.sparse.search(query, n, allowed)
            stage_scores["sparse"] = {int(i): float(s) for i, s in zip(ids, scores)}
            clock.lap("sparse")
        if mode == "hybrid":
            if settings.fusion == "rrf":
                fused = reciprocal_rank_fusion([ranked(stage_scores["dense"]), ranked(stage_scores["sparse"])], settings.rrf_k)
            else:
                fused = weighted_fusion(stage_scores["dense"], stage_scores["sparse"], settings.dense_weight)
            stage_scores["fused"] = fused
            clock.lap("fuse")
        final_stage = "fused" if mode == "hybrid" else mode
        order = ranked(stage_scores[final_stage])
        use_reranker = rerank and self.reranker is not None
        keep = order[: max(top_k, self.rerank_top_n) if use_reranker else top_k]
        records = self.index.store.chunks(keep)
        clock.lap("fetch")
        if use_reranker and keep:
            rerank_ids = keep[: self.rerank_top_n]
            scores = self.reranker.score(query, [records[i].text for i in rerank_ids])
            stage_scores["rerank"] = {i: float(s) for i, s in zip(rerank_ids, scores)}
            final_stage = "rerank"
            keep = ranked(stage_scores["rerank"])
            clock.lap("rerank")
        rank_of = {stage: {cid: r for r, cid in enumerate(ranked(s), start=1)} for stage, s in stage_scores.items()}
        hits = []
        for cid in keep[:top_k]:
            r = records[cid]
            scores = {stage: s[cid] for stage, s in stage_scores.items() if cid in s}
            ranks = {stage: rank_of[stage][cid] for stage in scores}
            hits.append(Hit(cid, r.path, r.text, r.start, r.end, r.page, r.heading, scores[final_stage], scores, ranks, r.ocr, r.context))
        return hits
