"""Conversations and sticky settings per browser user, kept in SQLite beside the index (like the
feedback: outside the snapshots, so re-ingesting never loses them). A user is an opaque token the
app keeps in the page address; each turn is the whole Answer as JSON, so a reloaded conversation
shows its citations and passages as they were, and exports to Markdown with them."""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rag.answering.answer import Answer, Citation, place
from rag.search.hit import Hit

CONVERSATIONS_FILE = "conversations.sqlite"
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")
TITLE_CHARS = 80
SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    title TEXT NOT NULL,
    created REAL NOT NULL,          -- Unix time
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_by_user ON conversations (user, updated);
CREATE TABLE IF NOT EXISTS turns (
    conversation TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    answer TEXT NOT NULL,           -- JSON of rag.answering.answer.Answer
    PRIMARY KEY (conversation, position)
);
CREATE TABLE IF NOT EXISTS preferences (
    user TEXT PRIMARY KEY,
    settings TEXT NOT NULL          -- JSON: the sidebar's choices
);
"""


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    updated: float
    turns: int


def new_token() -> str:
    """A fresh user or conversation id: 16 random URL-safe characters."""
    return secrets.token_urlsafe(12)


def valid_token(value: str | None) -> bool:
    """Whether `value` can be a token (ids arrive from the page address, so anything may)."""
    return bool(value) and TOKEN_RE.fullmatch(value) is not None


def answer_from_dict(data: dict) -> Answer:
    """The inverse of Answer.as_dict."""
    citations = [Citation(**c) for c in data["citations"]]
    hits = [Hit(**h) for h in data["hits"]]
    return Answer(**{**data, "citations": citations, "hits": hits})


def title_of(question: str) -> str:
    """A conversation's default title: its first question, cut at a word near TITLE_CHARS."""
    text = " ".join(question.split())
    return text if len(text) <= TITLE_CHARS else text[:TITLE_CHARS].rsplit(" ", 1)[0] + " ..."


class ConversationStore:
    """Every method names the user, and touches only that user's rows. One connection per call:
    Streamlit serves each browser session from its own thread."""

    def __init__(self, index_root: Path) -> None:
        self.path = index_root / CONVERSATIONS_FILE
        index_root.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            with conn:
                yield conn
        finally:
            conn.close()

    def conversations(self, user: str) -> list[Conversation]:
        """The user's conversations, most recently updated first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT c.id, c.title, c.updated, COUNT(t.position) FROM conversations c LEFT JOIN turns t ON t.conversation = c.id "
                "WHERE c.user = ? GROUP BY c.id ORDER BY c.updated DESC",
                (user,),
            ).fetchall()
        return [Conversation(*row) for row in rows]

    def start(self, user: str, title: str) -> str:
        """A new, empty conversation; returns its id."""
        conversation, now = new_token(), time.time()
        with self._db() as db:
            db.execute("INSERT INTO conversations VALUES (?, ?, ?, ?, ?)", (conversation, user, title_of(title), now, now))
        return conversation

    def title(self, user: str, conversation: str) -> str | None:
        """The conversation's title, or None when the user has no such conversation."""
        with self._db() as db:
            row = db.execute("SELECT title FROM conversations WHERE id = ? AND user = ?", (conversation, user)).fetchone()
        return row[0] if row else None

    def turns(self, user: str, conversation: str) -> list[Answer]:
        """The conversation's answers in the order they were given (none for another user's)."""
        with self._db() as db:
            rows = db.execute(
                "SELECT t.answer FROM turns t JOIN conversations c ON c.id = t.conversation WHERE c.id = ? AND c.user = ? ORDER BY t.position",
                (conversation, user),
            ).fetchall()
        return [answer_from_dict(json.loads(row[0])) for row in rows]

    def add_turn(self, user: str, conversation: str, answer: Answer) -> None:
        with self._db() as db:
            if not db.execute("SELECT 1 FROM conversations WHERE id = ? AND user = ?", (conversation, user)).fetchone():
                raise KeyError(f"no conversation {conversation!r} for this user")
            position = db.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM turns WHERE conversation = ?", (conversation,)).fetchone()[0]
            db.execute("INSERT INTO turns VALUES (?, ?, ?)", (conversation, position, json.dumps(answer.as_dict(), ensure_ascii=False)))
            db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (time.time(), conversation))

    def rename(self, user: str, conversation: str, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            raise ValueError("a conversation needs a title")
        with self._db() as db:
            db.execute("UPDATE conversations SET title = ? WHERE id = ? AND user = ?", (title[:200], conversation, user))

    def delete(self, user: str, conversation: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM conversations WHERE id = ? AND user = ?", (conversation, user))

    def preferences(self, user: str) -> dict:
        with self._db() as db:
            row = db.execute("SELECT settings FROM preferences WHERE user = ?", (user,)).fetchone()
        return json.loads(row[0]) if row else {}

    def save_preferences(self, user: str, settings: dict) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO preferences VALUES (?, ?)", (user, json.dumps(settings, sort_keys=True)))


def conversation_markdown(title: str, answers: list[Answer]) -> str:
    """The conversation as Markdown: each question, its answer, and the sources it cites with the
    sentences it rests on."""
    lines = [f"# {title}", ""]
    for answer in answers:
        lines += [f"## {answer.question}", ""]
        if answer.searched:
            lines += [f"_searched as: {answer.searched}_", ""]
        lines += ["Not in your documents." if answer.abstained else answer.answer, ""]
        if answer.citations:
            lines.append("Sources:")
            for c in answer.citations:
                quoted = " ".join(f"“{s}”" for s in c.sentences)
                lines.append(f"- [{c.n}] {place(c.path, c.page, c.ocr)}" + (f": {quoted}" if quoted else ""))
            lines.append("")
    return "\n".join(lines)
