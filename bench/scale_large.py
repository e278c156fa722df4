"""Scale past the box's memory: N synthetic chunks (10M by default, bench.scale's recipe) made,
stored and indexed a block at a time through the product's own writer, as the one segment a
full merge leaves. 10M float32 vectors alone are 15.4 GB of 24, so nothing here holds them all:
each block is generated from its own seed (once to find each query's exact top 10, once to be
stored); the segment's FAISS index is trained on a strided sample and filled a block at a time
(compressed past `dense.compress_from`). Then the index is opened as the app opens it and
queried: dense recall@10 against exact, BM25 and hybrid p50/p95, resident memory. `--reuse`
measures the index an earlier run left (the 10M build takes about half an hour here)."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from bench.measure import PeakRss, each_timed, rss_mb
from bench.scale import CHUNKS_PER_FILE, GivenVectors, add_synthetic_files, block_texts, block_vectors, query_vectors, recall_at_10, topic_centres
from rag.config import Settings
from rag.search.retriever import HybridRetriever
from rag.storage.index import HybridIndex, spec_from_settings
from rag.storage.segment_writer import SnapshotWriter
from rag.storage.segments import DENSE_FILE, SPARSE_DIR, STORE_FILE, Manifest
from rag.storage.snapshots import NewSnapshot, live_snapshot

BLOCK = 500_000


class Block:
    """One block of chunks, the same every time from (seed, number): vectors first, then texts."""

    def __init__(self, centres: np.ndarray, seed: int, number: int, size: int) -> None:
        self.rng = np.random.default_rng([seed, number])
        self.vectors = block_vectors(centres, size, centres.shape[1], self.rng)

    def texts(self) -> list[str]:
        return block_texts(len(self.vectors), self.rng)


class ExactTop10:
    """The exact top 10 of each query, kept as blocks go by."""

    def __init__(self, queries: np.ndarray) -> None:
        self.queries = queries
        self.scores = np.full((len(queries), 10), -np.inf, dtype=np.float32)
        self.rows = np.full((len(queries), 10), -1, dtype=np.int64)

    def add(self, vectors: np.ndarray, first_row: int) -> None:
        block = self.queries @ vectors.T
        top = np.argpartition(-block, 9, axis=1)[:, :10] if len(vectors) > 10 else np.broadcast_to(np.arange(len(vectors)), block.shape)
        scores = np.concatenate([self.scores, np.take_along_axis(block, top, 1)], axis=1)
        rows = np.concatenate([self.rows, top + first_row], axis=1)
        best = np.argsort(-scores, axis=1, kind="stable")[:, :10]
        self.scores, self.rows = np.take_along_axis(scores, best, 1), np.take_along_axis(rows, best, 1)


def folder_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 1)


@dataclass
class Plan:
    """The collection's topic centres and the queries: which chunks they copy, their vectors and
    each one's exact top 10 rows, found by passing over every block's vectors."""

    centres: np.ndarray
    source: np.ndarray
    vectors: np.ndarray
    exact: ExactTop10


def plan(n: int, queries: int, dim: int, block_size: int, seed: int = 0) -> Plan:
    if block_size % CHUNKS_PER_FILE:
        raise ValueError(f"--block {block_size}: a block must hold whole files of {CHUNKS_PER_FILE} chunks")
    rng = np.random.default_rng(seed)
    centres = topic_centres(n, dim, rng)
    source = np.sort(rng.choice(n, size=queries, replace=False))
    starts = range(0, n, block_size)
    picked = [Block(centres, seed, b, min(block_size, n - at)).vectors[source[(source >= at) & (source < at + block_size)] - at] for b, at in enumerate(starts)]
    exact = ExactTop10(query_vectors(np.concatenate(picked), rng))
    for b, at in enumerate(starts):
        exact.add(Block(centres, seed, b, min(block_size, n - at)).vectors, at)
    return Plan(centres, source, exact.queries, exact)


def build(n: int, root: Path, settings: Settings, centres: np.ndarray, block_size: int, seed: int = 0) -> dict:
    """Write the N chunks as one segment, a block at a time; the build's figures."""
    figures: dict = {"generate_s": 0.0, "store_build_s": 0.0}
    with PeakRss() as mem, NewSnapshot(root) as new:
        writer = SnapshotWriter(new.folder, None)
        for b, at in enumerate(range(0, n, block_size)):
            started = time.perf_counter()
            block = Block(centres, seed, b, min(block_size, n - at))
            texts = block.texts()
            figures["generate_s"] += time.perf_counter() - started
            started = time.perf_counter()
            add_synthetic_files(writer, texts, block.vectors, first=at // CHUNKS_PER_FILE)
            figures["store_build_s"] += time.perf_counter() - started
            del block, texts
        spec = spec_from_settings(settings, centres.shape[1])
        writer.write_spec(spec)
        writer.finish(settings, spec)
        figures.update(dense_build_s=writer.built["dense_s"], bm25_build_s=writer.built["bm25_s"])
        snapshot = new.publish()
    figures = {k: round(v, 1) for k, v in figures.items()}
    seg = snapshot / Manifest.read(snapshot).segments[0].name
    figures.update(peak_rss_mb=mem.peak_mb, dense_mb=folder_mb(seg / DENSE_FILE), bm25_mb=folder_mb(seg / SPARSE_DIR), store_mb=folder_mb(seg / STORE_FILE))
    return figures


def built_before(root: Path, n: int) -> str | None:
    """The live snapshot of an earlier run's index of N chunks in `root`, if there is one."""
    live = live_snapshot(root) if (root / "CURRENT").is_file() else None
    return live.name if live is not None and Manifest.read(live).chunks == n else None


def query_texts(index: HybridIndex, source: np.ndarray, seed: int, n: int) -> list[str]:
    """Four words of each query's chunk (chunk ids count from 1, rows from 0)."""
    chunks = index.store.chunks([int(i) + 1 for i in source])
    rng = np.random.default_rng([seed, n])
    return [" ".join(rng.choice(chunks[int(i) + 1].text.split(), size=4, replace=False)) for i in source]


def run(n: int, queries: int, root: Path, settings: Settings, dim: int = 384, block_size: int = BLOCK, reuse: bool = False, seed: int = 0) -> dict:
    """Build (or with `reuse`, take an earlier run's index of N chunks), then measure queries."""
    faiss.omp_set_num_threads(settings.dense.faiss_threads)
    result: dict = {"chunks": n, "queries": queries, "block": block_size}
    planned = plan(n, queries, dim, block_size, seed)
    earlier = built_before(root, n) if reuse else None
    result["build"] = {"reused": earlier} if earlier else build(n, root, settings, planned.centres, block_size, seed)
    before = rss_mb()
    index = HybridIndex.open(root, settings, dim=dim)
    dense = index.dense.segments[0]
    result["open"] = {"rss_mb": round(rss_mb() - before, 1), "kind": type(dense.inner).__name__}
    qv, qt = planned.vectors, query_texts(index, planned.source, seed, n)
    k = settings.retrieval.candidates
    found, latency = each_timed(lambda q: index.dense.search(q[None, :], k)[0][0][:10] - 1, qv)  # chunk ids count from 1, rows from 0
    result["dense"] = {"recall@10": round(recall_at_10(np.asarray(found), planned.exact.rows), 4), "k": k, **latency}
    if isinstance(dense.inner, faiss.IndexRefine):
        result["dense"].update(nprobe=settings.dense.ivf_nprobe, refine_factor=settings.dense.refine_factor, refine_codec=settings.dense.refine_codec)
    result["bm25"] = each_timed(lambda q: index.sparse.search(q, k), qt)[1]
    retriever = HybridRetriever(index, GivenVectors(qt, qv), settings.retrieval)
    with PeakRss() as mem:
        latency = each_timed(retriever.retrieve, qt)[1]
    result["hybrid"] = {**latency, "peak_rss_mb": mem.peak_mb}
    index.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=10_000_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--block", type=int, default=BLOCK, help="chunks made and stored at a time")
    parser.add_argument("--work", type=Path, required=True, help="folder for the synthetic index")
    parser.add_argument("--reuse", action="store_true", help="measure the index an earlier run left in --work, if it has N chunks")
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    args = parser.parse_args()
    args.out.write_text(json.dumps(run(args.chunks, args.queries, args.work, Settings.load(), block_size=args.block, reuse=args.reuse), indent=2))


if __name__ == "__main__":
    main()
