"""The three Milvus collections of an index and the rows that go in them: `NAME` (chunks: text,
place, dense vector, BM25 terms), `NAME_files` (the file registry: path, size, mtime, hash,
kind) and `NAME_meta` (key -> value: the index spec, the source folder, failed files).

Milvus wants a vector field in every collection: the registry and meta rows carry a constant
2-dimensional `v`, never searched."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from rag.config import BM25Settings, MilvusSettings
from rag.storage.sparse import Tokenizer
from rag.storage.store import ChunkRecord, FileRecord

MAX_VARCHAR = 65_535  # bytes: Milvus's limit on a VARCHAR field
CHUNK_FIELDS = ["id", "path", "ord", "text", "start", "end", "page", "heading", "ocr", "context"]
FILE_FIELDS = ["path", "fid", "size", "mtime_ns", "sha256", "kind"]
UNSEARCHED = [0.0, 0.0]  # the `v` of registry and meta rows


def chunk_id(path: str, sha256: str, ord_: int) -> int:
    """A chunk's id: stable for the same file content (a re-run after a kill writes the same ids,
    so a repeated insert replaces, never doubles) and unique across machines without a counter.
    63 bits of BLAKE2b: the chance of any collision among 10M chunks is about 5 in a million."""
    digest = hashlib.blake2b(f"{path}\0{sha256}\0{ord_}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & (2**63 - 1)


def fits(value: str, field: str, path: str) -> str:
    if len(value.encode("utf-8")) > MAX_VARCHAR:
        raise ValueError(f"{path}: a chunk's {field} is over Milvus's {MAX_VARCHAR}-byte limit for a text field; lower chunking.chunk_tokens")
    return value


def analysed(terms: Sequence[str]) -> str:
    """Our BM25 terms as the text Milvus's standard analyzer reads: it would split a whole number
    ("2.0", bm25.whole_numbers) at its dot into "2" and "0" (checked on Milvus Lite), so the dot
    travels as "_", which it keeps inside a token."""
    return " ".join(t.replace(".", "_") for t in terms)


def chunk_rows(record: FileRecord, chunks: Sequence[ChunkRecord], vectors: np.ndarray, tokenizer: Tokenizer) -> list[dict]:
    """Rows of the chunks collection; `terms` holds the BM25 terms our tokenizer makes."""
    return [
        {
            "id": int(c.id),
            "path": record.path,
            "kind": record.kind,
            "ord": c.ord,
            "text": fits(c.text, "text", record.path),
            "start": c.start,
            "end": c.end,
            "page": -1 if c.page is None else c.page,
            "heading": fits(c.heading or "", "heading", record.path),
            "ocr": bool(c.ocr),
            "context": fits(c.context or "", "context", record.path),
            "terms": fits(analysed(tokenizer(f"{c.context}\n{c.text}" if c.context else c.text)), "terms", record.path),
            "dense": np.asarray(v, dtype=np.float32).tolist(),
        }
        for c, v in zip(chunks, vectors)
    ]


def chunk_record(row: dict) -> ChunkRecord:
    return ChunkRecord(
        row["id"],
        row["path"],
        row["ord"],
        row["text"],
        row["start"],
        row["end"],
        row["page"] if row["page"] >= 0 else None,
        row["heading"] or None,
        row["ocr"],
        row["context"] or None,
    )


def file_row(record: FileRecord) -> dict:
    return {
        "path": record.path,
        "fid": record.id,
        "size": record.size,
        "mtime_ns": record.mtime_ns,
        "sha256": record.sha256,
        "kind": record.kind,
        "v": UNSEARCHED,
    }


def file_record(row: dict) -> FileRecord:
    return FileRecord(row["fid"], row["path"], row["size"], row["mtime_ns"], row["sha256"], row["kind"])


def create_chunks(client, name: str, dim: int, settings: MilvusSettings, bm25: BM25Settings) -> None:
    """`terms` holds our stemmed terms (split again by the standard tokenizer: Milvus Lite has no
    whitespace one) and is indexed for TEXT_MATCH too, which counts a term's documents (its IDF)
    for the answer's checks."""
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
    schema.add_field("terms", DataType.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=True, enable_match=True, analyzer_params={"tokenizer": "standard"})
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"], output_field_names=["sparse"]))
    index = client.prepare_index_params()
    index.add_index("dense", index_type=settings.index_type, metric_type="IP", params=settings.index_params)
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={"bm25_k1": bm25.k1, "bm25_b": bm25.b})
    index.add_index("path", index_type="INVERTED")
    _create(client, name, schema, index)


def create_files(client, name: str) -> None:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False)
    schema.add_field("path", DataType.VARCHAR, max_length=MAX_VARCHAR, is_primary=True)
    schema.add_field("fid", DataType.INT64)
    schema.add_field("size", DataType.INT64)
    schema.add_field("mtime_ns", DataType.INT64)
    schema.add_field("sha256", DataType.VARCHAR, max_length=64)
    schema.add_field("kind", DataType.VARCHAR, max_length=32)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=len(UNSEARCHED))
    _create_unsearched(client, name, schema)


def create_meta(client, name: str) -> None:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False)
    schema.add_field("key", DataType.VARCHAR, max_length=256, is_primary=True)
    schema.add_field("value", DataType.VARCHAR, max_length=MAX_VARCHAR)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=len(UNSEARCHED))
    _create_unsearched(client, name, schema)


def _create_unsearched(client, name: str, schema) -> None:
    index = client.prepare_index_params()
    index.add_index("v", index_type="FLAT", metric_type="L2")
    _create(client, name, schema, index)


def _create(client, name: str, schema, index) -> None:
    """The collection, then its indexes without waiting for them to build: Milvus builds them as
    segments seal, and pymilvus's wait polls a timestamp call Milvus Lite lacks (an error logged
    and half a second lost per index)."""
    client.create_collection(name, schema=schema)
    client.create_index(name, index, sync=False)
