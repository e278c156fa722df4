"""An ingest into the Milvus backend: the same scan, diff, reading, chunking and embedding as
into a local snapshot (ingest/pipeline.py), with the writes going to Milvus a file at a time.

There is no snapshot to switch: Milvus serves each write as it lands, so readers keep
answering during an ingest and see a changed file's new chunks once its `replace_file` ends.
A kill at any moment leaves the registry saying which files are not whole (a pending row, an
old hash, or a row for a file gone from the folder), and the next ingest redoes exactly those,
writing the same chunk ids for the same content (tests/e2e/test_milvus_ingest.py)."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ingest.run import IngestReport, IngestRun
from rag.storage.index import settings_for, spec_from_settings
from rag.storage.milvus import MilvusIndex, chunk_id, open_milvus
from rag.storage.store import ChunkRecord, FileRecord, NewChunk

if TYPE_CHECKING:
    from ingest.status import StatusBoard

log = logging.getLogger("ingest")


class MilvusSink:
    """The writes an ingest makes to a ChunkStore (add_file, touch_file), made to Milvus."""

    def __init__(self, index: MilvusIndex, known: dict[str, FileRecord]) -> None:
        self.index, self.known = index, known

    def transaction(self):
        """Milvus has no multi-row transaction: each file's writes are ordered to be repairable instead."""
        return nullcontext()

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        self.index.touch_file(replace(self.known[path], size=size, mtime_ns=mtime_ns))

    def add_file(
        self, path: str, size: int, mtime_ns: int, sha256: str, kind: str, text: str, page_starts: list[int], chunks: list[NewChunk], embeddings: np.ndarray
    ) -> None:
        """Replace one file's chunks; the file's own text is not kept (sources open from the folder)."""
        record = FileRecord(chunk_id(path, "", -1), path, size, mtime_ns, sha256, kind)
        records = [ChunkRecord(chunk_id(path, sha256, n), path, n, c.text, c.start, c.end, c.page, c.heading, c.ocr, c.context) for n, c in enumerate(chunks)]
        self.index.replace_file(record, records, embeddings)


def open_for_ingest(ingestor: IngestRun, root: Path, rebuild: bool) -> MilvusIndex:
    """The collection, created with the embedder's dimension when missing (or on `rebuild`)."""
    settings = ingestor.settings
    try:
        index = open_milvus(settings.milvus, settings.bm25, root, None)
    except FileNotFoundError:
        return open_milvus(settings.milvus, settings.bm25, root, ingestor.embedder().dim)
    if rebuild:
        index.drop()
        return open_milvus(settings.milvus, settings.bm25, root, ingestor.embedder().dim)
    return index


def ingest_into_milvus(ingestor: IngestRun, source: Path, root: Path, rebuild: bool, board: StatusBoard) -> IngestReport:
    """Bring the Milvus collection in line with `source`; the report reads as a local ingest's."""
    report = IngestReport()
    index = open_for_ingest(ingestor, root, rebuild)
    try:
        spec = index.spec
        settings = settings_for(ingestor.settings, spec)  # the BM25 terms the collection was made with
        if spec is not None:  # the embedder's dimension is checked once it loads
            spec.check_matches(spec_from_settings(settings, spec.dim), root)
        known, previous_failures = index.store.files(), index.store.failures()
        candidates, removed = ingestor.diff(source, known, report, board)
        if spec is not None and not candidates and not removed and report.failed == previous_failures:
            report.snapshot, report.files_in_index = index.version, len(known)
            return report
        index.delete_files(removed)
        report.removed = len(removed)
        ingestor.ingest_files(candidates, known, MilvusSink(index, known), report, board)
        if ingestor.loaded or spec is None:
            index.write_spec(spec_from_settings(settings, ingestor.embedder().dim, precision=ingestor.embedder().precision))
        index.set_failures(report.failed)
        index.set_meta("source", str(source.resolve()))
        index.mark_updated()
        log.info("stage: sealing the written rows", extra={"event": "stage", "stage": "publishing"})
        board.stage("publishing")
        index.flush()
        report.snapshot, report.files_in_index = index.version, len(index.store.files())
        log.info("stage: done, Milvus collection %s", index.name, extra={"event": "stage", "stage": "done"})
        return report
    finally:
        index.close()
