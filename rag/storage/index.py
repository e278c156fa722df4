"""A whole index snapshot: the chunk store, the dense and the sparse index over the same chunk
ids, and the manifest that ties them. Opening checks that all three agree with each other and
with the settings in use."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rag.config import BM25Settings, Settings
from rag.storage.dense import DenseIndex, SegmentedDense
from rag.storage.segments import DENSE_FILE, MANIFEST_FILE, SPARSE_DIR, Manifest, SegmentedStore
from rag.storage.snapshots import live_snapshot, require_live_snapshot
from rag.storage.sparse import SparseIndex, SparseSegment
from rag.storage.store import SCHEMA_VERSION, IndexMismatchError, IndexSpec

DOCTOR = "`rag doctor --index {root}` repairs it"


class IndexCorruptError(RuntimeError):
    """The files of a snapshot disagree with each other or cannot be read."""


class Index(Protocol):
    """What a backend offers the retriever, the engine and the apps: the local snapshot
    (HybridIndex: SQLite + FAISS + bm25s) or a Milvus collection (rag.storage.milvus.MilvusIndex).
    `dense.search(vector, n, allowed)` and `sparse.search(query, n, allowed)` return candidates
    over one set of chunk ids; `sparse` also gives term statistics (tokenizer, idf, term_share,
    len); `store` the chunk and file records. Writes are the ingest's (ingest/pipeline.py)."""

    dense: Any
    sparse: Any
    store: Any

    @property
    def root(self) -> Path: ...

    @property
    def version(self) -> str: ...

    @property
    def updated(self) -> float: ...

    def is_live(self) -> bool: ...

    def close(self) -> None: ...


def spec_from_settings(settings: Settings, dim: int, tuned: str = "", precision: str | None = None) -> IndexSpec:
    """What an index built now with `settings` records; `tuned` is the digest of the tuned
    embedder's weights when one embeds it (rag/storage/tuned.py), `precision` that of the weights
    that embed it (default: the settings')."""
    return IndexSpec(
        schema_version=SCHEMA_VERSION,
        embedding_model=settings.embedding.model,
        dim=dim,
        chunk_tokens=settings.chunking.chunk_tokens,
        overlap_tokens=settings.chunking.overlap_tokens,
        bm25=json.dumps(settings.bm25.model_dump(exclude={"whole_numbers"} if not settings.bm25.whole_numbers else None), sort_keys=True),
        tuned=tuned,
        precision=precision or settings.embedding.precision,
    )


def bm25_for(bm25: BM25Settings, spec: IndexSpec | None) -> BM25Settings:
    """The BM25 settings an index is read and extended with: `bm25`, except that an index that
    records no `whole_numbers` (written before it existed, or with it off) goes on making its terms
    without them (`--rebuild` makes it anew), so it is neither refused nor searched with terms it
    never made."""
    if spec is None or not bm25.whole_numbers or "whole_numbers" in json.loads(spec.bm25):
        return bm25
    return bm25.model_copy(update={"whole_numbers": False})


def settings_for(settings: Settings, spec: IndexSpec | None) -> Settings:
    """`settings` with the BM25 settings of `bm25_for`."""
    bm25 = bm25_for(settings.bm25, spec)
    return settings if bm25 is settings.bm25 else settings.model_copy(update={"bm25": bm25})


def read_manifest(snapshot: Path, root: Path) -> Manifest:
    """The manifest of `snapshot`, checked to be one this program reads."""
    try:
        version = json.loads((snapshot / MANIFEST_FILE).read_text())["spec"]["schema_version"]
        if version == 2:
            raise IndexMismatchError(
                f"index {root} was written before segments (schema 2); `rag ingest` or `rag doctor --index {root}` upgrades it without embedding again"
            )
        if version != SCHEMA_VERSION:
            raise IndexMismatchError(f"index {root} has schema version {version}, this program reads {SCHEMA_VERSION}; re-ingest with --rebuild")
        return Manifest.read(snapshot)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"{snapshot / MANIFEST_FILE} cannot be read: {exc}; {DOCTOR.format(root=root)}") from None


