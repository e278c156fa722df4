"""fp32 against int8 on the same documents, in one run. For each embedding path (PyTorch fp32, the
pipeline before int8; ONNX fp32; ONNX int8) the whole corpus is ingested into its own index:
the pipeline's chunks/s, the model's raw encode rate on a sample of the same chunks, their
ratio, the hybrid stage's nDCG@10 on the split, and query embedding and hybrid latency p50/p95.
Then int8's speed-up over PyTorch fp32 and its nDCG@10 difference from ONNX fp32."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from bench.measure import each_timed
from bench.query import file_names, hybrid_ndcg, latency
from eval.datasets import load_beir, write_corpus
from ingest.pipeline import Ingestor
from rag.config import Settings
from rag.search.embedding import Embedder
from rag.search.retriever import HybridRetriever
from rag.storage.index import HybridIndex

VARIANTS = {
    "torch-fp32": {"backend": "torch", "precision": "fp32"},
    "onnx-fp32": {"backend": "onnx", "precision": "fp32"},
    "onnx-int8": {"backend": "onnx", "precision": "int8"},
}


def variant(name: str, docs: Path, index_dir: Path, dataset, settings: Settings, raw_sample: int, repeat: int = 1) -> dict:
    """Ingest `docs` with one embedding path and measure it. With `repeat`, the ingest and the raw
    encode after it run that many times and the medians are reported: on these shared cores the
    raw rate alone moved between 79 and 97 chunks/s from one minute to the next."""
    settings = settings.model_copy(update={"embedding": settings.embedding.model_copy(update=VARIANTS[name])})
    embedder = Embedder.load(settings.embedding)
    embedder.encode(["warm up the model"] * 8)
    runs, texts = [], []
    for _ in range(repeat):
        report = Ingestor(settings, lambda: embedder, interactive=False).run(docs, index_dir, rebuild=True)
        index = HybridIndex.open(index_dir, settings, dim=embedder.dim)
        if not texts:
            texts = [text for _, text in index.store.iter_chunk_texts()]
            if raw_sample and raw_sample < len(texts):
                picked = np.random.default_rng(0).choice(len(texts), size=raw_sample, replace=False)
                texts = [texts[i] for i in sorted(picked)]
        index.close()
        started = time.perf_counter()
        embedder.encode(texts)
        raw_rate = len(texts) / (time.perf_counter() - started)
        pipeline_rate = report.chunks_embedded / report.seconds
        runs.append(
            {"pipeline_seconds": round(report.seconds, 1), "pipeline_chunks_per_s": round(pipeline_rate, 2), "raw_encode_chunks_per_s": round(raw_rate, 2)}
        )
        runs[-1]["pipeline_to_raw"] = round(pipeline_rate / raw_rate, 3)
    index = HybridIndex.open(index_dir, settings, dim=embedder.dim)
    retriever = HybridRetriever(index, embedder, settings.retrieval)
    queries = list(dataset.queries.values())
    _, query_ms = each_timed(embedder.encode_query, queries)
    result = {
        "backend": embedder.backend,
        "precision": embedder.precision,
        "chunks": report.chunks_embedded,
        **{key: round(float(np.median([run[key] for run in runs])), 3) for key in runs[0]},
        "raw_encode_chunks": len(texts),
        **({"runs": runs} if repeat > 1 else {}),
        "query_embedding": query_ms,
        "hybrid": latency(retriever, queries, has_reranker=False)["hybrid"],
        "hybrid_ndcg@10": hybrid_ndcg(retriever, dataset, file_names(dataset.corpus_file), settings),
    }
    index.close()
    return result


def run(
    dataset_dir: Path, split: str, work: Path, settings: Settings, raw_sample: int, limit: int | None = None, names: list[str] | None = None, repeat: int = 1
) -> dict:
    dataset = load_beir(dataset_dir, split)
    docs = work / "docs"
    write_corpus(dataset.corpus_file, docs, limit)
    result: dict = {"variants": {}}
    for name in names or list(VARIANTS):
        logging.getLogger("bench").warning("precision: %s", name)
        result["variants"][name] = variant(name, docs, work / f"index-{name}", dataset, settings, raw_sample, repeat)
    found = result["variants"]
    if {"torch-fp32", "onnx-int8"} <= set(found):
        result["int8_over_torch_fp32_pipeline"] = round(found["onnx-int8"]["pipeline_chunks_per_s"] / found["torch-fp32"]["pipeline_chunks_per_s"], 2)
    if {"onnx-fp32", "onnx-int8"} <= set(found):
        result["int8_ndcg_minus_fp32"] = round(found["onnx-int8"]["hybrid_ndcg@10"] - found["onnx-fp32"]["hybrid_ndcg@10"], 4)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", type=Path, required=True, help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv")
    parser.add_argument("--split", default="test")
    parser.add_argument("--work", type=Path, required=True, help="folder for the written documents and the indexes")
    parser.add_argument("--limit", type=int, help="first N documents only")
    parser.add_argument("--raw-sample", type=int, default=0, help="chunks for the raw encode rate (0: all)")
    parser.add_argument("--variant", action="append", choices=list(VARIANTS), help="only these (repeatable; default all)")
    parser.add_argument("--repeat", type=int, default=1, help="ingests (each with its raw encode after it) per path; medians reported")
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = run(args.dataset, args.split, args.work, Settings.load(), args.raw_sample, args.limit, args.variant, args.repeat)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
