"""Retrieval evaluation on a BEIR dataset through the product's own ingest and retriever.

Corpus ids are documents while the index holds chunks: a document's score at each stage is the
best score of its chunks (MaxP, as in Dai & Callan 2019), so a long abstract split in several
chunks counts once, at its best passage. Metrics come from ranx."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from eval.datasets import BeirDataset, write_corpus
from eval.latency import percentiles
from ingest.pipeline import Ingestor
from rag.config import Settings
from rag.search.embedding import Embedder
from rag.search.hit import Hit
from rag.search.rerank import Reranker
from rag.search.retriever import HybridRetriever
from rag.storage.index import HybridIndex, spec_from_settings

log = logging.getLogger("eval")

METRICS = ["ndcg@10", "recall@10", "recall@100", "mrr@10", "map"]
STAGES = {"bm25": ("sparse", False), "dense": ("dense", False), "hybrid": ("hybrid", False), "hybrid+rerank": ("hybrid", True)}
EVAL_CANDIDATES = 300  # chunks per retriever, so that at least 100 documents survive aggregation


@dataclass
class StageResult:
    metrics: dict[str, float]
    latency_ms: dict[str, float]
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)  # metric -> query id -> value


def corpus_key(corpus_file: Path, settings: Settings, dim: int, keep: set[str] | None) -> str:
    """Cache key for a built index: the corpus bytes, the index-relevant settings, the slice."""
    digest = hashlib.sha256()
    with open(corpus_file, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    digest.update(json.dumps(spec_from_settings(settings, dim).__dict__, sort_keys=True).encode())
    digest.update(json.dumps(sorted(keep) if keep else None).encode())
    return digest.hexdigest()[:16]


def build_index(corpus_file: Path, settings: Settings, embedder: Embedder, cache: Path, keep: set[str] | None = None) -> tuple[Path, dict[str, str]]:
    """Ingest a corpus.jsonl (or its `keep` slice) once per corpus and settings; reuse it after.
    Returns the index folder and {file name: document id}."""
    folder = cache / f"{corpus_file.parent.name}-{corpus_key(corpus_file, settings, embedder.dim, keep)}"
    names_file = folder / "names.json"
    if names_file.is_file():
        names = json.loads(names_file.read_text())
    else:
        names = write_corpus(corpus_file, folder / "docs", keep=keep)
        names_file.write_text(json.dumps(names))
    local = settings.model_copy(update={"backend": "local"})  # the Milvus backend is measured on a copy of this index
    report = Ingestor(local, lambda: embedder).run(folder / "docs", folder / "index")
    log.info("index %s: %d chunks embedded now, %d files", folder / "index", report.chunks_embedded, report.files_in_index)
    return folder / "index", names


def milvus_copy(local: HybridIndex, settings: Settings):
    """The local snapshot copied into Milvus (vectors and all, nothing re-embedded), so both
    backends are measured on the same chunks and embeddings; Milvus Lite in a folder beside the
    cached index (one per snapshot), reused after. A copy left partial by a kill is made again."""
    from rag.storage.milvus import open_milvus

    folder = local.root.parent / f"milvus-{local.version}"
    milvus = open_milvus(settings.milvus, settings.bm25, folder, local.spec.dim)
    count = milvus.store.chunk_count()
    if count != local.store.chunk_count():
        if count:  # partial
            milvus.drop()
            milvus = open_milvus(settings.milvus, settings.bm25, folder, local.spec.dim)
        log.info("copying %d chunks into Milvus collection %s", milvus.copy_store(local.store, local.spec.dim), milvus.name)
    return milvus


def doc_scores(hits: list[Hit], doc_of: dict[str, str]) -> dict[str, float]:
    """The best chunk score of each document (MaxP)."""
    scores: dict[str, float] = {}
    for hit in hits:
        doc = doc_of[hit.path]
        if hit.score > scores.get(doc, float("-inf")):
            scores[doc] = hit.score
    return scores


def score_run(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(mean metrics, metric -> query id -> value) with ranx; a query with an empty run scores 0."""
    from ranx import Qrels, Run, evaluate

    run = {q: (docs or {"__none__": 0.0}) for q, docs in run.items()}
    qrels_r, run_r = Qrels(qrels), Run(run)
    means = evaluate(qrels_r, run_r, METRICS, make_comparable=True)
    per_query = evaluate(qrels_r, run_r, METRICS, return_mean=False, make_comparable=True)
    qids = list(run_r.keys())
    return {m: float(means[m]) for m in METRICS}, {m: dict(zip(qids, map(float, per_query[m]))) for m in METRICS}


def evaluate_retrieval(
    dataset: BeirDataset,
    settings: Settings,
    cache: Path,
    keep: set[str] | None = None,
    progress: bool = False,
    on_query: Callable[[int, int], None] | None = None,
) -> dict[str, StageResult]:
    """Every stage the configuration allows, on every query of the split. `progress` draws a
    terminal bar; `on_query(done, total)` serves other front ends (the UI)."""
    embedder = Embedder.load(settings.embedding)
    index_dir, names = build_index(dataset.corpus_file, settings, embedder, cache, keep)
    local = HybridIndex.open(index_dir, settings, dim=embedder.dim)
    index = milvus_copy(local, settings) if settings.backend == "milvus" else local
    reranker, why = Reranker.load(settings.rerank, embedder.device)
    if why:
        log.warning(why)
    retrieval = settings.retrieval  # as served: the candidates the product searches with (the report records them)
    retriever = HybridRetriever(index, embedder, retrieval, reranker, settings.rerank.top_n)
    stages = [s for s in STAGES if reranker is not None or not STAGES[s][1]]
    runs = {s: {} for s in stages}
    latencies = {s: [] for s in stages}
    queries = list(dataset.queries.items())
    if progress:
        from tqdm import tqdm

        queries = tqdm(queries, unit="query")
    for done, (qid, text) in enumerate(queries, start=1):
        for stage in stages:
            mode, rerank = STAGES[stage]
            started = time.perf_counter()
            hits = retriever.retrieve(text, top_k=2 * retrieval.candidates, mode=mode, rerank=rerank)
            latencies[stage].append((time.perf_counter() - started) * 1000.0)
            runs[stage][qid] = doc_scores(hits, names)
        if on_query is not None:
            on_query(done, len(dataset.queries))
    index.close()
    if index is not local:
        local.close()
    results = {}
    for stage in stages:
        metrics, per_query = score_run(dataset.qrels, runs[stage])
        results[stage] = StageResult(metrics, percentiles(latencies[stage]), per_query)
    return results
