"""Dense search over chunk ids with FAISS: exact inner product for small segments, HNSW past a
size threshold, compressed (IVF-PQ codes searched, 16-bit vectors re-ranking) for the largest; a
flat index moves to the GPU at load time when CUDA is present. Saved always as CPU."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from rag.config import DenseSettings

log = logging.getLogger(__name__)


def gpu_count() -> int:
    """GPUs FAISS can use: 0 with faiss-cpu, or with a GPU build on a machine without CUDA."""
    return faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0


Blocks = Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]]  # a fresh pass of (ids, vectors) blocks each call
TRAIN_PER_LIST = 40  # training vectors per IVF list (FAISS warns below 39)
TRAIN_PQ = 40 * 256  # and at least this many for the PQ's 256 codes per sub-vector


def empty_index(count: int, dim: int, settings: DenseSettings) -> faiss.Index:
    """The index kind for a segment of `count` chunks, ID-mapped. Compressed from `compress_from`:
    at 1M synthetic chunks IVF-PQ (48 bytes) re-ranked on 8-bit vectors built in 18 s, 429 MB,
    recall@10 0.97 at 0.5-0.7 ms a query, on float16 ones 0.99-1.0; HNSW over 8-bit vectors took
    173 s, 626 MB, for 0.95 at 1.1 ms (bench.compressed)."""
    if count >= settings.compress_from:
        m = next(m for m in range(min(settings.pq_m, dim), 0, -1) if dim % m == 0)
        spec = f"IVF{max(1, math.isqrt(count))},PQ{m}np,Refine({settings.refine_codec})"  # np: no polysemous training (82 s of 86 at 20k)
        return faiss.IndexIDMap(faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT))
    if count >= settings.hnsw_threshold:
        inner = faiss.IndexHNSWFlat(dim, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = max(40, 2 * settings.hnsw_m)
        return faiss.IndexIDMap2(inner)
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


@contextmanager
def all_cores(settings: DenseSettings) -> Iterator[None]:
    """Building has the cores to itself (HNSW 200k: 62 s on one, 33 s on two); searching goes back to `faiss_threads`."""
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(settings.faiss_threads)


def training_sample(blocks: Iterable[tuple[np.ndarray, np.ndarray]], count: int, wanted: int) -> np.ndarray:
    """Every (count // wanted)-th vector: spread over the whole segment, the same on every build."""
    step, rows, at = max(1, count // wanted), [], 0
    for _, vectors in blocks:
        first = (-at) % step
        rows.append(vectors[first::step])
        at += len(vectors)
    return np.ascontiguousarray(np.concatenate(rows), dtype=np.float32)


def build_faiss(count: int, dim: int, blocks: Blocks, settings: DenseSettings) -> faiss.Index:
    """An index of the kind `count` calls for, holding every block's vectors under their ids;
    vectors are added a block at a time, so a 10M segment never holds its 15 GB of float32."""
    index = empty_index(count, dim, settings)
    with all_cores(settings):
        if not index.is_trained:
            nlist = faiss.extract_index_ivf(index).nlist
            index.train(training_sample(blocks(), count, max(TRAIN_PER_LIST * nlist, TRAIN_PQ)))
        for ids, vectors in blocks():
            if len(ids):
                index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
    return index


@dataclass
class DenseIndex:
    """A FAISS index keyed by chunk id; `search` takes query vectors, returns ids and scores.

    A flat index on the CPU is also read through a zero-copy NumPy view of its vectors: one
    query is then a BLAS matrix-vector product, measured at 0.6 ms against FAISS's 1.4 ms on
    SciFact's 12k chunks (FAISS scans without BLAS below 20 queries)."""

    index: faiss.Index
    on_gpu: bool = False
    _flat: tuple[np.ndarray, np.ndarray] | None = None  # (vectors view, ids) of a CPU flat index

    def __post_init__(self) -> None:
        inner = self.inner
        if not self.on_gpu and isinstance(inner, faiss.IndexFlat) and inner.ntotal:
            view = faiss.rev_swig_ptr(inner.get_xb(), inner.ntotal * inner.d).reshape(inner.ntotal, inner.d)
            self._flat = (view, faiss.vector_to_array(self.index.id_map))

    @property
    def inner(self) -> faiss.Index | None:
        """The index under the id map (flat, HNSW or the compressed IndexRefine); None on the GPU."""
        return faiss.downcast_index(self.index.index) if isinstance(self.index, faiss.IndexIDMap) else None

    @classmethod
    def build(cls, ids: np.ndarray, vectors: np.ndarray, settings: DenseSettings) -> DenseIndex:
        return cls(build_faiss(len(ids), vectors.shape[1], lambda: [(ids, vectors)], settings))

    @classmethod
    def build_blocks(cls, count: int, dim: int, blocks: Blocks, settings: DenseSettings) -> DenseIndex:
        return cls(build_faiss(count, dim, blocks, settings))

    def ids(self) -> np.ndarray:
        """Every chunk id held, in the order added."""
        return faiss.vector_to_array(self.index.id_map)

    def save(self, path: Path) -> None:
        index = faiss.index_gpu_to_cpu(self.index) if self.on_gpu else self.index
        faiss.write_index(index, str(path))

    @classmethod
    def load(cls, path: Path, settings: DenseSettings) -> DenseIndex:
        faiss.omp_set_num_threads(settings.faiss_threads)
        index = faiss.read_index(str(path))
        inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap) else None
        if isinstance(inner, faiss.IndexHNSW):
            inner.hnsw.efSearch = settings.hnsw_ef_search
        if isinstance(inner, faiss.IndexRefine):
            inner.k_factor = settings.refine_factor
            faiss.extract_index_ivf(inner).nprobe = settings.ivf_nprobe
        if settings.use_gpu and gpu_count() > 0 and isinstance(inner, faiss.IndexFlat):
            log.info("dense search on the GPU (%d device(s))", gpu_count())
            return cls(faiss.index_cpu_to_all_gpus(index), on_gpu=True)
        if settings.use_gpu and gpu_count() == 0:
            log.debug("dense search on the CPU (FAISS sees no GPU)", extra={"event": "fallback", "reason": "no GPU for FAISS"})
        return cls(index)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def breadth(self, share: float) -> int | None:
        """The efSearch of an HNSW segment holding `share` of a collection: that share of the
        configured one (16 at least), as a small graph finds its few true neighbours with less.
        At 1M synthetic chunks one graph at 256 reached recall@10 0.957 in 0.7 ms; 10 segments
        of 100k at 26 (each asked for 30, `SegmentedDense`) 0.99 in 2.1 ms, at sqrt(share) of
        256 0.999 in 3.9 ms. None for other kinds. Passed per search, so a segment shared by two
        snapshots is never changed under a query."""
        inner = self.inner
        return max(16, round(inner.hnsw.efSearch * min(1.0, share))) if isinstance(inner, faiss.IndexHNSW) else None

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None, excluded: np.ndarray | None = None, ef_search: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores), each (n_queries, k'), best first; k' = min(k, size). With `allowed`
        (chunk ids), only those are searched, and never those in `excluded`; missing slots hold
        id -1. `ef_search` overrides an HNSW segment's breadth for this search."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(k, len(self) if allowed is None else len(allowed))
        if k == 0:
            n = len(queries)
            return np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0), dtype=np.float32)
        if self._flat is not None and len(queries) < 20:
            return self._search_flat(queries, k, allowed, excluded)
        selector = None
        if allowed is not None:
            allowed = allowed if excluded is None or not len(excluded) else np.setdiff1d(allowed, excluded)
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        elif excluded is not None and len(excluded):
            selector = faiss.IDSelectorNot(faiss.IDSelectorBatch(np.ascontiguousarray(excluded, dtype=np.int64)))
        inner = self.inner
        if isinstance(inner, faiss.IndexHNSW) and (selector is not None or ef_search is not None):
            params = faiss.SearchParametersHNSW(efSearch=ef_search or inner.hnsw.efSearch)
            if selector is not None:
                params.sel = selector
        elif selector is None:
            params = None
        elif isinstance(inner, faiss.IndexRefine):  # it passes only its base's parameters on: translate the ids there
            translated = faiss.IDSelectorTranslated(self.index.id_map, selector)
            base = faiss.SearchParametersIVF(sel=translated, nprobe=faiss.extract_index_ivf(inner).nprobe)
            params = faiss.IndexRefineSearchParameters(k_factor=inner.k_factor, base_index_params=base)
        else:
            params = faiss.SearchParameters(sel=selector)
        scores, ids = self.index.search(queries, k, params=params)
        return ids, scores

    def _search_flat(self, queries: np.ndarray, k: int, allowed: np.ndarray | None, excluded: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        vectors, row_ids = self._flat
        all_scores = queries @ vectors.T  # (n_queries, rows)
        if allowed is not None:
            all_scores[:, ~np.isin(row_ids, allowed)] = -np.inf
        if excluded is not None and len(excluded):
            all_scores[:, np.isin(row_ids, excluded)] = -np.inf
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        for i, row in enumerate(all_scores):
            top = np.argpartition(-row, k - 1)[:k] if k < len(row) else np.arange(len(row))
            top = top[np.argsort(-row[top], kind="stable")]
            top = top[np.isfinite(row[top])]
            ids[i, : len(top)], scores[i, : len(top)] = row_ids[top], row[top]
        return ids, scores


class SegmentedDense:
    """Dense search over segments: each is searched, then the hits merge by score (inner
    products are comparable across segments), ties by chunk id; `deleted` ids never come back.
    Flat segments (the small ones) are searched as one: a single matrix-vector product instead of
    one call each (10 flat segments of 3k chunks: 6.5 ms a query, one call 0.3 ms). An HNSW
    segment holding a share of the collection is first asked for a little more than its share of
    the k (`first_ask`; k = 100 over 10 equal segments: 20 each, 2.1 ms against 4.5 ms for 100 each); one that
    filled that and whose last hit still reaches the merged k-th may hold more, so it is asked
    again for all k (a segment of one topic, say)."""

    def __init__(self, segments: list[DenseIndex], deleted: np.ndarray | None = None) -> None:
        flat = [s for s in segments if s._flat is not None]
        if len(flat) > 1:
            vectors, ids = np.concatenate([s._flat[0] for s in flat]), np.concatenate([s._flat[1] for s in flat])
            combined = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
            combined.add_with_ids(vectors, ids)
            segments = [s for s in segments if s._flat is None] + [DenseIndex(combined)]
        self.segments = [s for s in segments if len(s)]
        total = sum(len(s) for s in self.segments)
        self.shares = [len(s) / total for s in self.segments]
        self.breadths = [s.breadth(share) for s, share in zip(self.segments, self.shares)]
        self.deleted = np.zeros(0, dtype=np.int64) if deleted is None else deleted
        self._live = total - len(self.deleted)

    def __len__(self) -> int:
        return self._live

    @property
    def on_gpu(self) -> bool:
        return any(s.on_gpu for s in self.segments)

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores), each (n_queries, k'), as DenseIndex.search."""
        queries = np.atleast_2d(queries)
        k = min(k, len(self) if allowed is None else len(allowed))
        if k <= 0 or not self.segments:
            return np.zeros((len(queries), 0), dtype=np.int64), np.zeros((len(queries), 0), dtype=np.float32)
        if len(self.segments) == 1:
            return self.segments[0].search(queries, k, allowed, self.deleted, self.breadths[0])
        asked = [k if ef is None else first_ask(k, share) for ef, share in zip(self.breadths, self.shares)]
        found = [s.search(queries, n, allowed, self.deleted, ef) for s, n, ef in zip(self.segments, asked, self.breadths)]
        ids, scores = _best(found, k)
        kth = np.where(ids[:, -1] >= 0, scores[:, -1], -np.inf)
        again = [j for j, (n, f) in enumerate(zip(asked, found)) if n < k and f[0].shape[1] == n and np.any((f[0][:, -1] >= 0) & (f[1][:, -1] >= kth))]
        for j in again:
            found[j] = self.segments[j].search(queries, k, allowed, self.deleted, self.breadths[j])
        return _best(found, k) if again else (ids, scores)


def first_ask(k: int, share: float) -> int:
    """How many of the k best an HNSW segment holding `share` of the chunks is first asked for:
    1.5 times its share of them plus 5, as an equal segment holds about share x k (10 segments of
    100k, k = 100: 20 each; recall@100 0.978 as with 30)."""
    return min(k, math.ceil(1.5 * k * share) + 5)


def _best(found: list[tuple[np.ndarray, np.ndarray]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best of several segments' (ids, scores) per query, ties by chunk id; -1 pads."""
    ids = np.concatenate([f[0] for f in found], axis=1)
    scores = np.concatenate([f[1] for f in found], axis=1)
    scores = np.where(ids < 0, -np.inf, scores)
    out_ids = np.full((len(ids), k), -1, dtype=np.int64)
    out_scores = np.full((len(ids), k), -np.inf, dtype=np.float32)
    for i in range(len(ids)):
        order = np.lexsort((ids[i], -scores[i]))[:k]
        order = order[np.isfinite(scores[i][order])]
        out_ids[i, : len(order)], out_scores[i, : len(order)] = ids[i][order], scores[i][order]
    return out_ids, out_scores
