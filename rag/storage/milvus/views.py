"""What the retriever and the answer path read from a Milvus index, shaped like the local
snapshot's parts: `MilvusDense.search` like DenseIndex, `MilvusSparse` (search, tokenizer, idf,
term_share, len) like SparseIndex, `MilvusStore` like the ChunkStore's read side."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.storage.milvus.schema import CHUNK_FIELDS, FILE_FIELDS, analysed, chunk_record, file_record
from rag.storage.sparse import Tokenizer, idf_of, term_share
from rag.storage.store import ChunkRecord, FileRecord, IndexSpec

MAX_REPLY = 16_384  # rows: Milvus's cap on one query's reply
PAGE = 4096  # rows per page of a query iterator


def quoted(text: str) -> str:
    """A string literal for a Milvus filter expression."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def id_filter(allowed: np.ndarray | None) -> str:
    return "" if allowed is None else f"id in [{','.join(str(int(i)) for i in allowed)}]"


def count(client, collection: str, filter: str = "") -> int:
    return int(client.query(collection, filter=filter, output_fields=["count(*)"])[0]["count(*)"])


def every_row(client, collection: str, filter: str, fields: list[str]) -> Iterator[dict]:
    """All rows matching `filter`: in one reply when they fit one, else a page at a time."""
    total = count(client, collection, filter)
    if total <= MAX_REPLY:  # Milvus Lite has no server timestamps for an iterator, and logs an error for each page
        yield from client.query(collection, filter=filter, output_fields=fields, limit=max(total, 1))
        return
    pages = client.query_iterator(collection, batch_size=PAGE, filter=filter, output_fields=fields)
    try:
        while rows := pages.next():
            yield from rows
    finally:
        pages.close()


@dataclass
class MilvusDense:
    client: object
    collection: str
    search_params: dict

    def search(self, vector: np.ndarray, n: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids (1, ≤n), inner products (1, ≤n)), best first, like DenseIndex.search."""
        if allowed is not None and len(allowed) == 0:
            return np.zeros((1, 0), dtype=np.int64), np.zeros((1, 0), dtype=np.float32)
        hits = self.client.search(
            self.collection,
            data=[np.asarray(vector, dtype=np.float32).reshape(-1).tolist()],
            anns_field="dense",
            limit=n,
            filter=id_filter(allowed),
            search_params={"metric_type": "IP", "params": self.search_params},
            output_fields=["ord"],  # a small field: with none named, Milvus Lite returns every field of every hit
        )[0]
        return np.array([[h["id"] for h in hits]], dtype=np.int64), np.array([[h["distance"] for h in hits]], dtype=np.float32)


@dataclass
class MilvusSparse:
    """BM25 search by Milvus, and the collection's term statistics for the answer's checks:
    a term's document frequency is a TEXT_MATCH count (about 4 ms on Milvus Lite), kept until
    the collection's size changes."""

    client: object
    collection: str
    tokenizer: Tokenizer
    _df: dict[str, int] = field(default_factory=dict, repr=False)
    _df_at: int = field(default=-1, repr=False)  # the chunk count `_df` was counted at
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def search(self, query: str, n: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, BM25 scores), best first, like SparseIndex.search."""
        terms = analysed(self.tokenizer(query))
        if not terms or (allowed is not None and len(allowed) == 0):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        hits = self.client.search(
            self.collection,
            data=[terms],
            anns_field="sparse",
            limit=n,
            filter=id_filter(allowed),
            search_params={"metric_type": "BM25"},
            output_fields=["ord"],
        )[0]
        # Milvus Lite reports a BM25 match as a negative distance, a server as a positive score: best first either way.
        scores = np.abs(np.array([h["distance"] for h in hits], dtype=np.float32))
        return np.array([h["id"] for h in hits], dtype=np.int64), scores

    def __len__(self) -> int:
        return count(self.client, self.collection)

    def idf(self, terms: list[str]) -> np.ndarray:
        """As SparseIndex.idf, from Milvus's counts."""
        n = len(self)
        with self._lock:
            if n != self._df_at:
                self._df, self._df_at = {}, n
            for term in set(terms) - self._df.keys():
                self._df[term] = count(self.client, self.collection, f"TEXT_MATCH(terms, {quoted(analysed([term]))})")
            df = np.array([self._df[t] for t in terms], dtype=np.float64)
        return idf_of(n, df)

    def term_share(self, query: str, texts: Sequence[str]) -> np.ndarray:
        return term_share(self.tokenizer, self.idf, query, texts)


@dataclass
class MilvusStore:
    """The chunk and file records, the index spec and the failed files, from the collections."""

    client: object
    chunks_collection: str
    files_collection: str
    meta_collection: str

    def files(self) -> dict[str, FileRecord]:
        return {r["path"]: file_record(r) for r in every_row(self.client, self.files_collection, 'path != ""', FILE_FIELDS)}

    def chunk_ids_of(self, paths: Sequence[str]) -> np.ndarray:
        if not paths:
            return np.zeros(0, dtype=np.int64)
        rows = every_row(self.client, self.chunks_collection, f"path in [{','.join(quoted(p) for p in paths)}]", ["id"])
        return np.array(sorted(r["id"] for r in rows), dtype=np.int64)

    def chunks(self, ids: Sequence[int]) -> dict[int, ChunkRecord]:
        if not ids:
            return {}
        rows = self.client.get(self.chunks_collection, ids=[int(i) for i in ids], output_fields=CHUNK_FIELDS)
        return {r["id"]: chunk_record(r) for r in rows}

    def chunk_count(self) -> int:
        return count(self.client, self.chunks_collection)

    def chunks_per_file(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in every_row(self.client, self.chunks_collection, "id >= 0 or id < 0", ["path"]):
            counts[row["path"]] = counts.get(row["path"], 0) + 1
        return counts

    def headings(self) -> list[tuple[str, str]]:
        """(path, heading) for each distinct heading, in path order and then document order."""
        rows = sorted((r["path"], r["ord"], r["heading"]) for r in every_row(self.client, self.chunks_collection, 'heading != ""', ["path", "ord", "heading"]))
        return list(dict.fromkeys((path, heading) for path, _, heading in rows))

    def get_meta(self, key: str) -> str | None:
        rows = self.client.get(self.meta_collection, ids=[key], output_fields=["value"])
        return rows[0]["value"] if rows else None

    def read_spec(self) -> IndexSpec | None:
        spec = self.get_meta("spec")
        return IndexSpec(**json.loads(spec)) if spec else None

    def failures(self) -> dict[str, str]:
        return json.loads(self.get_meta("failures") or "{}")
