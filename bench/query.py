"""Query latency per stage (bm25, dense, hybrid, hybrid+rerank when a reranker is configured)
over a BEIR split's queries, with the product's own settings: embedding the query included,
generation excluded. Then nDCG@10 of the hybrid stage (documents scored by their best chunk, as
in `rag eval`), and the default generator's time to first token and decoding rate."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from bench.measure import PeakRss
from eval.datasets import doc_file_name, load_beir
from eval.latency import percentiles
from eval.retrieval import EVAL_CANDIDATES, STAGES, doc_scores, score_run
from rag.answering.engine import Engine, llm_needed
from rag.answering.generate.load import load_generator
from rag.answering.generate.prompt import build_prompt
from rag.config import Settings
from rag.search.embedding import Embedder
from rag.search.rerank import Reranker
from rag.search.retriever import HybridRetriever
from rag.storage.index import HybridIndex

GENERATE_QUESTIONS = 3
ANSWER_QUESTIONS = 100  # asked whole through the engine, in the default answer style


def file_names(corpus: Path) -> dict[str, str]:
    """{file name: document id}, as write_corpus named the files."""
    with open(corpus, encoding="utf-8") as fh:
        ids = [json.loads(line)["_id"] for line in fh]
    return {doc_file_name(d): d for d in ids}


def latency(retriever: HybridRetriever, queries: list[str], has_reranker: bool) -> dict:
    result = {}
    for stage, (mode, rerank) in STAGES.items():
        if rerank and not has_reranker:
            continue
        retriever.retrieve(queries[0], mode=mode, rerank=rerank)  # warm-up
        ms, parts = [], {}
        for q in queries:
            timings: dict[str, float] = {}
            started = time.perf_counter()
            retriever.retrieve(q, mode=mode, rerank=rerank, timings=timings)
            ms.append((time.perf_counter() - started) * 1000)
            for part, value in timings.items():
                parts.setdefault(part, []).append(value)
        result[stage] = {**percentiles(ms, suffix="_ms"), "parts_p50_ms": {k: round(float(np.median(v)), 2) for k, v in parts.items()}}
    return result


def hybrid_ndcg(retriever: HybridRetriever, dataset, names: dict[str, str], settings: Settings) -> float:
    deep = settings.retrieval.model_copy(update={"candidates": EVAL_CANDIDATES})
    run = {qid: doc_scores(retriever.retrieve(text, top_k=2 * EVAL_CANDIDATES, settings=deep), names) for qid, text in dataset.queries.items()}
    means, _ = score_run(dataset.qrels, run)
    return round(means["ndcg@10"], 4)


def generation(retriever: HybridRetriever, queries: list[str], settings: Settings) -> dict:
    generator, why = load_generator(settings.generation)
    if generator is None:
        return {"skipped": why or "generation.backend is extractive"}
    s = settings.generation
    first_ms, rates = [], []
    for q in queries[:GENERATE_QUESTIONS]:
        hits = retriever.retrieve(q)
        prompt = build_prompt(q, hits[: s.max_sources], generator.count_tokens, generator.context_tokens, s.max_new_tokens)
        started = time.perf_counter()
        first, pieces = None, 0
        for _ in generator.stream(prompt.text, s.model_copy(update={"stop": []})):
            first = first or time.perf_counter()
            pieces += 1
        ended = time.perf_counter()
        first_ms.append(((first or ended) - started) * 1000)
        if pieces > 1:
            rates.append((pieces - 1) / (ended - first))
    return {
        "generator": generator.name,
        "first_token_ms": round(float(np.median(first_ms)), 1),
        "tokens_per_s": round(float(np.median(rates)), 1) if rates else None,
    }


def answers(index_dir: Path, embedder: Embedder, queries: list[str], settings: Settings) -> dict:
    """The whole answer path as served, in the default answer style (the reader unless the settings
    say otherwise): total time per question, p50/p95, and the share declined."""
    engine = Engine.from_settings(settings, index_dir, load_llm=llm_needed(settings.generation), embedder=embedder)
    totals, declined = [], 0
    for q in queries[:ANSWER_QUESTIONS]:
        answer = engine.ask(q)
        totals.append(answer.timings["total"])
        declined += answer.abstained
    engine.index.close()
    return {"style": settings.generation.answer_style, **percentiles(totals, suffix="_ms"), "declined": round(declined / max(len(totals), 1), 3)}


def run(dataset_dir: Path, split: str, index_dir: Path, settings: Settings) -> dict:
    dataset = load_beir(dataset_dir, split)
    embedder = Embedder.load(settings.embedding)
    index = HybridIndex.open(index_dir, settings, dim=embedder.dim)
    reranker, _ = Reranker.load(settings.rerank, embedder.device)
    retriever = HybridRetriever(index, embedder, settings.retrieval, reranker, settings.rerank.top_n)
    queries = list(dataset.queries.values())
    with PeakRss() as mem:
        result = {"queries": len(queries), "stages": latency(retriever, queries, reranker is not None)}
    result["peak_rss_mb"] = mem.peak_mb
    result["hybrid_ndcg@10"] = hybrid_ndcg(retriever, dataset, file_names(dataset.corpus_file), settings)
    result["answer"] = answers(index_dir, embedder, queries, settings)
    with PeakRss() as mem:
        result["generate"] = generation(retriever, queries, settings)
    result["generate"]["peak_rss_mb"] = mem.peak_mb
    index.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    args.out.write_text(json.dumps(run(args.dataset, args.split, args.index, Settings.load()), indent=2))


if __name__ == "__main__":
    main()
