"""The chunk store: files, chunks, their spans and embeddings in SQLite (transactions, no
half-writes), plus the index spec that says what the index was built with."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

SCHEMA_VERSION = 3  # 2: chunks.ocr and chunks.context; 3: segments (rag/storage/segments.py)
SQL_BATCH = 10_000  # below SQLite's limit on bound parameters per statement

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,          -- relative to the source folder, '/'-separated
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    kind TEXT NOT NULL,                 -- ingest.readers.KINDS: pdf, docx, pptx, xlsx, csv, html, markdown, text, image
    text TEXT NOT NULL,                 -- the extracted text that chunk spans point into
    page_starts TEXT NOT NULL           -- JSON list: character offset where each page starts
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    text TEXT NOT NULL,
    start INTEGER NOT NULL,             -- character span in files.text
    "end" INTEGER NOT NULL,
    page INTEGER,                       -- 1-based: the PDF page, slide, sheet or image frame
    heading TEXT,
    ocr INTEGER NOT NULL DEFAULT 0,     -- 1: the text came from OCR
    context TEXT,                       -- indexed with the text, not part of its span: a table's header row
    embedding BLOB NOT NULL             -- float32, `dim` values
);
CREATE INDEX IF NOT EXISTS chunks_file ON chunks(file_id);
CREATE TABLE IF NOT EXISTS failures (path TEXT PRIMARY KEY, reason TEXT NOT NULL);
"""


class IndexMismatchError(RuntimeError):
    """The index on disk was built with other settings than the ones in use."""


@dataclass(frozen=True)
class IndexSpec:
    """What an index was built with; any difference makes its vectors or tokens meaningless."""

    schema_version: int
    embedding_model: str
    dim: int
    chunk_tokens: int
    overlap_tokens: int
    bm25: str  # JSON of the BM25 settings
    tuned: str = ""  # digest of the weights of the embedder tuned on this collection (`rag tune`); "" for the model as published
    precision: str = "fp32"  # of the weights that embedded its chunks; recorded, not checked: int8 and fp32 vectors agree (cosine >= 0.98)

    def differences(self, other: IndexSpec) -> list[str]:
        """What makes the index unreadable with `other`: queries at either precision search either index."""
        return [
            f"{f.name}: index has {getattr(self, f.name)!r}, settings say {getattr(other, f.name)!r}"
            for f in fields(self)
            if f.name != "precision" and getattr(self, f.name) != getattr(other, f.name)
        ]

    def check_matches(self, wanted: IndexSpec, where: Path) -> None:
        diffs = self.differences(wanted)
        if diffs:
            raise IndexMismatchError(
                f"index {where} was built with other settings ({'; '.join(diffs)}); re-ingest with --rebuild to build it with the current ones"
            )


@dataclass(frozen=True)
class FileRecord:
    id: int
    path: str
    size: int
    mtime_ns: int
    sha256: str
    kind: str


@dataclass(frozen=True)
class ChunkRecord:
    id: int
    path: str
    ord: int
    text: str
    start: int
    end: int
    page: int | None
    heading: str | None
    ocr: bool
    context: str | None


@dataclass(frozen=True)
class NewChunk:
    """A chunk ready to be stored: its text, span, page, heading and embedding."""

    text: str
    start: int
    end: int
    page: int | None
    heading: str | None
    ocr: bool = False  # its text came from OCR
    context: str | None = None  # searched with the text but not part of it: the header row of a table cut into pieces

    @property
    def indexed_text(self) -> str:
        """What is embedded and indexed for BM25: the context, then the text."""
        return f"{self.context}\n{self.text}" if self.context else self.text


def copy_database(conn: sqlite3.Connection, target: Path) -> None:
    """A consistent copy of an open SQLite database at `target` (SQLite's online backup)."""
    dest = sqlite3.connect(target)
    with dest:
        conn.backup(dest)
    dest.close()


