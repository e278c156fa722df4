"""`rag doctor`: check every part of an index's live snapshot and repair what can be repaired.

Each segment's SQLite store holds its chunks with their embeddings, so a damaged or missing
FAISS or BM25 file is rebuilt from it: the damaged segments are written again as one new
segment of a new snapshot (shared files are never written in place). A damaged store,
catalog or manifest cannot be rebuilt from the other parts; the newest older snapshot that is
whole becomes live instead, and the next `rag ingest` brings it up to date. Repairs hold the
write lock like an ingest."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rag.config import Settings
from rag.storage.dense import DenseIndex
from rag.storage.index import IndexCorruptError, read_manifest
from rag.storage.merge import merge_segments
from rag.storage.migrate import needs_upgrade, upgrade
from rag.storage.segments import CATALOG_FILE, DENSE_FILE, SPARSE_DIR, STORE_FILE, SegmentInfo, read_deleted
from rag.storage.snapshots import IndexNotFoundError, WriteLock, live_snapshot, published_snapshots, set_live, unpublished
from rag.storage.sparse import SparseSegment
from rag.storage.store import IndexMismatchError
from rag.storage.tuned import MODEL_DIR, tuned_folder


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


def check_sqlite(part: str, path: Path, read: Callable[[sqlite3.Connection], str]) -> Check:
    """An SQLite file that opens, passes SQLite's quick check and answers `read`."""
    if not path.is_file():
        return Check(part, False, f"{path} is missing")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                return Check(part, False, f"{path}: SQLite integrity check says {verdict!r}")
            return Check(part, True, read(conn))
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return Check(part, False, f"{path} cannot be read: {exc}")


def check_segment(snapshot: Path, info: SegmentInfo, settings: Settings) -> list[Check]:
    """A segment's store, dense and sparse index, each holding the chunks the manifest says."""
    folder = snapshot / info.name

    def count(conn: sqlite3.Connection) -> str:
        rows = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        if why := info.count_problem("store", rows):
            raise sqlite3.DatabaseError(why)
        return f"{rows} chunks"

    checks = [check_sqlite(f"{info.name} store", folder / STORE_FILE, count)]
    for part, load in (
        ("dense", lambda: DenseIndex.load(folder / DENSE_FILE, settings.dense)),
        ("sparse", lambda: SparseSegment.load(folder / SPARSE_DIR)),
    ):
        try:
            size = len(load())
            why = info.count_problem(part, size)
            checks.append(Check(f"{info.name} {part}", why is None, why or f"{size} chunks"))
        except Exception as exc:  # any unreadable file is damage to report
            checks.append(Check(f"{info.name} {part}", False, f"cannot be loaded: {type(exc).__name__}: {exc}"))
    return checks


def check_snapshot(snapshot: Path, settings: Settings) -> list[Check]:
    """Each part of one snapshot: manifest, catalog, deleted ids, and every segment's parts."""
    try:
        manifest = read_manifest(snapshot, snapshot.parent)
    except (IndexCorruptError, IndexMismatchError) as exc:
        return [Check("manifest", False, str(exc))]
    checks = [Check("manifest", True, f"{manifest.chunks} chunks in {len(manifest.segments)} segment(s)")]
    spec = manifest.spec
    if spec.tuned:  # embedded by a copy tuned on the collection: queries need it
        model = tuned_folder(snapshot.parent, spec.tuned) / MODEL_DIR
        present = (model / "modules.json").is_file()
        checks.append(Check("tuned model", present, f"{model}" + ("" if present else " is missing")))
    checks.append(check_sqlite("catalog", snapshot / CATALOG_FILE, lambda conn: f"{conn.execute('SELECT COUNT(*) FROM files').fetchone()[0]} files"))
    try:
        deleted = len(read_deleted(snapshot))
        checks.append(
            Check(
                "deleted ids",
                deleted == manifest.deleted,
                f"{deleted} chunks" + ("" if deleted == manifest.deleted else f", the manifest says {manifest.deleted}"),
            )
        )
    except (OSError, ValueError) as exc:
        checks.append(Check("deleted ids", False, f"cannot be read: {exc}"))
    for info in manifest.segments:
        checks += check_segment(snapshot, info, settings)
    return checks


def diagnose(root: Path, settings: Settings) -> Diagnosis:
    try:
        snapshot = live_snapshot(root)
    except IndexNotFoundError as exc:  # CURRENT names a folder that is not there
        return Diagnosis(None, [Check("CURRENT", False, str(exc))])
    if snapshot is None:
        return Diagnosis(None, [Check("index", False, f"no live snapshot in {root}")])
    return Diagnosis(snapshot, check_snapshot(snapshot, settings))


def repair(root: Path, settings: Settings) -> Diagnosis:
    """Diagnose, then rebuild what the store can rebuild, or go back to a whole snapshot."""
    with WriteLock(root):
        found = diagnose(root, settings)
        for leftover in unpublished(root):
            shutil.rmtree(leftover, ignore_errors=True)
            found.actions.append(f"removed {leftover.name}, left by an interrupted ingest")
        if found.snapshot is not None and needs_upgrade(found.snapshot):
            new = upgrade(root, found.snapshot, settings)
            found = Diagnosis(new, check_snapshot(new, settings), [*found.actions, f"upgraded {found.snapshot.name} to segments as {new.name} (no embedding)"])
        if found.healthy:
            return found
        if all(c.ok or c.part == "tuned model" for c in found.checks):
            found.actions.append(f"to do: the tuned embedder the vectors need is gone; `rag tune --index {root} --undo` re-embeds with the base model")
            return found
        search_files = [c for c in found.checks if c.part.startswith("seg-") and not c.part.endswith(" store")]
        if found.snapshot is not None and all(c.ok or c in search_files or c.part == "tuned model" for c in found.checks):
            damaged = sorted({c.part.split()[0] for c in search_files if not c.ok})  # written again from their stores
            new = merge_segments(root, found.snapshot, damaged, settings, reuse_sparse=False)
            found.actions.append(f"rebuilt FAISS and BM25 of {', '.join(damaged)} from their stores in {found.snapshot.name} as {new.name}")
            return found
        for older in reversed(published_snapshots(root)):
            if older != found.snapshot and all(c.ok for c in check_snapshot(older, settings)):
                set_live(older)
                found.actions.append(f"{older.name} is whole and is live again; run `rag ingest` to bring it up to date")
                return found
        found.actions.append("to do: nothing whole to go back to; run `rag ingest SOURCE --index DIR --rebuild`")
        return found
