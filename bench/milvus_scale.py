"""Scale on Milvus Lite: the synthetic collection of `bench.scale` (clustered unit vectors, Zipf
text, queries drawn from chunks) written into the Milvus backend at growing sizes, until a size
takes longer than the time budget or the next would: insert rate, seal (flush) time, resident
memory, hybrid p50/p95 through the product's retriever, and dense recall@10 against exact
search. Where it stops, and why, is part of the result.

    python -m bench.milvus_scale --work /tmp/ms --out milvus-scale.json --sizes 25000 50000 100000
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

from bench.measure import PeakRss
from bench.scale import GivenVectors, recall_at_10, synthetic
from eval.latency import percentiles
from rag.config import MilvusSettings, Settings
from rag.search.retriever import HybridRetriever
from rag.storage.milvus import chunk_id, open_milvus
from rag.storage.store import ChunkRecord, FileRecord

CHUNKS_PER_FILE, INSERT_BATCH, QUERIES = 100, 2000, 200


def fill(index, vectors: np.ndarray, texts: list[str]) -> None:
    """Write the chunks as files of CHUNKS_PER_FILE chunks, in batches of INSERT_BATCH rows."""
    from rag.storage.milvus.schema import chunk_rows, file_row

    rows, files = [], []
    for start in range(0, len(texts), CHUNKS_PER_FILE):
        path = f"synthetic/{start // CHUNKS_PER_FILE:07d}.txt"
        record = FileRecord(chunk_id(path, "", -1), path, 1, 1, "0" * 64, "text")
        chunks = [
            ChunkRecord(start + n, path, n, texts[start + n], 0, len(texts[start + n]), None, None, False, None)
            for n in range(min(CHUNKS_PER_FILE, len(texts) - start))
        ]
        rows += chunk_rows(record, chunks, vectors[start : start + len(chunks)], index.sparse.tokenizer)
        files.append(file_row(record))
        if len(rows) >= INSERT_BATCH:
            index.client.insert(index.name, rows)
            rows = []
    if rows:
        index.client.insert(index.name, rows)
    index.client.insert(index.store.files_collection, files)


def one_size(n: int, work: Path, settings: Settings) -> dict:
    vectors, texts, query_vectors, query_texts, _ = synthetic(n, 384, QUERIES)
    folder = work / f"milvus-{n}"
    shutil.rmtree(folder, ignore_errors=True)
    with PeakRss() as mem:
        index = open_milvus(settings.milvus, settings.bm25, folder, 384)
        started = time.perf_counter()
        fill(index, vectors, texts)
        inserted = time.perf_counter()
        index.flush()
        sealed = time.perf_counter()
        retriever = HybridRetriever(index, GivenVectors(query_texts, query_vectors), settings.retrieval)
        ms, found = [], []
        for text, vector in zip(query_texts, query_vectors):
            t0 = time.perf_counter()
            retriever.retrieve(text, top_k=10)
            ms.append((time.perf_counter() - t0) * 1000)
            found.append(index.dense.search(vector, 10)[0][0])
        index.close()
    exact = np.argsort(-(query_vectors @ vectors.T), axis=1)[:, :10]
    return {
        "chunks": n,
        "insert_chunks_per_s": round(n / (inserted - started), 1),
        "seal_seconds": round(sealed - inserted, 1),
        "hybrid": percentiles(ms, suffix="_ms"),
        "dense_recall@10": round(recall_at_10(np.asarray(found), exact), 4),
        "peak_rss_mb": mem.peak_mb,
        "disk_mb": round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20, 1),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[25_000, 50_000, 100_000, 200_000])
    parser.add_argument("--budget-s", type=float, default=600, help="stop after a size that took longer (the next takes about twice as long)")
    args = parser.parse_args()
    settings = Settings().model_copy(update={"backend": "milvus", "milvus": MilvusSettings()})
    results, stopped = [], None
    for n in args.sizes:
        result = one_size(n, args.work, settings)
        results.append(result)
        print(json.dumps(result), flush=True)
        if result["seconds"] > args.budget_s / 2:
            stopped = f"{n:,} chunks took {result['seconds']:.0f} s; the next size would pass the {args.budget_s:.0f} s budget"
            break
    args.out.write_text(json.dumps({"sizes": results, "stopped": stopped}, indent=2))


if __name__ == "__main__":
    main()
