"""Ingest throughput on a BEIR corpus: chunks/s of the whole pipeline (scan, read, chunk, embed,
store, index, publish) next to the raw encode rate of the same chunks by the same model in the
same run, their ratio (target 0.9 or more), and a re-ingest of the unchanged folder (target:
under 5 s, nothing embedded). The built index stays for the query stage.

The raw rate is measured on all chunks, or on a uniform random sample of them (`--raw-sample`)
to keep `make bench` inside its time budget: encode time is linear in the chunks, and a
uniform sample keeps their length mix."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from bench.measure import PeakRss
from eval.datasets import write_corpus
from ingest.pipeline import Ingestor
from rag.config import Settings
from rag.search.embedding import Embedder
from rag.storage.index import HybridIndex


def run(corpus: Path, docs: Path, index: Path, settings: Settings, raw_sample: int = 0, limit: int | None = None) -> dict:
    embedder = Embedder.load(settings.embedding)
    embedder.encode(["warm up the model"] * 8)
    n_docs = len(write_corpus(corpus, docs, limit))
    with PeakRss() as mem:
        report = Ingestor(settings, lambda: embedder, interactive=False).run(docs, index)
    pipeline_rate = report.chunks_embedded / report.seconds

    opened = HybridIndex.open(index, settings, dim=embedder.dim)
    texts = [text for _, text in opened.store.iter_chunk_texts()]
    opened.close()
    if raw_sample and raw_sample < len(texts):
        picked = np.random.default_rng(0).choice(len(texts), size=raw_sample, replace=False)
        texts = [texts[i] for i in sorted(picked)]
    started = time.perf_counter()
    embedder.encode(texts)
    raw_seconds = time.perf_counter() - started
    raw_rate = len(texts) / raw_seconds

    again = Ingestor(settings, lambda: embedder, interactive=False).run(docs, index)
    return {
        "documents": n_docs,
        "chunks": report.chunks_embedded,
        "pipeline_seconds": round(report.seconds, 2),
        "pipeline_chunks_per_s": round(pipeline_rate, 2),
        "raw_encode_chunks": len(texts),
        "raw_encode_seconds": round(raw_seconds, 2),
        "raw_encode_chunks_per_s": round(raw_rate, 2),
        "throughput_ratio": round(pipeline_rate / raw_rate, 3),
        "reingest_seconds": round(again.seconds, 3),
        "reingest_chunks_embedded": again.chunks_embedded,
        "device": embedder.device,
        "peak_rss_mb": mem.peak_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", type=Path, required=True, help="BEIR folder holding corpus.jsonl")
    parser.add_argument("--work", type=Path, required=True, help="folder for the written documents and the index")
    parser.add_argument("--limit", type=int, help="first N documents only")
    parser.add_argument("--raw-sample", type=int, default=0, help="chunks for the raw encode rate (0: all)")
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = run(args.dataset / "corpus.jsonl", args.work / "docs", args.work / "index", Settings.load(), args.raw_sample, args.limit)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
