"""`rag doctor`: check every part of an index's live snapshot and repair what can be repaired.

The SQLite store holds every chunk with its embedding, so a damaged or missing FAISS or BM25
file (or manifest) is rebuilt from it into a new snapshot. A damaged store cannot be rebuilt
from the other parts; the newest older snapshot that is whole becomes live instead, and
the next `rag ingest` brings it up to date. Repairs hold the write lock like an ingest."""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from rag.config import Settings
from rag.dense import DenseIndex
from rag.index import DENSE_FILE, MANIFEST_FILE, SPARSE_DIR, STORE_FILE, write_search_indexes
from rag.snapshots import IndexNotFoundError, NewSnapshot, WriteLock, live_snapshot, published_snapshots, set_live, unpublished
from rag.sparse import SparseIndex
from rag.store import ChunkStore, IndexSpec
from rag.tune.active import tuned_folder
from rag.tune.train import MODEL_DIR


@dataclass
class Check:
    part: str  # store, tuned model, dense, sparse, manifest
    ok: bool
    detail: str


@dataclass
class Diagnosis:
    snapshot: Path | None
    checks: list[Check] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return self.snapshot is not None and all(c.ok for c in self.checks)


def check_store(gen: Path) -> tuple[Check, int | None, IndexSpec | None]:
    path = gen / STORE_FILE
    if not path.is_file():
        return Check("store", False, f"{path} is missing"), None, None
    try:
        store = ChunkStore(path, readonly=True)
        try:
            verdict = store.conn.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                return Check("store", False, f"{path}: SQLite integrity check says {verdict!r}"), None, None
            count, spec = store.chunk_count(), store.read_spec()
        finally:
            store.close()
    except sqlite3.DatabaseError as exc:
        return Check("store", False, f"{path} cannot be read: {exc}"), None, None
    if spec is None:
        return Check("store", False, f"{path} records no index settings"), None, None
    return Check("store", True, f"{count} chunks"), count, spec


def check_snapshot(gen: Path, settings: Settings) -> list[Check]:
    """Each part of one snapshot: readable, and holding the same number of chunks."""
    store_check, count, spec = check_store(gen)
    checks = [store_check]
    if spec is not None and spec.tuned:  # embedded by a copy tuned on the collection: queries need it
        model = tuned_folder(gen.parent, spec.tuned) / MODEL_DIR
        present = (model / "modules.json").is_file()
        checks.append(Check("tuned model", present, f"{model}" + ("" if present else " is missing")))
    try:
        manifest = json.loads((gen / MANIFEST_FILE).read_text())
        ok = count is None or manifest["chunks"] == count
        checks.append(Check("manifest", ok, f"{manifest['chunks']} chunks" + ("" if ok else f", the store holds {count}")))
    except (OSError, ValueError, KeyError) as exc:
        checks.append(Check("manifest", False, f"{gen / MANIFEST_FILE} cannot be read: {exc}"))
    for part, load in (
        ("dense", lambda: DenseIndex.load(gen / DENSE_FILE, settings.dense)),
        ("sparse", lambda: SparseIndex.load(gen / SPARSE_DIR, settings.bm25)),
    ):
        try:
            size = len(load())
            ok = count is None or size == count
            checks.append(Check(part, ok, f"{size} chunks" + ("" if ok else f", the store holds {count}")))
        except Exception as exc:  # any unreadable file is damage to report
            checks.append(Check(part, False, f"cannot be loaded: {type(exc).__name__}: {exc}"))
    return checks


def diagnose(root: Path, settings: Settings) -> Diagnosis:
    try:
        gen = live_snapshot(root)
    except IndexNotFoundError as exc:  # CURRENT names a folder that is not there
        return Diagnosis(None, [Check("CURRENT", False, str(exc))])
    if gen is None:
        return Diagnosis(None, [Check("index", False, f"no live snapshot in {root}")])
    return Diagnosis(gen, check_snapshot(gen, settings))


def rebuild_search_indexes(root: Path, live: Path, settings: Settings) -> Path:
    """A new snapshot: the live store copied, FAISS and BM25 rebuilt from its chunks."""
    with NewSnapshot(root) as new:
        source = ChunkStore(live / STORE_FILE, readonly=True)
        store = source.copy_to(new.folder / STORE_FILE)
        source.close()
        write_search_indexes(new.folder, store, settings, store.read_spec())
        store.close()
        return new.publish()


def repair(root: Path, settings: Settings) -> Diagnosis:
    """Diagnose, then rebuild what the store can rebuild, or go back to a whole snapshot."""
    with WriteLock(root):
        found = diagnose(root, settings)
        for leftover in unpublished(root):
            shutil.rmtree(leftover, ignore_errors=True)
            found.actions.append(f"removed {leftover.name}, left by an interrupted ingest")
        if found.healthy:
            return found
        if all(c.ok or c.part == "tuned model" for c in found.checks):
            found.actions.append(f"to do: the tuned embedder the vectors need is gone; `rag tune --index {root} --undo` re-embeds with the base model")
            return found
        store_ok = found.snapshot is not None and found.checks[0].part == "store" and found.checks[0].ok
        if store_ok:
            new = rebuild_search_indexes(root, found.snapshot, settings)
            found.actions.append(f"rebuilt FAISS, BM25 and the manifest from the store of {found.snapshot.name} as {new.name}")
            return found
        for older in reversed(published_snapshots(root)):
            if older != found.snapshot and all(c.ok for c in check_snapshot(older, settings)):
                set_live(older)
                found.actions.append(f"{older.name} is whole and is live again; run `rag ingest` to bring it up to date")
                return found
        found.actions.append("to do: nothing whole to go back to; run `rag ingest SOURCE --index DIR --rebuild`")
        return found
