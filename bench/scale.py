"""Scale: a synthetic collection of N chunks (1M by default) through the product's own index.

Vectors are random unit vectors of the model's dimension drawn around random topic centres
(uniform noise in 384 dimensions has no neighbours worth finding, unlike real embeddings);
each query is a noisy copy of one chunk's vector. Text is drawn from a Zipf vocabulary and a
query's words from its chunk. FAISS flat (exact), IVF and the product's dense index (HNSW
past `dense.hnsw_threshold`) are compared on build time, recall@10 against flat and latency;
BM25 is built and queried at full size; then the whole hybrid retriever runs over a real
snapshot (SQLite store + FAISS + BM25). Query vectors are given, not embedded: the MiniLM
query time is measured on SciFact (the `query` stage) and adds to the hybrid figure."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from pathlib import Path

import faiss
import numpy as np

from bench.measure import PeakRss, each_timed, timed
from eval.latency import percentiles
from rag.config import Settings
from rag.search.retriever import HybridRetriever
from rag.storage.index import HybridIndex, spec_from_settings
from rag.storage.segment_writer import SnapshotWriter
from rag.storage.snapshots import NewSnapshot
from rag.storage.store import NewChunk

VOCABULARY, ZIPF_S, WORDS_PER_CHUNK, CHUNKS_PER_FILE = 50_000, 1.1, 60, 100
EF_SWEEP = (64, 128, 256, 512, 1024)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def topic_centres(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """One topic centre per 1,000 chunks (16 at least)."""
    return unit(rng.standard_normal((max(16, n // 1000), dim)))


def block_vectors(centres: np.ndarray, m: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """`m` unit vectors, each a random centre plus noise."""
    noise = rng.standard_normal((m, dim)).astype(np.float32) / math.sqrt(dim)
    return unit(centres[rng.integers(0, len(centres), m)] + noise)


def block_texts(m: int, rng: np.random.Generator) -> list[str]:
    """`m` texts of WORDS_PER_CHUNK words from a Zipf vocabulary."""
    p = 1.0 / np.arange(1, VOCABULARY + 1) ** ZIPF_S
    words = np.array([f"w{i}" for i in range(VOCABULARY)])[rng.choice(VOCABULARY, size=m * WORDS_PER_CHUNK, p=p / p.sum())]
    return [" ".join(words[i * WORDS_PER_CHUNK : (i + 1) * WORDS_PER_CHUNK]) for i in range(m)]


def query_vectors(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Noisy copies of chunk vectors, each nearest its own chunk."""
    return unit(vectors + rng.standard_normal(vectors.shape).astype(np.float32) * (0.5 / math.sqrt(vectors.shape[1])))


def synthetic(n: int, dim: int, queries: int, seed: int = 0) -> tuple[np.ndarray, list[str], np.ndarray, list[str], np.ndarray]:
    """(vectors, texts, query vectors, query texts, the chunk each query was drawn from)."""
    rng = np.random.default_rng(seed)
    centres = topic_centres(n, dim, rng)
    vectors = np.empty((n, dim), dtype=np.float32)
    for at in range(0, n, 100_000):
        vectors[at : at + 100_000] = block_vectors(centres, min(100_000, n - at), dim, rng)
    texts = block_texts(n, rng)
    source = rng.choice(n, size=queries, replace=False)
    queried = query_vectors(vectors[source], rng)
    query_texts = [" ".join(rng.choice(texts[i].split(), size=4, replace=False)) for i in source]
    return vectors, texts, queried, query_texts, source


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f[:10]) & set(t[:10])) / 10 for f, t in zip(found, truth)]))


def search_latency(index: faiss.Index, queries: np.ndarray, k: int = 10, params: faiss.SearchParameters | None = None) -> tuple[np.ndarray, dict]:
    """Each query searched alone: (the ids found, latency percentiles)."""
    found, latency = each_timed(lambda q: index.search(q[None, :], k, params=params)[1][0], queries)
    return np.asarray(found), latency


class GivenVectors:
    """The retriever's embedder for synthetic queries: returns each query's own vector."""

    def __init__(self, texts: list[str], vectors: np.ndarray) -> None:
        self._by_text = dict(zip(texts, vectors))

    def encode_query(self, text: str) -> np.ndarray:
        return self._by_text[text][None, :]


def add_synthetic_files(writer: SnapshotWriter, texts: list[str], vectors: np.ndarray, first: int = 0, docs: Path | None = None) -> None:
    """Store the chunks as files of CHUNKS_PER_FILE, numbered from `first`; with `docs`, each file
    is also written there (its chunks' text) and recorded with its real size, mtime and hash,
    so `rag ingest docs` finds it unchanged."""
    with writer.transaction():
        for f, at in enumerate(range(0, len(texts), CHUNKS_PER_FILE), start=first):
            part = texts[at : at + CHUNKS_PER_FILE]
            rel, size, mtime_ns, sha = f"synthetic/{f:06d}.txt", 0, 0, ""
            if docs is not None:
                path = docs / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                data = "\n\n".join(part).encode()
                path.write_bytes(data)
                size, mtime_ns, sha = len(data), path.stat().st_mtime_ns, hashlib.sha256(data).hexdigest()
            chunks = [NewChunk(t, 0, len(t), None, None) for t in part]
            writer.add_file(rel, size, mtime_ns, sha, "text", "", [0], chunks, vectors[at : at + len(part)])


