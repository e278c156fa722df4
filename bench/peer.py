"""The peer: llama-index's own hybrid pipeline over the same files and queries, as a user of
llama-index would build it: SimpleDirectoryReader, its default SentenceSplitter,
VectorStoreIndex with the same MiniLM model (HuggingFaceEmbedding), llama-index-retrievers-bm25
with an English stemmer, and QueryFusionRetriever in reciprocal-rerank mode with one query (so
no LLM is needed).

It runs in its own virtual environment (`make bench` builds .venv-peer from
requirements-peer.txt): llama-index-retrievers-bm25 pins PyStemmer below 3, which stems
differently from the product's. It imports nothing of the product and writes plain JSON: ingest
seconds, per-query milliseconds and each query's best score per file (the caller scores it)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=Path, required=True, help="the folder of documents (one file per corpus document)")
    parser.add_argument("--queries", type=Path, required=True, help="JSON {query id: text}")
    parser.add_argument("--model", required=True, help="sentence-transformers folder of the embedding model")
    parser.add_argument("--top-k", type=int, default=100)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import Stemmer
    from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex
    from llama_index.core.llms import MockLLM
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.retrievers.bm25 import BM25Retriever

    Settings.llm = MockLLM()  # never called with num_queries=1; stops a default remote LLM being resolved
    Settings.embed_model = HuggingFaceEmbedding(model_name=args.model, device="cpu")
    started = time.perf_counter()
    documents = SimpleDirectoryReader(str(args.docs)).load_data()
    nodes = SentenceSplitter().get_nodes_from_documents(documents)
    index = VectorStoreIndex(nodes)
    bm25 = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=args.top_k, stemmer=Stemmer.Stemmer("english"), language="english")
    ingest_s = time.perf_counter() - started

    fusion = QueryFusionRetriever(
        [index.as_retriever(similarity_top_k=args.top_k), bm25],
        similarity_top_k=args.top_k,
        num_queries=1,
        mode="reciprocal_rerank",
        use_async=False,
    )
    queries = json.loads(args.queries.read_text())
    latency_ms, run = [], {}
    for qid, text in queries.items():
        t0 = time.perf_counter()
        results = fusion.retrieve(text)
        latency_ms.append((time.perf_counter() - t0) * 1000)
        best: dict[str, float] = {}
        for r in results:
            name = r.node.metadata["file_name"]
            best[name] = max(best.get(name, float("-inf")), float(r.score or 0.0))
        run[qid] = best
    args.out.write_text(json.dumps({"ingest_s": ingest_s, "nodes": len(nodes), "documents": len(documents), "latency_ms": latency_ms, "run": run}))


if __name__ == "__main__":
    main()
