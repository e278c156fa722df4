"""A snapshot's catalog (SQLite): which segment holds the live version of each file, the files
that failed, and the snapshot's settings. It is the one small, per-snapshot part of an index
(a row per file, no text), so a publish copies it whole while segments are shared."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from rag.storage.store import FileRecord, SnapshotRecords, copy_database

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,              -- relative to the source folder, '/'-separated
    segment TEXT NOT NULL,              -- the segment folder holding this version's text and chunks
    file_id INTEGER NOT NULL UNIQUE,    -- its id in that segment's store (unique across segments)
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    kind TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS files_segment ON files(segment);
CREATE TABLE IF NOT EXISTS failures (path TEXT PRIMARY KEY, reason TEXT NOT NULL);
"""


class Catalog(SnapshotRecords):
    """Open one snapshot's catalog; writers group changes in `with catalog.conn:`."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = path
        if readonly:
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            self.conn.execute("SELECT COUNT(*) FROM files")  # a damaged or foreign file fails here, on open
        else:
            self.conn = sqlite3.connect(path, check_same_thread=False)
            self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def copy_to(self, target: Path) -> Catalog:
        """A consistent copy at `target`, opened for writing."""
        copy_database(self.conn, target)
        return Catalog(target)

    def files(self) -> dict[str, FileRecord]:
        rows = self.conn.execute("SELECT file_id, path, size, mtime_ns, sha256, kind FROM files")
        return {r[1]: FileRecord(*r) for r in rows}

    def locate(self, path: str) -> tuple[str, int] | None:
        """(segment, file id) of the live version of `path`, or None."""
        row = self.conn.execute("SELECT segment, file_id FROM files WHERE path = ?", (path,)).fetchone()
        return (row[0], row[1]) if row else None

    def live_file_ids(self) -> dict[str, set[int]]:
        """Segment -> ids of the files live in it."""
        found: dict[str, set[int]] = {}
        for segment, file_id in self.conn.execute("SELECT segment, file_id FROM files"):
            found.setdefault(segment, set()).add(file_id)
        return found

    def put_file(self, record: FileRecord, segment: str) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO files (path, segment, file_id, size, mtime_ns, sha256, kind) VALUES (?,?,?,?,?,?,?)",
            (record.path, segment, record.id, record.size, record.mtime_ns, record.sha256, record.kind),
        )

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        self.conn.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime_ns, path))

    def delete_file(self, path: str) -> None:
        self.conn.execute("DELETE FROM files WHERE path = ?", (path,))

    def move_segments(self, sources: list[str], target: str) -> None:
        """Files of the `sources` segments now live in `target` (a merge kept their ids)."""
        self.conn.executemany("UPDATE files SET segment = ? WHERE segment = ?", [(target, s) for s in sources])
