"""Writing the next snapshot of an index into a `.tmp` folder (rag.storage.snapshots.NewSnapshot): the
live snapshot's catalog copied, its segments hard-linked (never rewritten), at most one new
segment for the files this ingest read, and the chunks of replaced or removed files added to
the deleted ids. The cost follows the change: one small segment, a catalog row per file.

An ingest, `rag tune` and `rag doctor` write through it; the manifest is written last."""

from __future__ import annotations

import errno
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.storage.catalog import Catalog
from rag.storage.dense import DenseIndex
from rag.storage.segments import CATALOG_FILE, DELETED_FILE, DENSE_FILE, SPARSE_DIR, STORE_FILE, Manifest, SegmentInfo, read_deleted
from rag.storage.sparse import SparseSegment, Tokenizer
from rag.storage.store import ChunkStore, FileRecord, IndexSpec, NewChunk


def segment_name(number: int) -> str:
    return f"seg-{number:06d}"


def write_segment_indexes(folder: Path, store: ChunkStore, settings: Settings, dim: int, sparse_from: list[tuple[Path, np.ndarray]] | None = None) -> dict:
    """Build a segment's FAISS and BM25 from every chunk in its store; returns the chunk count
    and the seconds each took. `sparse_from` ((segment folder, live rows) of merged segments)
    stacks their term counts instead of tokenizing every text again."""
    started = time.perf_counter()
    dense = DenseIndex.build_blocks(store.chunk_count(), dim, lambda: store.embedding_blocks(dim), settings.dense)
    dense.save(folder / DENSE_FILE)
    ids = dense.ids()
    del dense
    dense_s = time.perf_counter() - started
    if sparse_from is None:
        sparse = SparseSegment.build(store.iter_chunk_texts(), Tokenizer.of(settings.bm25))
    else:
        sparse = SparseSegment.merged([(SparseSegment.load(seg / SPARSE_DIR), live) for seg, live in sparse_from])
    if not np.array_equal(sparse.ids, ids):
        raise RuntimeError(f"{folder}: BM25 rows and vectors disagree on the chunk ids")
    sparse.save(folder / SPARSE_DIR)
    return {"chunks": int(len(ids)), "dense_s": dense_s, "bm25_s": time.perf_counter() - started - dense_s}


def link_segment(source: Path, target: Path) -> None:
    """Share a published segment with a new snapshot: a hard link per file, no copy (a copy on
    file systems without hard links, such as FAT)."""
    for dirpath, _, filenames in os.walk(source):
        into = target / Path(dirpath).relative_to(source)
        into.mkdir(parents=True, exist_ok=True)
        for name in filenames:
            try:
                os.link(Path(dirpath) / name, into / name)
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                    raise
                shutil.copy2(Path(dirpath) / name, into / name)


def segment_ids(segment: Path) -> np.ndarray:
    """Every chunk id a segment holds (its BM25 row ids: one per chunk, in one small file)."""
    return np.load(segment / SPARSE_DIR / "ids.npy")


