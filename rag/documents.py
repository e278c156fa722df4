"""The collection as a table: every document with its kind, size, chunk count and status (and
why a file failed), for the app's Collection page and the API's `GET /v1/documents`."""

from __future__ import annotations

from rag.store import ChunkStore


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
