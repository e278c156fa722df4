"""The one place that decides the backend (`index.backend`): the local snapshots of segments
(rag/storage/index.py) or a Milvus collection (rag/storage/milvus/); both offer the same reads.
pymilvus loads only when the settings ask for Milvus."""

from __future__ import annotations

from pathlib import Path

from rag.config import Settings
from rag.storage.index import HybridIndex, Index
from rag.storage.snapshots import IndexNotFoundError, live_snapshot
from rag.storage.store import IndexMismatchError


def live_version(root: Path, settings: Settings) -> str | None:
    """What answers would name as the index (its live snapshot, or `milvus:COLLECTION`), or None
    while there is no index yet."""
    if settings.backend == "milvus":
        from rag.storage.milvus import milvus_version

        return milvus_version(root, settings)
    try:
        live = live_snapshot(root)
    except IndexNotFoundError:
        return None
    return live.name if live else None


def open_index(root: Path, settings: Settings, dim: int | None = None, tuned: str | None = None) -> Index:
    """The index `settings.backend` names, opened for reading: the live local snapshot
    (HybridIndex) or the Milvus collection (rag.storage.milvus.MilvusIndex); both offer the same reads."""
    if settings.backend == "milvus":
        from rag.storage.milvus import open_for_reading  # pymilvus loads only for this backend

        if tuned:
            raise IndexMismatchError("a tuned embedder (`rag tune`) is for the local backend; the Milvus backend embeds with the model as shipped")
        return open_for_reading(root, settings, dim)
    return HybridIndex.open(root, settings, dim, tuned)
