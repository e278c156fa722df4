"""What a collection's routes share: its engine (thread-safe), settings, ingest jobs, and the server's metrics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException

from app.api.metrics import Metrics
from ingest.jobs import IngestJobs
from rag.answering.engine import Engine, length_problem
from rag.config import Settings
from rag.search.retriever import Filters


@dataclass
class Service:
    settings: Settings
    index_dir: Path
    engine: Engine
    jobs: IngestJobs
    metrics: Metrics

    @classmethod
    def build(cls, settings: Settings, index_dir: Path, engine: Engine, metrics: Metrics) -> Service:
        jobs = IngestJobs(settings, index_dir, lambda: engine.embedder, on_done=engine.refresh)
        return cls(settings, index_dir, engine, jobs, metrics)

    def source_dir(self) -> Path:
        """Where uploads go and ingest reads: `api.source_dir`, else the folder the index was built from."""
        if self.settings.api.source_dir:
            return self.settings.api.source_dir
        with self.engine.held() as live:
            recorded = live.index.store.get_meta("source")
        if not recorded:
            raise HTTPException(409, "no source folder is known for this index: set api.source_dir in the settings")
        return Path(recorded)

    def check_question(self, question: str, field: tuple[str, ...] = ("body", "question")) -> None:
        """422 naming the field when the question is over `retrieval.max_question_chars`."""
        if why := length_problem(question, self.settings.retrieval.max_question_chars):
            raise HTTPException(422, [{"loc": list(field), "msg": why, "type": "string_too_long"}])


def to_filters(filters) -> Filters | None:
    return Filters(filters.path_glob, tuple(filters.kinds)) if filters else None
