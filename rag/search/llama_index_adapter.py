"""The engine's retriever as a llama-index `BaseRetriever`, so it plugs into llama-index query
engines and pipelines: each hit becomes a `NodeWithScore` carrying its file, page and span."""

from __future__ import annotations

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag.search.retriever import Filters, HybridRetriever


class HybridLlamaIndexRetriever(BaseRetriever):
    def __init__(self, retriever: HybridRetriever, top_k: int | None = None, filters: Filters | None = None) -> None:
        super().__init__()
        self._hybrid = retriever
        self._top_k = top_k
        self._filters = filters

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self._hybrid.retrieve(query_bundle.query_str, self._top_k, self._filters)
        return [
            NodeWithScore(
                node=TextNode(
                    id_=str(h.chunk_id),
                    text=h.text,
                    start_char_idx=h.start,
                    end_char_idx=h.end,
                    metadata={"path": h.path, "page": h.page, "heading": h.heading, "scores": h.scores},
                ),
                score=h.score,
            )
            for h in hits
        ]
