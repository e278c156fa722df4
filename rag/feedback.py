"""Thumbs up/down on answers, kept in SQLite beside the index (not inside a snapshot, so
re-ingesting never loses it) with the question, answer and sources, exportable as JSONL."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from rag.answering.answer import Answer

FEEDBACK_FILE = "feedback.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,          -- Unix time
    rating INTEGER NOT NULL,        -- 1 thumbs up, 0 thumbs down
    comment TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    generator TEXT NOT NULL,
    sources TEXT NOT NULL           -- JSON: [{n, path, page, start, end, sentences}]
);
"""


class FeedbackStore:
    def __init__(self, index_root: Path) -> None:
        self.path = index_root / FEEDBACK_FILE
        index_root.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, check_same_thread=False)
        self.conn.executescript(SCHEMA)

    def add(self, answer: Answer, thumbs_up: bool, comment: str = "") -> int:
        """Store one rating with what it rates; returns its id."""
        sources = [{"n": c.n, "path": c.path, "page": c.page, "start": c.start, "end": c.end, "sentences": c.sentences} for c in answer.citations]
        with self.conn:
            cur = self.conn.execute(
                "INSERT INTO feedback (created, rating, comment, question, answer, generator, sources) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (time.time(), int(thumbs_up), comment.strip(), answer.question, answer.answer, answer.generator, json.dumps(sources)),
            )
        return int(cur.lastrowid)

    def rows(self) -> Iterator[dict]:
        cur = self.conn.execute("SELECT id, created, rating, comment, question, answer, generator, sources FROM feedback ORDER BY id")
        for id_, created, rating, comment, question, answer, generator, sources in cur:
            yield {
                "id": id_,
                "created": created,
                "thumbs_up": bool(rating),
                "comment": comment,
                "question": question,
                "answer": answer,
                "generator": generator,
                "sources": json.loads(sources),
            }

    def export_jsonl(self) -> str:
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in self.rows())

    def close(self) -> None:
        self.conn.close()
