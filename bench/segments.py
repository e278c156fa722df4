"""Segments at scale: what an update costs and what segments cost a query.

1. Updates: `bench.scale`'s synthetic chunks (1M by default) as one segment whose files also
   lie in a folder, then real `rag ingest` runs (scan, diff, read, chunk, embed with MiniLM,
   publish) after adding one file, changing it, and deleting one: each run's whole time.
2. Queries: the hybrid retriever's p50 over the index those updates leave (the big segment plus
   small ones, as the tiered policy keeps them), and over the chunks cut into 10 equal segments
   against the same chunks merged into one.
3. With a BEIR dataset and the ingest stage's index: its files written again in 10 increments
   (chunks and vectors copied, the default merge policy on), and SciFact nDCG@10 of both."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench.measure import PeakRss
from bench.scale import CHUNKS_PER_FILE, GivenVectors, add_synthetic_files, synthetic, write_snapshot
from eval.latency import percentiles
from ingest.pipeline import Ingestor
from rag.config import Settings
from rag.search.embedding import Embedder
from rag.search.retriever import HybridRetriever
from rag.storage.index import HybridIndex, spec_from_settings
from rag.storage.merge import due_merge, merge_segments
from rag.storage.segment_writer import SnapshotWriter
from rag.storage.segments import Manifest
from rag.storage.snapshots import NewSnapshot, WriteLock, live_snapshot
from rag.storage.store import NewChunk

NEW_FILE = " ".join(f"Glacier {i} in the survey retreated {i * 7} metres between the two measurements." for i in range(60))


ROUNDS = 3  # passes over the queries; ten segments and one are measured in turn, so drift hits both alike


def open_retriever(root: Path, settings: Settings, texts: list[str], vectors: np.ndarray) -> tuple[HybridIndex, HybridRetriever]:
    index = HybridIndex.open(root, settings, dim=vectors.shape[1])
    retriever = HybridRetriever(index, GivenVectors(texts, vectors), settings.retrieval)
    retriever.retrieve(texts[0])  # warm-up
    return index, retriever


def one_pass(retriever: HybridRetriever, texts: list[str]) -> list[float]:
    """Each query's milliseconds through the hybrid retriever."""
    ms = []
    for text in texts:
        started = time.perf_counter()
        retriever.retrieve(text)
        ms.append((time.perf_counter() - started) * 1000)
    return ms


def hybrid_p50(root: Path, settings: Settings, texts: list[str], vectors: np.ndarray) -> dict:
    index, retriever = open_retriever(root, settings, texts, vectors)
    figures = {**percentiles(one_pass(retriever, texts), suffix="_ms"), "segments": len(index.sparse.segments)}
    index.close()
    return figures


