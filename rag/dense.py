"""Dense search over chunk ids with FAISS: exact inner product for small collections, HNSW past
a size threshold, moved to the GPU at load time when CUDA is present. Saved always as CPU."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from rag.config import DenseSettings

log = logging.getLogger(__name__)


def gpu_count() -> int:
    """GPUs FAISS can use: 0 with faiss-cpu, or with a GPU build on a machine without CUDA."""
    return faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0


def build_faiss(ids: np.ndarray, vectors: np.ndarray, settings: DenseSettings) -> faiss.Index:
    """An ID-mapped inner-product index holding `vectors` under `ids`."""
    dim = vectors.shape[1]
    if len(ids) >= settings.hnsw_threshold:
        inner = faiss.IndexHNSWFlat(dim, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = max(40, 2 * settings.hnsw_m)
    else:
        inner = faiss.IndexFlatIP(dim)
    index = faiss.IndexIDMap2(inner)
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
    return index


@dataclass
class DenseIndex:
    """A FAISS index keyed by chunk id; `search` takes query vectors, returns ids and scores."""

    index: faiss.Index
    on_gpu: bool = False

    @classmethod
    def build(cls, ids: np.ndarray, vectors: np.ndarray, settings: DenseSettings) -> "DenseIndex":
        return cls(build_faiss(ids, vectors, settings))

    def save(self, path: Path) -> None:
        index = faiss.index_gpu_to_cpu(self.index) if self.on_gpu else self.index
        faiss.write_index(index, str(path))

    @classmethod
    def load(cls, path: Path, settings: DenseSettings) -> "DenseIndex":
        faiss.omp_set_num_threads(settings.faiss_threads)
        index = faiss.read_index(str(path))
        hnsw = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else None
        if isinstance(hnsw, faiss.IndexHNSW):
            hnsw.hnsw.efSearch = settings.hnsw_ef_search
        if settings.use_gpu and gpu_count() > 0 and not isinstance(hnsw, faiss.IndexHNSW):
            log.info("dense search on the GPU (%d device(s))", gpu_count())
            return cls(faiss.index_cpu_to_all_gpus(index), on_gpu=True)
        return cls(index)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores), each (n_queries, k'), best first; k' = min(k, size). With `allowed`
        (chunk ids), only those are searched; missing slots hold id -1."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(k, len(self) if allowed is None else len(allowed))
        if k == 0:
            n = len(queries)
            return np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0), dtype=np.float32)
        if allowed is None:
            scores, ids = self.index.search(queries, k)
        else:
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
            scores, ids = self.index.search(queries, k, params=faiss.SearchParameters(sel=selector))
        return ids, scores
