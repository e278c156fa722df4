"""The Milvus index backend (issue 13, first step): one collection holds every chunk with its
text, place, dense vector and BM25 terms, and a second the file registry (path, size, mtime,
hash, kind), so every machine serving the collection sees the same index. pymilvus talks to
Milvus Lite (a file, embedded: `milvus-lite`) and to a Milvus server or cluster (a URI) alike.

BM25 terms come from our own tokenizer (lower-cased, stopwords out, Snowball-stemmed) and are
handed to Milvus pre-analysed, because Milvus Lite's analyzers do not stem (stemming is worth
+0.022 nDCG@10 on SciFact) and so that Lite and a server score the same terms. Milvus computes
BM25 itself (its BM25 function over the terms field).

`MilvusIndex` offers what the retriever reads from a local snapshot: `dense.search`,
`sparse.search`, `store.files`, `store.chunk_ids_of` and `store.chunks`."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.config import BM25Settings, MilvusSettings
from rag.sparse import Tokenizer
from rag.store import ChunkRecord, ChunkStore, FileRecord

MAX_VARCHAR = 65_535  # bytes: Milvus's limit on a VARCHAR field
CHUNK_FIELDS = ["id", "path", "ord", "text", "start", "end", "page", "heading", "ocr", "context"]
SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9_]")


def collection_name(index_name: str) -> str:
    """A valid Milvus collection name (letters, digits, underscores; not starting with a digit)."""
    name = SAFE_NAME_RE.sub("_", index_name) or "rag"
    return name if not name[0].isdigit() else f"rag_{name}"


def quoted(text: str) -> str:
    """A string literal for a Milvus filter expression."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fits(value: str, field: str, path: str) -> str:
    if len(value.encode("utf-8")) > MAX_VARCHAR:
        raise ValueError(f"{path}: a chunk's {field} is over Milvus's {MAX_VARCHAR}-byte limit for a text field; lower chunking.chunk_tokens")
    return value


def connect(settings: MilvusSettings, default_uri: str):
    """A MilvusClient for `settings.uri` (or `default_uri`), with the token from its environment variable."""
    from pymilvus import MilvusClient

    token = os.environ.get(settings.token_env, "")
    return MilvusClient(settings.uri or default_uri, token=token) if token else MilvusClient(settings.uri or default_uri)


def lite_file(settings: MilvusSettings, default_uri: str) -> str | None:
    """The Milvus Lite file the settings name, or None for a server URI."""
    uri = settings.uri or default_uri
    return None if "://" in uri else uri


def open_index(settings: MilvusSettings, bm25: BM25Settings, index_dir: Path, dim: int) -> MilvusIndex:
    """The Milvus index of the collection in `index_dir`: Milvus Lite in INDEX/milvus.db unless
    `settings.uri` names another file or a server; the collection named by the settings or the folder."""
    default = str(index_dir / "milvus.db")
    name = collection_name(settings.collection or index_dir.name)
    return MilvusIndex.open(connect(settings, default), name, dim, settings, bm25, lite_file(settings, default))


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
            filter=_id_filter(allowed),
            search_params={"metric_type": "IP", "params": self.search_params},
            output_fields=["ord"],  # a small field: with none named, Milvus Lite returns every field of every hit
        )[0]
        return np.array([[h["id"] for h in hits]], dtype=np.int64), np.array([[h["distance"] for h in hits]], dtype=np.float32)


