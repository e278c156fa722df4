"""Which fusion to use on the Milvus backend: Milvus's own rankers (`hybrid_search` with RRF,
or weighted with its arctan score normalisation) against ours (min-max weighted fusion over the
two Milvus result lists, rag/search/fusion.py), on a BEIR split (tune on train), same embeddings.

    python -m bench.milvus_rankers --dataset ../shared/datasets/scifact --split train
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from eval.compare import paired_randomisation_p  # noqa: E402
from eval.datasets import load_beir  # noqa: E402
from eval.retrieval import EVAL_CANDIDATES, build_index, milvus_copy, score_run  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.search.embedding import Embedder  # noqa: E402
from rag.search.retriever import HybridRetriever  # noqa: E402
from rag.storage.index import HybridIndex  # noqa: E402


def milvus_ranked(milvus, ranker, vector: np.ndarray, terms: str, n: int) -> dict[int, float]:
    """{chunk id: fused score} from Milvus's hybrid_search with `ranker`."""
    from pymilvus import AnnSearchRequest

    requests = [
        AnnSearchRequest([vector.reshape(-1).tolist()], "dense", {"metric_type": "IP", "params": milvus.dense.search_params}, n),
        AnnSearchRequest([terms], "sparse", {"metric_type": "BM25"}, n),
    ]
    hits = milvus.client.hybrid_search(milvus.name, requests, ranker, limit=n, output_fields=["ord"])[0]
    return {int(h["id"]): float(h["distance"]) for h in hits}


def main() -> None:
    from pymilvus import RRFRanker, WeightedRanker

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument("--cache", type=Path, default=Path(".cache/eval"))
    args = parser.parse_args()

    settings = Settings().model_copy(update={"backend": "milvus"})
    dataset = load_beir(args.dataset, args.split)
    embedder = Embedder.load(settings.embedding)
    index_dir, names = build_index(dataset.corpus_file, settings, embedder, args.cache)
    local = HybridIndex.open(index_dir, settings, dim=embedder.dim)
    milvus = milvus_copy(local, settings)
    retrieval = settings.retrieval.model_copy(update={"candidates": EVAL_CANDIDATES})
    ours = HybridRetriever(milvus, embedder, retrieval)
    weight = settings.retrieval.dense_weight
    rankers = {
        "milvus rrf (k=60)": RRFRanker(settings.retrieval.rrf_k),
        f"milvus weighted ({weight}, arctan)": WeightedRanker(weight, 1 - weight, norm_score=True),
    }
    runs: dict[str, dict[str, dict[str, float]]] = {"ours: min-max weighted": {}, **{name: {} for name in rankers}}
    for qid, text in dataset.queries.items():
        hits = ours.retrieve(text, top_k=2 * EVAL_CANDIDATES, mode="hybrid", rerank=False)
        runs["ours: min-max weighted"][qid] = best_per_doc(((h.path, h.score) for h in hits), names)
        vector, terms = embedder.encode_query(text), " ".join(milvus.sparse.tokenizer(text))
        for name, ranker in rankers.items():
            scores = milvus_ranked(milvus, ranker, vector, terms, EVAL_CANDIDATES)
            records = milvus.store.chunks(list(scores))
            runs[name][qid] = best_per_doc(((records[i].path, s) for i, s in scores.items()), names)
    milvus.close()
    local.close()
    base = None
    print(f"{args.dataset.name} {args.split}, {len(dataset.queries)} queries, Milvus Lite ({settings.milvus.index_type})")
    for name, run in runs.items():
        metrics, per_query = score_run(dataset.qrels, run)
        values = np.array([per_query["ndcg@10"][q] for q in sorted(per_query["ndcg@10"])])
        p = "" if base is None else f"  delta {values.mean() - base.mean():+.4f} (p={paired_randomisation_p(values, base):.3f})"
        base = values if base is None else base
        print(f"{name:34s} nDCG@10 {metrics['ndcg@10']:.4f}  recall@100 {metrics['recall@100']:.4f}{p}")


def best_per_doc(scored: Iterable[tuple[str, float]], names: dict[str, str]) -> dict[str, float]:
    """{document id: its best chunk's score} (MaxP) from (file path, chunk score) pairs."""
    scores: dict[str, float] = {}
    for path, score in scored:
        doc = names[path]
        scores[doc] = max(score, scores.get(doc, float("-inf")))
    return scores


if __name__ == "__main__":
    main()