SegmentKey = tuple[str, int, int, int, int]
Loaded = dict[SegmentKey, tuple[DenseIndex, SparseSegment]]


def segment_key(folder: Path) -> SegmentKey:
    """A segment's name and its dense file's device, inode, size and mtime: the next snapshot's
    hard link to the same segment has the same key, a rebuilt or copied one another."""
    st = (folder / DENSE_FILE).stat()
    return (folder.name, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass
class HybridIndex:
    """The live snapshot of an index folder, loaded for reading."""

    snapshot: Path
    spec: IndexSpec
    store: SegmentedStore
    dense: SegmentedDense
    sparse: SparseIndex
    loaded: Loaded = field(default_factory=dict)  # each segment's search structures, by segment_key

    @classmethod
    def open(cls, root: Path, settings: Settings, dim: int | None = None, tuned: str | None = None, reuse: HybridIndex | None = None) -> HybridIndex:
        """Load the live snapshot. `dim` and `tuned` (the querying embedder's dimension and tuned
        weights' digest), when known, are checked along with the settings. Segments that `reuse`
        (the snapshot before, opened with the same settings) holds are taken from it, not read
        again: a publish beside a 10M-chunk segment loads only the new one, and memory holds one
        copy of what both snapshots share."""
        snapshot = require_live_snapshot(root)
        manifest = read_manifest(snapshot, root)
        spec = manifest.spec
        settings = settings_for(settings, spec)
        spec.check_matches(spec_from_settings(settings, dim if dim is not None else spec.dim, spec.tuned if tuned is None else tuned), root)
        held = reuse.loaded if reuse is not None else {}
        try:
            store = SegmentedStore(snapshot, manifest)
            loaded: Loaded = {}
            for s in manifest.segments:
                key = segment_key(snapshot / s.name)
                loaded[key] = held.get(key) or (
                    DenseIndex.load(snapshot / s.name / DENSE_FILE, settings.dense),
                    SparseSegment.load(snapshot / s.name / SPARSE_DIR),
                )
            dense, sparse = [d for d, _ in loaded.values()], [b for _, b in loaded.values()]
            rows = [(s, store.stores[s.name].chunk_count(), len(d), len(b)) for s, d, b in zip(manifest.segments, dense, sparse)]
        except Exception as exc:  # any unreadable part means the snapshot is damaged
            raise IndexCorruptError(f"snapshot {snapshot} cannot be loaded: {exc}; {DOCTOR.format(root=root)}") from exc
        problems = [
            f"{info.name} {part}: {why}"
            for info, *counted in rows
            for part, size in zip(("store", "dense", "sparse"), counted, strict=True)
            if (why := info.count_problem(part, size))
        ]
        if problems:
            raise IndexCorruptError(f"snapshot {snapshot}: {'; '.join(problems)}; {DOCTOR.format(root=root)}")
        dense, sparse = SegmentedDense(dense, store.deleted), SparseIndex(sparse, settings.bm25, store.deleted)
        counts = {"manifest": manifest.chunks, "store": store.chunk_count(), "dense": len(dense), "sparse": len(sparse)}
        if len(set(counts.values())) != 1:
            raise IndexCorruptError(f"snapshot {snapshot} parts disagree on the chunk count: {counts}; {DOCTOR.format(root=root)}")
        return cls(snapshot, spec, store, dense, sparse, loaded)

    @property
    def root(self) -> Path:
        """The index folder (snapshots, status board, write lock, conversations)."""
        return self.snapshot.parent

    @property
    def version(self) -> str:
        """What answers name as the index they were found in: the snapshot."""
        return self.snapshot.name

    @property
    def updated(self) -> float:
        """When this snapshot was published (seconds since the epoch)."""
        return self.snapshot.stat().st_mtime

    def is_live(self) -> bool:
        """Whether no newer snapshot went live (an ingest publishes one beside it); with none
        live at all (CURRENT lost), this one keeps serving."""
        live = live_snapshot(self.root)
        return live is None or live == self.snapshot

    def close(self) -> None:
        self.store.close()