@dataclass
class MilvusSparse:
    client: object
    collection: str
    tokenizer: Tokenizer

    def search(self, query: str, n: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, BM25 scores), best first, like SparseIndex.search."""
        terms = " ".join(self.tokenizer(query))
        if not terms or (allowed is not None and len(allowed) == 0):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        hits = self.client.search(
            self.collection,
            data=[terms],
            anns_field="sparse",
            limit=n,
            filter=_id_filter(allowed),
            search_params={"metric_type": "BM25"},
            output_fields=["ord"],
        )[0]
        # Milvus Lite reports a BM25 match as a negative distance, a server as a positive score: best first either way.
        scores = np.abs(np.array([h["distance"] for h in hits], dtype=np.float32))
        return np.array([h["id"] for h in hits], dtype=np.int64), scores


def _id_filter(allowed: np.ndarray | None) -> str:
    return "" if allowed is None else f"id in [{','.join(str(int(i)) for i in allowed)}]"


@dataclass
class MilvusStore:
    """The chunk and file records the retriever reads, from the two collections."""

    client: object
    chunks_collection: str
    files_collection: str

    def files(self) -> dict[str, FileRecord]:
        rows = self.client.query(self.files_collection, filter='path != ""', output_fields=["path", "size", "mtime_ns", "sha256", "kind", "fid"])
        return {r["path"]: FileRecord(r["fid"], r["path"], r["size"], r["mtime_ns"], r["sha256"], r["kind"]) for r in rows}

    def chunk_ids_of(self, paths: Sequence[str]) -> np.ndarray:
        if not paths:
            return np.zeros(0, dtype=np.int64)
        rows = self.client.query(self.chunks_collection, filter=f"path in [{','.join(quoted(p) for p in paths)}]", output_fields=["id"])
        return np.array(sorted(r["id"] for r in rows), dtype=np.int64)

    def chunks(self, ids: Sequence[int]) -> dict[int, ChunkRecord]:
        if not ids:
            return {}
        rows = self.client.get(self.chunks_collection, ids=[int(i) for i in ids], output_fields=CHUNK_FIELDS)
        return {
            r["id"]: ChunkRecord(
                r["id"],
                r["path"],
                r["ord"],
                r["text"],
                r["start"],
                r["end"],
                r["page"] if r["page"] >= 0 else None,
                r["heading"] or None,
                r["ocr"],
                r["context"] or None,
            )
            for r in rows
        }

    def chunk_count(self) -> int:
        return int(self.client.query(self.chunks_collection, filter="", output_fields=["count(*)"])[0]["count(*)"])


@dataclass
class MilvusIndex:
    """An index held by Milvus: `dense`, `sparse` and `store` as the retriever reads them, and
    the writes an ingest needs (a file's chunks replaced or removed)."""

    client: object
    name: str
    dim: int
    dense: MilvusDense
    sparse: MilvusSparse
    store: MilvusStore
    lite_file: str | None = None  # the Milvus Lite file, when that is what `client` reaches

    @classmethod
    def open(cls, client, name: str, dim: int, settings: MilvusSettings, bm25: BM25Settings, lite: str | None = None) -> MilvusIndex:
        """The collections `name` and `name`_files, created (empty) when missing."""
        files = f"{name}_files"
        if not client.has_collection(name):
            _create_chunks(client, name, dim, settings, bm25)
        if not client.has_collection(files):
            _create_files(client, files)
        client.load_collection(name)
        client.load_collection(files)
        tokenizer = Tokenizer(bm25.stemmer, bm25.stopwords)
        dense, sparse = MilvusDense(client, name, settings.search_params), MilvusSparse(client, name, tokenizer)
        return cls(client, name, dim, dense, sparse, MilvusStore(client, name, files), lite)

    def replace_file(self, record: FileRecord, chunks: Sequence[ChunkRecord], vectors: np.ndarray) -> None:
        """Put one file's chunks (with their own ids) and its registry row in, in place of any it
        had. The registry row goes last: after a kill before it, the file still reads as changed
        and the next ingest replaces its chunks again, so none is lost or doubled."""
        if len(chunks) != len(vectors):
            raise ValueError(f"{record.path}: {len(chunks)} chunks but {len(vectors)} vectors")
        self.client.delete(self.name, filter=f"path == {quoted(record.path)}")
        rows = self.chunk_rows(record, chunks, vectors)
        if rows:
            self.client.insert(self.name, rows)
        self.client.upsert(self.store.files_collection, [file_row(record)])

    def chunk_rows(self, record: FileRecord, chunks: Sequence[ChunkRecord], vectors: np.ndarray) -> list[dict]:
        return [
            {
                "id": int(c.id),
                "path": record.path,
                "kind": record.kind,
                "ord": c.ord,
                "text": _fits(c.text, "text", record.path),
                "start": c.start,
                "end": c.end,
                "page": -1 if c.page is None else c.page,
                "heading": _fits(c.heading or "", "heading", record.path),
                "ocr": bool(c.ocr),
                "context": _fits(c.context or "", "context", record.path),
                "terms": _fits(" ".join(self.sparse.tokenizer(f"{c.context}\n{c.text}" if c.context else c.text)), "terms", record.path),
                "dense": np.asarray(v, dtype=np.float32).tolist(),
            }
            for c, v in zip(chunks, vectors)
        ]

    def copy_store(self, store: ChunkStore, batch: int = 2000) -> int:
        """Fill an empty index with a local snapshot's files, chunks and vectors (no embedding);
        returns the chunks copied. Rows go in batches, files last."""
        if self.store.chunk_count():
            raise ValueError(f"Milvus collection {self.name} is not empty; copy a store only into a new one")
        files = store.files()
        ids, vectors = store.embeddings(self.dim)
        position = {int(i): n for n, i in enumerate(ids)}
        rows: list[dict] = []
        for at in range(0, len(ids), batch):
            records = store.chunks([int(i) for i in ids[at : at + batch]])
            for cid in ids[at : at + batch]:
                c = records[int(cid)]
                rows += self.chunk_rows(files[c.path], [c], vectors[position[int(cid)]][None, :])
            self.client.insert(self.name, rows)
            rows = []
        file_rows = [file_row(f) for f in files.values()]
        for at in range(0, len(file_rows), batch):
            self.client.insert(self.store.files_collection, file_rows[at : at + batch])
        for name in (self.name, self.store.files_collection):
            # Sealed segments keep their indexes; rows left in Milvus Lite's memtable are scanned
            # and their BM25 index rebuilt at every search (seconds a query at 12,290 chunks).
            self.client.flush(name)
        return len(ids)

    def delete_files(self, paths: Iterable[str]) -> None:
        """Remove these files: their registry rows first, so a kill half-way leaves chunks the next
        ingest removes (a file in no registry row is deleted again), never a row without chunks."""
        paths = list(paths)
        if paths:
            listed = ",".join(quoted(p) for p in paths)
            self.client.delete(self.store.files_collection, filter=f"path in [{listed}]")
            self.client.delete(self.name, filter=f"path in [{listed}]")

    def drop(self) -> None:
        """Delete both collections and close the client (a new, empty index opens after)."""
        for name in (self.name, self.store.files_collection):
            self.client.drop_collection(name)
        self.close()

    def close(self) -> None:
        """Close the client; for Milvus Lite, also stop the in-process server pymilvus started
        for the file (else it runs, holding the file, until the process exits)."""
        self.client.close()
        if self.lite_file:
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(self.lite_file)


def file_row(record: FileRecord) -> dict:
    return {
        "path": record.path,
        "fid": record.id,
        "size": record.size,
        "mtime_ns": record.mtime_ns,
        "sha256": record.sha256,
        "kind": record.kind,
        "v": [0.0, 0.0],
    }


def _create_chunks(client, name: str, dim: int, settings: MilvusSettings, bm25: BM25Settings) -> None:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("path", DataType.VARCHAR, max_length=MAX_VARCHAR)
    schema.add_field("kind", DataType.VARCHAR, max_length=32)
    for field in ("ord", "start", "end", "page"):
        schema.add_field(field, DataType.INT64)
    schema.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR)
    schema.add_field("heading", DataType.VARCHAR, max_length=MAX_VARCHAR)
    schema.add_field("ocr", DataType.BOOL)
    schema.add_field("context", DataType.VARCHAR, max_length=MAX_VARCHAR)
    schema.add_field("terms", DataType.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=True, analyzer_params={"tokenizer": "standard"})
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"], output_field_names=["sparse"]))
    index = client.prepare_index_params()
    index.add_index("dense", index_type=settings.index_type, metric_type="IP", params=settings.index_params)
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={"bm25_k1": bm25.k1, "bm25_b": bm25.b})
    index.add_index("path", index_type="INVERTED")
    client.create_collection(name, schema=schema, index_params=index)


def _create_files(client, name: str) -> None:
    """The file registry. Milvus wants a vector field in every collection: `v` is a constant
    2-dimensional one, never searched."""
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False)
    schema.add_field("path", DataType.VARCHAR, max_length=MAX_VARCHAR, is_primary=True)
    schema.add_field("fid", DataType.INT64)
    schema.add_field("size", DataType.INT64)
    schema.add_field("mtime_ns", DataType.INT64)
    schema.add_field("sha256", DataType.VARCHAR, max_length=64)
    schema.add_field("kind", DataType.VARCHAR, max_length=32)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    index = client.prepare_index_params()
    index.add_index("v", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=index)
