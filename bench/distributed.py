"""The distributed paths on one machine: `rag ingest --engine ray` against the plain pipeline on
the same documents (chunks/s and their ratio, the same chunks checked), an ingest into the
Milvus backend (Milvus Lite), and query latency of the Milvus backend against the local one on
a BEIR split (the same chunks and vectors: Milvus holds a copy of the local index).

    python -m bench.distributed --dataset ../shared/datasets/scifact --work /tmp/d --out d.json --docs 1000
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path

from bench.measure import PeakRss
from bench.query import latency
from eval.datasets import load_beir, write_corpus
from eval.retrieval import milvus_copy
from ingest.pipeline import Ingestor
from rag.config import MilvusSettings, Settings
from rag.search.embedding import Embedder
from rag.search.retriever import HybridRetriever
from rag.storage.index import HybridIndex


def timed_ingest(settings: Settings, embedder: Embedder, docs: Path, index: Path) -> dict:
    shutil.rmtree(index, ignore_errors=True)
    with PeakRss() as mem:
        report = Ingestor(settings, lambda: embedder, interactive=False).run(docs, index)
    return {
        "chunks": report.chunks_embedded,
        "seconds": round(report.seconds, 1),
        "chunks_per_s": round(report.chunks_embedded / report.seconds, 2),
        "peak_rss_mb": mem.peak_mb,
    }


def ingest_engines(corpus: Path, work: Path, limit: int, settings: Settings) -> dict:
    """Plain and Ray ingests of the same first `limit` documents into the local backend, and a
    plain ingest into Milvus Lite."""
    embedder = Embedder.load(settings.embedding)
    embedder.encode(["warm up the model"] * 8)
    docs = work / "docs"
    write_corpus(corpus, docs, limit)
    plain = timed_ingest(settings, embedder, docs, work / "plain")
    ray_settings = settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"engine": "ray"})})
    on_ray = timed_ingest(ray_settings, embedder, docs, work / "ray")
    if on_ray["chunks"] != plain["chunks"]:
        raise AssertionError(f"Ray ingested {on_ray['chunks']} chunks, the plain pipeline {plain['chunks']}")
    milvus = timed_ingest(settings.model_copy(update={"backend": "milvus"}), embedder, docs, work / "milvus")
    return {
        "documents": limit,
        "plain": plain,
        "ray": on_ray,
        "ray_vs_plain": round(on_ray["chunks_per_s"] / plain["chunks_per_s"], 3),
        "milvus_lite": milvus,
        "milvus_vs_local": round(milvus["chunks_per_s"] / plain["chunks_per_s"], 3),
    }


def query_backends(dataset_dir: Path, split: str, index_dir: Path, settings: Settings) -> dict:
    """Per-stage p50/p95 on the local index and on its copy in Milvus Lite."""
    queries = list(load_beir(dataset_dir, split).queries.values())
    embedder = Embedder.load(settings.embedding)
    local = HybridIndex.open(index_dir, settings, dim=embedder.dim)
    milvus = milvus_copy(local, settings)
    result = {"queries": len(queries), "milvus_index": f"{settings.milvus.index_type} {settings.milvus.index_params}, search {settings.milvus.search_params}"}
    for name, index in (("local", local), ("milvus_lite", milvus)):
        result[name] = latency(HybridRetriever(index, embedder, settings.retrieval), queries, has_reranker=False)
        index.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--docs", type=int, default=1000, help="documents for the ingest comparison")
    parser.add_argument("--index", type=Path, help="a local index of the dataset for the query comparison (none: no query stage)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = Settings.load().model_copy(update={"milvus": MilvusSettings()})
    result = {"ingest": ingest_engines(args.dataset / "corpus.jsonl", args.work, args.docs, settings)}
    if args.index:
        result["query"] = query_backends(args.dataset, args.split, args.index, settings)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