class SnapshotWriter:
    """The next snapshot, written into `folder` from the `live` one (None: a fresh index).

    It offers the writes an ingest makes (add_file, delete_file, touch_file, set_failures,
    write_spec, set_meta) and `finish()` seals it: new segment indexed, old ones linked, the
    deleted ids and the manifest written."""

    def __init__(self, folder: Path, live: Path | None) -> None:
        self.folder = folder
        self.live = live
        self.prev = Manifest.read(live) if live else None
        if live:
            source = Catalog(live / CATALOG_FILE, readonly=True)
            self.catalog = source.copy_to(folder / CATALOG_FILE)
            source.close()
        else:
            self.catalog = Catalog(folder / CATALOG_FILE)
        self.deleted = [read_deleted(live)] if live else []
        number = self.prev.next_segment if self.prev else 1
        self.name = segment_name(number)
        self._store: ChunkStore | None = None
        self._prev_stores: dict[str, ChunkStore] = {}
        self._sparse_from: list[tuple[Path, np.ndarray]] | None = None
        self.built: dict = {}  # the new segment's chunk count and build seconds, once finished

    # --- the writes of an ingest ----------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.catalog.conn:
            yield
        if self._store is not None:
            self._store.conn.commit()

    def files(self) -> dict[str, FileRecord]:
        return self.catalog.files()

    def new_store(self) -> ChunkStore:
        """The new segment's store, made on first use with ids after every id given before."""
        if self._store is None:
            (self.folder / self.name).mkdir()
            self._store = ChunkStore(self.folder / self.name / STORE_FILE)
            if self.prev:
                self._store.start_ids(self.prev.next_file_id, self.prev.next_chunk_id)
        return self._store

    def add_file(
        self, path: str, size: int, mtime_ns: int, sha256: str, kind: str, text: str, page_starts: list[int], chunks: list[NewChunk], embeddings
    ) -> None:
        """Put a file's new version in the new segment; its old version's chunks become deleted."""
        self._retire(path)
        file_id = self.new_store().add_file(path, size, mtime_ns, sha256, kind, text, page_starts, chunks, embeddings)
        self.catalog.put_file(FileRecord(file_id, path, size, mtime_ns, sha256, kind), self.name)

    def delete_file(self, path: str) -> None:
        self._retire(path)
        self.catalog.delete_file(path)

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        self.catalog.touch_file(path, size, mtime_ns)

    def set_failures(self, failures: dict[str, str]) -> None:
        self.catalog.set_failures(failures)

    def write_spec(self, spec: IndexSpec) -> None:
        with self.catalog.conn:
            self.catalog.write_spec(spec)

    def set_meta(self, key: str, value: str) -> None:
        with self.catalog.conn:
            self.catalog.set_meta(key, value)

    def _retire(self, path: str) -> None:
        """Mark the chunks of `path`'s live version deleted (it is in a segment shared with older snapshots)."""
        found = self.catalog.locate(path)
        if found is None or found[0] == self.name:  # absent, or written by this ingest (add_file replaces it in place)
            return
        segment = found[0]
        if segment not in self._prev_stores:
            self._prev_stores[segment] = ChunkStore(self.live / segment / STORE_FILE, readonly=True)
        self.deleted.append(self._prev_stores[segment].chunk_ids_of([path]))

    # --- merging --------------------------------------------------------------------------
    def merge_in(self, names: list[str], reuse_sparse: bool = True) -> None:
        """Copy the live files and chunks of the live snapshot's segments `names` into the new
        segment, ids kept, so those segments are left behind; with `reuse_sparse` their BM25
        term counts are stacked rather than counted again from the text."""
        store = self.new_store()
        holding = self.catalog.live_file_ids()
        self._sparse_from = [] if reuse_sparse else None
        for name in names:
            file_ids = sorted(holding.get(name, ()))
            store.conn.execute("ATTACH DATABASE ? AS src", (str(self.live / name / STORE_FILE),))
            try:
                with store.conn:
                    store.conn.execute("CREATE TEMP TABLE keep (id INTEGER PRIMARY KEY)")
                    store.conn.executemany("INSERT INTO keep VALUES (?)", [(i,) for i in file_ids])
                    store.conn.execute("INSERT INTO files SELECT * FROM src.files WHERE id IN (SELECT id FROM keep)")
                    store.conn.execute("INSERT INTO chunks SELECT * FROM src.chunks WHERE file_id IN (SELECT id FROM keep)")
                    store.conn.execute("DROP TABLE keep")
            finally:
                store.conn.execute("DETACH DATABASE src")
            if self._sparse_from is not None:
                ids = segment_ids(self.live / name)
                self._sparse_from.append((self.live / name, np.isin(ids, store.chunk_ids_in(ids))))
        with self.catalog.conn:
            self.catalog.move_segments(names, self.name)

    # --- sealing --------------------------------------------------------------------------
    def finish(self, settings: Settings, spec: IndexSpec) -> Manifest:
        """Index the new segment, link the live one's segments that still hold a live file,
        write the deleted ids and, last, the manifest."""
        manifest = Manifest(spec, next_segment=int(self.name.removeprefix("seg-")) + 1)
        if self.prev:
            manifest.next_file_id, manifest.next_chunk_id = self.prev.next_file_id, self.prev.next_chunk_id
        self.catalog.conn.commit()
        holding = self.catalog.live_file_ids()
        kept: list[SegmentInfo] = []
        for info in self.prev.segments if self.prev else []:
            if info.name in holding:
                link_segment(self.live / info.name, self.folder / info.name)
                kept.append(info)
        if self._store is not None:
            self._store.conn.commit()
            manifest.next_file_id, manifest.next_chunk_id = self._store.next_ids()
            self.built = write_segment_indexes(self.folder / self.name, self._store, settings, spec.dim, self._sparse_from)
            kept.append(SegmentInfo(self.name, self.built["chunks"], len(self._store.files())))
            self._store.close()
            self._store = None
        elif (self.folder / self.name).exists():
            shutil.rmtree(self.folder / self.name)
        manifest.segments = kept
        ids = np.concatenate([segment_ids(self.folder / s.name) for s in kept]) if kept else np.zeros(0, dtype=np.int64)
        deleted = np.unique(np.concatenate(self.deleted)) if self.deleted else np.zeros(0, dtype=np.int64)
        deleted = deleted[np.isin(deleted, ids)].astype(np.int64)  # a segment left behind takes its deleted ids along
        np.save(self.folder / DELETED_FILE, deleted)
        manifest.deleted = len(deleted)
        manifest.chunks = len(ids) - len(deleted)
        manifest.files = sum(len(v) for v in holding.values())
        self.close()
        manifest.write(self.folder)
        return manifest

    def close(self) -> None:
        for store in self._prev_stores.values():
            store.close()
        self._prev_stores.clear()
        if self._store is not None:
            self._store.close()
            self._store = None
        self.catalog.close()
