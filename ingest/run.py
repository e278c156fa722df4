"""What an ingest hands the engines that do its work elsewhere (Milvus as the store, Ray as the
workers): the run itself, as the `IngestRun` protocol the pipeline's Ingestor fulfils, and the
`IngestReport` they fill in. The engines import this, never the pipeline that imports them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks_embedded: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    read_seconds: float = 0.0  # reading, OCR and chunking, summed over files (beside the embedding when a reading process ran)
    embed_seconds: float = 0.0  # embedding, summed over batches
    snapshot: str | None = None
    files_in_index: int = 0

    def as_dict(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "chunks_embedded": self.chunks_embedded,
            "failed": [{"path": p, "reason": r} for p, r in sorted(self.failed.items())],
            "seconds": round(self.seconds, 3),
            "read_seconds": round(self.read_seconds, 3),
            "embed_seconds": round(self.embed_seconds, 3),
            "snapshot": self.snapshot,
            "files_in_index": self.files_in_index,
        }

    @property
    def exit_code(self) -> int:
        """0: every file went in; 1: some failed, the rest went in; 2: nothing could be done."""
        if not self.failed:
            return 0
        return 1 if self.files_in_index else 2


class IngestRun(Protocol):
    """The ingest in progress, as Milvus and Ray ingests use it (ingest.pipeline.Ingestor)."""

    settings: Any  # rag.config.Settings
    read_options: Any  # ingest.prepare.ReadOptions

    @property
    def loaded(self) -> bool: ...

    def embedder(self) -> Any: ...  # rag.search.embedding.Embedder

    def worker_embedding(self) -> tuple[Any, str]: ...

    def diff(self, source: Path, known: dict, report: IngestReport, board: Any) -> tuple[list, list[str]]: ...

    def ingest_files(self, candidates: list, known: dict, store: Any, report: IngestReport, board: Any) -> int: ...

    def settle(self, p: Any, store: Any, report: IngestReport, board: Any, progress: Any) -> bool: ...

    def write(self, pending: list, vectors: Any, store: Any, report: IngestReport, progress: Any, board: Any) -> None: ...


Factory = Callable[[], IngestRun]