class SnapshotRecords:
    """The `meta` (spec, source) and `failures` tables a snapshot keeps: in its catalog
    (rag/storage/catalog.py), or in its store before segments (rag/storage/migrate.py reads those)."""

    conn: sqlite3.Connection

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def read_spec(self) -> IndexSpec | None:
        spec = self.get_meta("spec")
        return IndexSpec(**json.loads(spec)) if spec else None

    def write_spec(self, spec: IndexSpec) -> None:
        self.set_meta("spec", json.dumps(asdict(spec)))

    def set_failures(self, failures: dict[str, str]) -> None:
        self.conn.execute("DELETE FROM failures")
        self.conn.executemany("INSERT INTO failures VALUES (?, ?)", sorted(failures.items()))

    def failures(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT path, reason FROM failures").fetchall())


class ChunkStore(SnapshotRecords):
    """One snapshot's SQLite database. Writers group changes in `with store.conn:` (one transaction)."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = path
        if readonly:
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        else:
            self.conn = sqlite3.connect(path, check_same_thread=False)
            self.conn.executescript(SCHEMA)
        self.conn.execute("PRAGMA foreign_keys = ON")

    def close(self) -> None:
        self.conn.close()

    def start_ids(self, file_id: int, chunk_id: int) -> None:
        """Number this empty store's files and chunks from these ids on (ids are unique across segments)."""
        with self.conn:
            self.conn.execute("DELETE FROM sqlite_sequence WHERE name IN ('files', 'chunks')")
            self.conn.executemany("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", [("files", file_id - 1), ("chunks", chunk_id - 1)])

    def next_ids(self) -> tuple[int, int]:
        """(next file id, next chunk id) this store would give."""
        seq = dict(self.conn.execute("SELECT name, seq FROM sqlite_sequence"))
        return seq.get("files", 0) + 1, seq.get("chunks", 0) + 1

    def transaction(self):
        """One SQLite transaction: `with store.transaction(): ...` commits all or nothing."""
        return self.conn

    def copy_to(self, target: Path) -> ChunkStore:
        """A consistent copy of this database at `target`, opened for writing."""
        copy_database(self.conn, target)
        return ChunkStore(target)

    # --- files ----------------------------------------------------------------------------
    def files(self) -> dict[str, FileRecord]:
        rows = self.conn.execute("SELECT id, path, size, mtime_ns, sha256, kind FROM files")
        return {r[1]: FileRecord(*r) for r in rows}

    def file_text(self, path: str) -> tuple[str, list[int]]:
        row = self.conn.execute("SELECT text, page_starts FROM files WHERE path = ?", (path,)).fetchone()
        if row is None:
            raise KeyError(path)
        return row[0], json.loads(row[1])

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        """Record new stat data for a file whose content hash did not change."""
        self.conn.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime_ns, path))

    def delete_file(self, path: str) -> None:
        self.conn.execute("DELETE FROM files WHERE path = ?", (path,))

    def add_file(
        self,
        path: str,
        size: int,
        mtime_ns: int,
        sha256: str,
        kind: str,
        text: str,
        page_starts: list[int],
        chunks: list[NewChunk],
        embeddings: np.ndarray,
    ) -> int:
        """Insert (or replace) one file with all its chunks and their embeddings; returns its id."""
        if len(chunks) != len(embeddings):
            raise ValueError(f"{path}: {len(chunks)} chunks but {len(embeddings)} embeddings")
        self.delete_file(path)
        cur = self.conn.execute(
            "INSERT INTO files (path, size, mtime_ns, sha256, kind, text, page_starts) VALUES (?,?,?,?,?,?,?)",
            (path, size, mtime_ns, sha256, kind, text, json.dumps(page_starts)),
        )
        file_id = cur.lastrowid
        self.conn.executemany(
            'INSERT INTO chunks (file_id, ord, text, start, "end", page, heading, ocr, context, embedding) VALUES (?,?,?,?,?,?,?,?,?,?)',
            [
                (file_id, i, c.text, c.start, c.end, c.page, c.heading, int(c.ocr), c.context, np.asarray(v, dtype=np.float32).tobytes())
                for i, (c, v) in enumerate(zip(chunks, embeddings))
            ],
        )
        return file_id

    # --- chunks ---------------------------------------------------------------------------
    def chunk_count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    def headings(self) -> list[tuple[str, str]]:
        """(path, heading) for each distinct heading, in file order and then document order."""
        rows = self.conn.execute(
            "SELECT f.path, c.heading FROM chunks c JOIN files f ON f.id = c.file_id WHERE c.heading IS NOT NULL "
            "GROUP BY f.path, c.heading ORDER BY f.path, MIN(c.ord)"
        )
        return [(r[0], r[1]) for r in rows]

    def chunks_per_file(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT f.path, COUNT(c.id) FROM files f LEFT JOIN chunks c ON c.file_id = f.id GROUP BY f.id")
        return dict(rows.fetchall())

    def iter_chunk_texts(self) -> Iterator[tuple[int, str]]:
        """(chunk id, indexed text: context and text) in id order: the order sparse and dense indexes are built in."""
        yield from self.conn.execute("SELECT id, COALESCE(context || char(10), '') || text FROM chunks ORDER BY id")

    def passages(self) -> Iterator[tuple[int, str, str | None, str, int]]:
        """(chunk id, file path, heading, text, order in its file) for every chunk, in id order."""
        yield from self.conn.execute("SELECT c.id, f.path, c.heading, c.text, c.ord FROM chunks c JOIN files f ON f.id = c.file_id ORDER BY c.id")

    def embeddings(self, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids int64, vectors float32 (n, dim)) in id order."""
        rows = self.conn.execute("SELECT id, embedding FROM chunks ORDER BY id").fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
        return ids, vectors

    def embedding_blocks(self, dim: int, rows: int = 100_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) of at most `rows` chunks at a time, in id order: a segment's FAISS build
        reads 10M vectors without holding them all."""
        cursor = self.conn.execute("SELECT id, embedding FROM chunks ORDER BY id")
        while batch := cursor.fetchmany(rows):
            ids = np.fromiter((r[0] for r in batch), dtype=np.int64, count=len(batch))
            yield ids, np.frombuffer(b"".join(r[1] for r in batch), dtype=np.float32).reshape(len(batch), dim)

    def set_embeddings(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Replace the embeddings of these chunks (a re-embedding with another model)."""
        self.conn.executemany(
            "UPDATE chunks SET embedding = ? WHERE id = ?", [(np.asarray(v, dtype=np.float32).tobytes(), int(i)) for i, v in zip(ids, vectors)]
        )

    def chunk_ids_of(self, paths: list[str]) -> np.ndarray:
        """The ids of every chunk of these files."""
        rows: list[tuple[int]] = []
        for at in range(0, len(paths), SQL_BATCH):
            batch = paths[at : at + SQL_BATCH]
            rows += self.conn.execute(
                f"SELECT c.id FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.path IN ({','.join('?' * len(batch))})",
                batch,
            ).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def chunk_ids_in(self, ids: np.ndarray) -> np.ndarray:
        """Which of these chunk ids this store holds."""
        held = np.fromiter((r[0] for r in self.conn.execute("SELECT id FROM chunks")), dtype=np.int64)
        return ids[np.isin(ids, held)]

    def chunks(self, ids: list[int]) -> dict[int, ChunkRecord]:
        """The chunks with these ids, with their file path."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(
            f'SELECT c.id, f.path, c.ord, c.text, c.start, c."end", c.page, c.heading, c.ocr, c.context FROM chunks c JOIN files f ON f.id = c.file_id WHERE c.id IN ({marks})',
            [int(i) for i in ids],
        )
        return {r[0]: ChunkRecord(*r[:-2], bool(r[-2]), r[-1]) for r in rows}