def write_snapshot(root: Path, texts: list[str], vectors: np.ndarray, settings: Settings, docs: Path | None = None) -> tuple[Path, dict]:
    """A real index snapshot (one segment) holding the synthetic chunks; returns it and per-part build figures."""
    with NewSnapshot(root) as new:
        figures: dict = {}
        writer = SnapshotWriter(new.folder, None)
        started = time.perf_counter()
        add_synthetic_files(writer, texts, vectors, docs=docs)
        figures["store_build_s"] = round(time.perf_counter() - started, 1)
        spec = spec_from_settings(settings, vectors.shape[1])
        writer.write_spec(spec)
        writer.finish(settings, spec)
        figures["dense_build_s"], figures["bm25_build_s"] = round(writer.built["dense_s"], 1), round(writer.built["bm25_s"], 1)
        return new.publish(), figures


def run(n: int, queries: int, root: Path, settings: Settings, dim: int = 384) -> dict:
    faiss.omp_set_num_threads(settings.dense.faiss_threads)
    result: dict = {"chunks": n, "queries": queries}
    with PeakRss() as mem:
        (vectors, texts, qv, qt, _), seconds = timed(synthetic, n, dim, queries)
    result["generate_s"], result["generate_peak_rss_mb"] = round(seconds, 1), mem.peak_mb

    with PeakRss() as mem:
        flat = faiss.IndexFlatIP(dim)
        _, seconds = timed(flat.add, vectors)
        truth, latency = search_latency(flat, qv)
        del flat
    result["flat"] = {"build_s": round(seconds, 1), "recall@10": 1.0, **latency, "peak_rss_mb": mem.peak_mb}

    with PeakRss() as mem:
        nlist = max(16, int(math.sqrt(n)))
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        train = vectors[np.random.default_rng(1).choice(n, size=min(n, 40 * nlist), replace=False)]
        started = time.perf_counter()
        ivf.train(train)
        ivf.add(vectors)
        build = time.perf_counter() - started
        for nprobe in (1, 2, 4, 8, 16, 32, 64, 128):  # the smallest that reaches recall 0.95
            ivf.nprobe = nprobe
            found, latency = search_latency(ivf, qv)
            if recall_at_10(found, truth) >= 0.95:
                break
        del ivf, quantizer
    result["ivf"] = {
        "build_s": round(build, 1),
        "nlist": nlist,
        "nprobe": nprobe,
        "recall@10": round(recall_at_10(found, truth), 4),
        **latency,
        "peak_rss_mb": mem.peak_mb,
    }

    with PeakRss() as mem:
        snapshot, figures = write_snapshot(root, texts, vectors, settings)
        del vectors
        index = HybridIndex.open(root, settings, dim=dim)
    dense = index.dense.segments[0]
    figures["dense_kind"] = type(faiss.downcast_index(dense.index.index)).__name__
    result["index"] = {**figures, "peak_rss_mb": mem.peak_mb}
    found, latency = search_latency(dense.index, qv)
    result["dense"] = {"kind": figures["dense_kind"], "build_s": figures["dense_build_s"], "recall@10": round(recall_at_10(found - 1, truth), 4), **latency}
    inner = faiss.downcast_index(dense.index.index)
    if isinstance(inner, faiss.IndexHNSW):  # the search breadth the recall target needs
        sweep = {}
        for ef in EF_SWEEP:
            inner.hnsw.efSearch = ef
            found, latency = search_latency(dense.index, qv)
            sweep[ef] = {"recall@10": round(recall_at_10(found - 1, truth), 4), "p50_ms": latency["p50_ms"]}
        inner.hnsw.efSearch = settings.dense.hnsw_ef_search
        result["dense"].update(ef_search=settings.dense.hnsw_ef_search, ef_sweep=sweep)
    bm25_ms = []
    for q in qt:
        started = time.perf_counter()
        index.sparse.search(q, settings.retrieval.candidates)
        bm25_ms.append((time.perf_counter() - started) * 1000)
    result["bm25"] = {"build_s": figures["bm25_build_s"], **percentiles(bm25_ms, suffix="_ms")}
    retriever = HybridRetriever(index, GivenVectors(qt, qv), settings.retrieval)
    with PeakRss() as mem:
        hybrid_ms = []
        for q in qt:
            started = time.perf_counter()
            retriever.retrieve(q)
            hybrid_ms.append((time.perf_counter() - started) * 1000)
    result["hybrid"] = {**percentiles(hybrid_ms, suffix="_ms"), "peak_rss_mb": mem.peak_mb, "snapshot": snapshot.name}
    index.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--work", type=Path, required=True, help="folder for the synthetic index")
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    args = parser.parse_args()
    result = run(args.chunks, args.queries, args.work, Settings.load())
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
