"""Merging segments, by policy, into a new snapshot. Tiered as in Lucene's log merge: when an
index holds more than `max_segments` segments, the `merge_factor` smallest become one, so a
small update never rewrites the large segments and each chunk is rewritten about
log(N)/log(merge_factor) times over an index's life; a segment whose share of deleted chunks
passes `merge_deleted_share` is rewritten without them. A merge publishes like an ingest (write,
fsync, rename, swap CURRENT) under the same write lock: readers keep the snapshot they hold."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from rag.config import IngestSettings, Settings
from rag.storage.index import settings_for
from rag.storage.segment_writer import SnapshotWriter, segment_ids
from rag.storage.segments import Manifest, read_deleted
from rag.storage.snapshots import NewSnapshot

log = logging.getLogger(__name__)


def deleted_per_segment(live: Path, manifest: Manifest) -> dict[str, int]:
    deleted = read_deleted(live)
    return {s.name: int(np.isin(segment_ids(live / s.name), deleted).sum()) if len(deleted) else 0 for s in manifest.segments}


def plan_merge(manifest: Manifest, deleted: dict[str, int], settings: IngestSettings) -> list[str]:
    """The segments to merge now, oldest first; empty when the policy asks for nothing."""
    live = {s.name: s.chunks - deleted.get(s.name, 0) for s in manifest.segments}
    chosen = {s.name for s in manifest.segments if s.chunks and deleted.get(s.name, 0) / s.chunks > settings.merge_deleted_share}
    left = len(manifest.segments) - len(chosen) + (1 if chosen else 0)
    if left > settings.max_segments:
        smallest = sorted((s.name for s in manifest.segments if s.name not in chosen), key=lambda name: (live[name], name))
        chosen.update(smallest[: settings.merge_factor - (1 if chosen else 0)])
    return [s.name for s in manifest.segments if s.name in chosen]


def merge_segments(root: Path, live: Path, names: list[str], settings: Settings, reuse_sparse: bool = True) -> Path:
    """Publish a snapshot of `live` whose segments `names` are one new segment (the caller holds
    the write lock); returns the snapshot."""
    manifest = Manifest.read(live)
    settings = settings_for(settings, manifest.spec)  # BM25 terms made again (the doctor) are made as the index's were
    with NewSnapshot(root) as new:
        writer = SnapshotWriter(new.folder, live)
        try:
            writer.merge_in(names, reuse_sparse)
            log.info("merging: %d segments' live files copied into %s", len(names), writer.name, extra={"event": "merge_copied", "segment": writer.name})
            writer.finish(settings, manifest.spec)
        finally:
            writer.close()
        return new.publish()


def due_merge(live: Path, settings: Settings) -> list[str]:
    """The segments of snapshot `live` the policy would merge now."""
    manifest = Manifest.read(live)
    return plan_merge(manifest, deleted_per_segment(live, manifest), settings.ingest)
