"""An index held by Milvus: the reads as the retriever and the answer path make them (`dense`,
`sparse`, `store`) and the writes an ingest makes, one file at a time, in an order that a kill
at any point leaves repairable by the next ingest (see `replace_file`)."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from rag.config import BM25Settings, MilvusSettings, Settings
from rag.storage.index import bm25_for, settings_for, spec_from_settings
from rag.storage.milvus.schema import UNSEARCHED, chunk_rows, create_chunks, create_files, create_meta, file_row
from rag.storage.milvus.views import MilvusDense, MilvusSparse, MilvusStore, quoted
from rag.storage.sparse import Tokenizer
from rag.storage.store import ChunkRecord, ChunkStore, FileRecord, IndexSpec

SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9_]")
PENDING = ""  # the sha256 of a registry row whose chunks are being written: the file reads as changed until it is done


def collection_name(index_name: str) -> str:
    """A valid Milvus collection name (letters, digits, underscores; not starting with a digit)."""
    name = SAFE_NAME_RE.sub("_", index_name) or "rag"
    return name if not name[0].isdigit() else f"rag_{name}"


class LiteServers:
    """How many open indexes use each Milvus Lite file's in-process server. milvus-lite keeps one
    server per file for the whole process and `release_server` stops it outright, so the last
    index to close stops it, not the first (an ingest inside the API shares the engine's)."""

    lock = threading.Lock()
    users: dict[str, int] = {}  # noqa: RUF012 - process-wide by design, as milvus-lite's own server table

    @classmethod
    def opened(cls, path: str) -> None:
        with cls.lock:
            cls.users[os.path.abspath(path)] = cls.users.get(os.path.abspath(path), 0) + 1

    @classmethod
    def closed(cls, path: str) -> None:
        from milvus_lite.server_manager import server_manager_instance

        with cls.lock:
            left = cls.users.get(os.path.abspath(path), 1) - 1
            cls.users[os.path.abspath(path)] = left
            if left <= 0:
                del cls.users[os.path.abspath(path)]
                server_manager_instance.release_server(path)


def connect(settings: MilvusSettings, default_uri: str):
    """A MilvusClient for `settings.uri` (or `default_uri`), with the token from its environment variable."""
    from pymilvus import MilvusClient
    from pymilvus.exceptions import ConnectionConfigException

    uri, token = settings.uri or default_uri, os.environ.get(settings.token_env, "")
    try:
        return MilvusClient(uri, token=token) if token else MilvusClient(uri)
    except ConnectionConfigException as exc:
        if "://" in uri:
            raise
        raise ConnectionError(
            f"Milvus Lite could not open {uri}: another process has it open (Milvus Lite serves one process; "
            "stop it, or run a Milvus server and set milvus.uri = http://HOST:19530)"
        ) from exc


def lite_file(settings: MilvusSettings, default_uri: str) -> str | None:
    """The Milvus Lite file the settings name, or None for a server URI."""
    uri = settings.uri or default_uri
    return None if "://" in uri else uri


def open_milvus(settings: MilvusSettings, bm25: BM25Settings, index_dir: Path, dim: int | None) -> MilvusIndex:
    """The Milvus index of the collection in `index_dir`: Milvus Lite in INDEX/milvus.db unless
    `settings.uri` names another file or a server; the collection named by the settings or the
    folder. `dim` None opens only an index that exists (FileNotFoundError otherwise)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    default = str(index_dir / "milvus.db")
    name = collection_name(settings.collection or index_dir.name)
    return MilvusIndex.open(connect(settings, default), name, dim, settings, bm25, index_dir, lite_file(settings, default))


def open_for_reading(root: Path, settings: Settings, dim: int | None = None) -> MilvusIndex:
    """The Milvus index the settings name, checked against them like a local snapshot."""
    index = open_milvus(settings.milvus, settings.bm25, root, None)
    spec = index.spec
    if spec is None:
        index.close()
        raise FileNotFoundError(f"Milvus collection {index.name} holds no index yet; run `rag ingest SOURCE --index {root}` with index.backend = milvus")
    spec.check_matches(spec_from_settings(settings_for(settings, spec), dim if dim is not None else spec.dim, spec.tuned), root)
    return index


def milvus_version(root: Path, settings: Settings) -> str | None:
    """`milvus:COLLECTION` when the collection the settings name holds an index, else None."""
    try:
        index = open_milvus(settings.milvus, settings.bm25, root, None)
    except FileNotFoundError:
        return None
    try:
        return index.version if index.spec is not None else None
    finally:
        index.close()


@dataclass
class MilvusIndex:
    client: object
    name: str
    root: Path  # the local index folder: status board, write lock, conversations
    dense: MilvusDense
    sparse: MilvusSparse
    store: MilvusStore
    lite_file: str | None = None  # the Milvus Lite file, when that is what `client` reaches

    @classmethod
    def open(cls, client, name: str, dim: int | None, settings: MilvusSettings, bm25: BM25Settings, root: Path, lite: str | None = None) -> MilvusIndex:
        """The collections `name`, `name`_files and `name`_meta, created (empty) when missing and `dim` is given."""
        files, meta = f"{name}_files", f"{name}_meta"
        if lite:
            LiteServers.opened(lite)
        if not client.has_collection(name):
            if dim is None:
                client.close()
                if lite:
                    LiteServers.closed(lite)
                raise FileNotFoundError(f"no Milvus collection {name} at {settings.uri or lite}")
            create_chunks(client, name, dim, settings, bm25)
        for collection, create in ((files, create_files), (meta, create_meta)):
            if not client.has_collection(collection):
                create(client, collection)
        for collection in (name, files, meta):
            client.load_collection(collection)
        store = MilvusStore(client, name, files, meta)
        tokenizer = Tokenizer.of(bm25_for(bm25, store.read_spec()))  # the terms the collection was made with
        dense, sparse = MilvusDense(client, name, settings.search_params), MilvusSparse(client, name, tokenizer)
        return cls(client, name, root, dense, sparse, store, lite)

    # --- what the engine reads beside the search ------------------------------------------
    @property
    def spec(self) -> IndexSpec | None:
        return self.store.read_spec()

    @property
    def version(self) -> str:
        """What answers name as the index they were found in (a local index names its snapshot)."""
        return f"milvus:{self.name}"

    @property
    def updated(self) -> float:
        """When the last ingest ended (seconds since the epoch)."""
        return float(self.store.get_meta("updated") or 0.0)

    def is_live(self) -> bool:
        """Milvus serves every write as it lands: there is never a newer version to switch to."""
        return True

    # --- writes ---------------------------------------------------------------------------
    def set_meta(self, key: str, value: str) -> None:
        self.client.upsert(self.store.meta_collection, [{"key": key, "value": value, "v": UNSEARCHED}])

    def write_spec(self, spec: IndexSpec) -> None:
        old = self.spec
        if old is not None:
            old.check_matches(spec, self.root)
        self.set_meta("spec", json.dumps(asdict(spec)))

    def set_failures(self, failures: dict[str, str]) -> None:
        self.set_meta("failures", json.dumps(dict(sorted(failures.items()))))

    def mark_updated(self) -> None:
        self.set_meta("updated", f"{time.time():.3f}")

    def replace_file(self, record: FileRecord, chunks: Sequence[ChunkRecord], vectors: np.ndarray) -> None:
        """Put one file's chunks and its registry row in, in place of any it had. The registry
        row is marked pending first and made whole last: after a kill anywhere between, the file
        reads as changed (or, gone from the folder, as removed) and the next ingest does it again;
        its chunk ids are the same for the same content, so nothing is doubled."""
        if len(chunks) != len(vectors):
            raise ValueError(f"{record.path}: {len(chunks)} chunks but {len(vectors)} vectors")
        rows = chunk_rows(record, chunks, vectors, self.sparse.tokenizer)  # a chunk Milvus cannot hold fails here, before any write
        self.client.upsert(self.store.files_collection, [file_row(replace(record, size=-1, sha256=PENDING))])
        self.client.delete(self.name, filter=f"path == {quoted(record.path)}")
        if rows:
            self.client.insert(self.name, rows)
        self.client.upsert(self.store.files_collection, [file_row(record)])

    def touch_file(self, record: FileRecord) -> None:
        """New stat data for a file whose content did not change."""
        self.client.upsert(self.store.files_collection, [file_row(record)])

    def delete_files(self, paths: Iterable[str]) -> None:
        """Remove these files: their chunks first, registry rows last, so a kill between leaves a
        row the next ingest finds gone from the folder and removes again."""
        paths = list(paths)
        if paths:
            listed = ",".join(quoted(p) for p in paths)
            self.client.delete(self.name, filter=f"path in [{listed}]")
            self.client.delete(self.store.files_collection, filter=f"path in [{listed}]")

    def flush(self) -> None:
        """Seal what was written: Milvus Lite rescans rows left in its memtable, and rebuilds
        their BM25 index, at every search (seconds a query at 12,290 chunks)."""
        for collection in (self.name, self.store.files_collection, self.store.meta_collection):
            self.client.flush(collection)

    def copy_store(self, store: ChunkStore, dim: int, batch: int = 2000) -> int:
        """Fill an empty index with a local snapshot's files, chunks and vectors (no embedding);
        returns the chunks copied. Rows go in batches, files last."""
        if self.store.chunk_count():
            raise ValueError(f"Milvus collection {self.name} is not empty; copy a store only into a new one")
        files = store.files()
        ids, vectors = store.embeddings(dim)
        for at in range(0, len(ids), batch):
            records = store.chunks([int(i) for i in ids[at : at + batch]])
            rows = [row for n, cid in enumerate(ids[at : at + batch], start=at) for row in self._rows(files, records[int(cid)], vectors[n])]
            self.client.insert(self.name, rows)
        file_rows = [file_row(f) for f in files.values()]
        for at in range(0, len(file_rows), batch):
            self.client.insert(self.store.files_collection, file_rows[at : at + batch])
        spec = store.read_spec()
        if spec is not None:
            self.write_spec(spec)
        self.flush()
        return len(ids)

    def _rows(self, files: dict[str, FileRecord], chunk: ChunkRecord, vector: np.ndarray) -> list[dict]:
        return chunk_rows(files[chunk.path], [chunk], vector[None, :], self.sparse.tokenizer)

    def drop(self) -> None:
        """Delete the collections and close the client (a new, empty index opens after)."""
        for collection in (self.name, self.store.files_collection, self.store.meta_collection):
            self.client.drop_collection(collection)
        self.close()

    def close(self) -> None:
        """Close the client; for Milvus Lite, also stop the in-process server pymilvus started
        for the file (else it runs, holding the file, until the process exits)."""
        self.client.close()
        if self.lite_file:
            LiteServers.closed(self.lite_file)
