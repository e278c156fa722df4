"""The collection as a table: every document with its kind, size, chunk count and status (and
why a file failed), for the app's Collection page and the API's `GET /v1/documents`; and in a
few words, with example questions drawn from its own headings, for the Ask page's first screen."""

from __future__ import annotations

import re
from collections import Counter

from rag.storage.store import ChunkStore


def document_rows(store: ChunkStore) -> list[dict]:
    """One row per indexed or failed file, sorted by path."""
    failures, counts = store.failures(), store.chunks_per_file()
    rows = []
    for path, record in sorted(store.files().items()):
        status = "indexed" if path not in failures else f"kept last good version; now failing: {failures[path]}"
        rows.append({"document": path, "kind": record.kind, "KB": round(record.size / 1024, 1), "chunks": counts.get(path, 0), "status": status})
    for path, reason in sorted(failures.items()):
        if path not in counts:
            rows.append({"document": path, "kind": "", "KB": None, "chunks": 0, "status": f"failed: {reason}"})
    return rows


def collection_summary(store: ChunkStore) -> dict:
    """Files, passages and files per kind, most common kind first."""
    files = store.files()
    return {"files": len(files), "chunks": store.chunk_count(), "kinds": dict(Counter(r.kind for r in files.values()).most_common())}


EXAMPLE_HEADING_RE = re.compile(r"^[\d.\s]*([A-Za-z].{2,60})$")  # "2.2. The source XML files" -> "The source XML files"


def words_of(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def example_questions(store: ChunkStore, count: int = 4) -> list[str]:
    """Questions a reader could ask this collection, one per file while files last: about a
    section heading of at most 8 words that is not the file's title. "What does deck.pptx say
    about X?" was declined by the answerability gate (the file name's rare terms are in no
    passage); "What about X?" asks with the heading's words alone."""
    chosen: list[str] = []
    seen_files: set[str] = set()
    for path, heading in store.headings():
        match = EXAMPLE_HEADING_RE.match(" ".join(heading.split()))
        if path in seen_files or match is None or len(match.group(1).split()) > 8:
            continue
        title = match.group(1).rstrip(" .:")  # a heading that asks ("What is libffi?") is asked as it is
        if words_of(title) <= words_of(path):  # the file's own name or title
            continue
        chosen.append(title if title.endswith("?") else f"What about {title}?")  # only the heading's words: no decline for a file name's
        seen_files.add(path)
        if len(chosen) == count:
            break
    return chosen
