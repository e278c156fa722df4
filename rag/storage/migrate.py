"""Upgrading an index written before segments (schema 2: one store, one FAISS and one BM25 file
per snapshot) into a snapshot of one segment, without embedding anything again: the store's
files and chunks tables are the segment's, its FAISS file is reused as it is, and only the BM25
term counts are made from the chunks' text. `rag ingest` and `rag doctor` upgrade on their way
(under the write lock, published like any snapshot); readers are told to run one of them."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.storage.catalog import Catalog
from rag.storage.index import bm25_for
from rag.storage.segment_writer import segment_name
from rag.storage.segments import CATALOG_FILE, DELETED_FILE, DENSE_FILE, MANIFEST_FILE, SPARSE_DIR, STORE_FILE, Manifest, SegmentInfo
from rag.storage.snapshots import NewSnapshot
from rag.storage.sparse import SparseSegment, Tokenizer
from rag.storage.store import SCHEMA_VERSION, ChunkStore

BEFORE_SEGMENTS = 2


def needs_upgrade(snapshot: Path) -> bool:
    """Whether `snapshot` was written before segments (its store sits in the snapshot itself)."""
    try:
        version = json.loads((snapshot / MANIFEST_FILE).read_text())["spec"]["schema_version"]
    except (OSError, ValueError, KeyError, TypeError):
        return False  # unreadable: the doctor's business, not an upgrade
    return version == BEFORE_SEGMENTS and (snapshot / STORE_FILE).is_file()


def upgrade(root: Path, snapshot: Path, settings: Settings) -> Path:
    """Publish `snapshot` (schema 2) again as one segment; returns the new snapshot."""
    with NewSnapshot(root) as new:
        segment = new.folder / segment_name(1)
        segment.mkdir()
        old = ChunkStore(snapshot / STORE_FILE, readonly=True)
        try:
            store = old.copy_to(segment / STORE_FILE)
            spec, failures, source = old.read_spec(), old.failures(), old.get_meta("source")
        finally:
            old.close()
        if spec is None:
            raise ValueError(f"snapshot {snapshot} records no index settings; re-ingest with --rebuild")
        spec = replace(spec, schema_version=SCHEMA_VERSION)
        files = store.files()
        catalog = Catalog(new.folder / CATALOG_FILE)
        with catalog.conn:
            for record in files.values():
                catalog.put_file(record, segment.name)
            catalog.set_failures(failures)
            catalog.write_spec(spec)
            if source:
                catalog.set_meta("source", source)
        catalog.close()
        shutil.copy2(snapshot / DENSE_FILE, segment / DENSE_FILE)  # keyed by the same chunk ids
        SparseSegment.build(store.iter_chunk_texts(), Tokenizer.of(bm25_for(settings.bm25, spec))).save(segment / SPARSE_DIR)
        chunks = store.chunk_count()
        next_file, next_chunk = store.next_ids()
        store.close()
        np.save(new.folder / DELETED_FILE, np.zeros(0, dtype=np.int64))
        Manifest(spec, [SegmentInfo(segment.name, chunks, len(files))], chunks, len(files), 0, next_chunk, next_file, 2).write(new.folder)
        return new.publish()