def updates(work: Path, texts: list[str], vectors: np.ndarray, qt: list[str], qv: np.ndarray, settings: Settings) -> dict:
    """One file added, changed, deleted at len(texts) chunks, each a real `rag ingest`."""
    root, docs = work / "index", work / "docs"
    with PeakRss() as mem:
        write_snapshot(root, texts, vectors, settings, docs)
    result: dict = {"chunks": len(texts), "files": -(-len(texts) // CHUNKS_PER_FILE), "build_peak_rss_mb": mem.peak_mb}
    ingestor = Ingestor(settings, lambda: Embedder.load(settings.embedding), interactive=False)
    steps = {
        "unchanged": lambda: None,
        "add one file": lambda: (docs / "new.txt").write_text(NEW_FILE),
        "change it": lambda: (docs / "new.txt").write_text(NEW_FILE.replace("metres", "feet")),
        "delete one file": lambda: (docs / "synthetic" / "000000.txt").unlink(),
    }
    for name, change in steps.items():
        change()
        report = ingestor.run(docs, root)
        result[name] = {"seconds": round(report.seconds, 2), "chunks_embedded": report.chunks_embedded, "snapshot": report.snapshot}
        if name == "unchanged":  # the model loads once per process (rag watch, the app): not an update's cost
            started = time.perf_counter()
            ingestor.chunker()
            result["model_load_s"] = round(time.perf_counter() - started, 2)
    result["after_updates"] = hybrid_p50(root, settings, qt, qv)
    return result


def ten_segments(work: Path, texts: list[str], vectors: np.ndarray, qt: list[str], qv: np.ndarray, settings: Settings) -> dict:
    """The chunks written as 10 equal segments, then merged into one: hybrid p50 of each, both
    open at once and measured in turns."""
    root = work / "ten"
    spec = spec_from_settings(settings, vectors.shape[1])
    step = -(-len(texts) // 10)
    started = time.perf_counter()
    with WriteLock(root):
        for at in range(0, len(texts), step):
            with NewSnapshot(root) as new:
                writer = SnapshotWriter(new.folder, live_snapshot(root))
                add_synthetic_files(writer, texts[at : at + step], vectors[at : at + step], first=at // CHUNKS_PER_FILE)
                writer.write_spec(spec)
                writer.finish(settings, spec)
                new.publish()
    result: dict = {"build_s": round(time.perf_counter() - started, 1)}
    ten, ten_retriever = open_retriever(root, settings, qt, qv)  # held open across the merge: its files stay readable
    live = live_snapshot(root)
    started = time.perf_counter()
    with WriteLock(root):
        merge_segments(root, live, Manifest.read(live).segment_names(), settings)
    result["merge_s"] = round(time.perf_counter() - started, 1)
    merged, merged_retriever = open_retriever(root, settings, qt, qv)
    ms: dict[str, list[float]] = {"ten": [], "merged": []}
    for _ in range(ROUNDS):
        ms["ten"] += one_pass(ten_retriever, qt)
        ms["merged"] += one_pass(merged_retriever, qt)
    for name, index in (("ten", ten), ("merged", merged)):
        result[name] = {**percentiles(ms[name], suffix="_ms"), "segments": len(index.sparse.segments)}
        index.close()
    result["ratio"] = round(result["ten"]["p50_ms"] / result["merged"]["p50_ms"], 2)
    return result


def scifact_increments(index_dir: Path, dataset: Path, work: Path, settings: Settings) -> dict:
    """The index's files written again in 10 increments (no embedding) and nDCG@10 of both."""
    from bench.query import file_names, hybrid_ndcg
    from eval.datasets import load_beir

    source = HybridIndex.open(index_dir, settings)
    ids, vectors = source.store.embeddings(source.spec.dim)
    row = {int(i): n for n, i in enumerate(ids)}
    files = source.store.files()
    paths = sorted(files)
    root = work / "increments" / "index"
    step = -(-len(paths) // 10)
    for at in range(0, len(paths), step):
        with WriteLock(root), NewSnapshot(root) as new:
            writer = SnapshotWriter(new.folder, live_snapshot(root))
            with writer.transaction():
                for path in paths[at : at + step]:
                    record, (text, pages) = files[path], source.store.file_text(path)
                    chunks = sorted(source.store.chunks(source.store.chunk_ids_of([path]).tolist()).values(), key=lambda c: c.ord)
                    new_chunks = [NewChunk(c.text, c.start, c.end, c.page, c.heading, c.ocr, c.context) for c in chunks]
                    writer.add_file(
                        path, record.size, record.mtime_ns, record.sha256, record.kind, text, pages, new_chunks, vectors[[row[c.id] for c in chunks]]
                    )
            writer.write_spec(source.spec)
            writer.finish(settings, source.spec)
            published = new.publish()
        due = due_merge(published, settings)  # the ingest's merge policy, as it runs after each publish
        if due:
            with WriteLock(root):
                merge_segments(root, published, due, settings)
    embedder = Embedder.load(settings.embedding)
    data, names = load_beir(dataset, "test"), file_names(dataset / "corpus.jsonl")
    figures = {}
    for label, index in (("at once", source), ("10 increments", HybridIndex.open(root, settings))):
        figures[label] = {
            "ndcg@10": hybrid_ndcg(HybridRetriever(index, embedder, settings.retrieval), data, names, settings),
            "segments": len(index.sparse.segments),
        }
        index.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, help="BEIR folder whose ingest-stage index (--index) is written again in increments")
    parser.add_argument("--index", type=Path, help="the ingest stage's index of --dataset")
    args = parser.parse_args()
    settings = Settings.load()
    vectors, texts, qv, qt, _ = synthetic(args.chunks, 384, args.queries)
    result = {"updates": updates(args.work, texts, vectors, qt, qv, settings), "ten_segments": ten_segments(args.work, texts, vectors, qt, qv, settings)}
    if args.dataset and args.index:
        result["scifact"] = scifact_increments(args.index, args.dataset, args.work, settings)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
