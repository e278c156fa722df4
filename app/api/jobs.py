"""Ingest jobs for the API: one writer at a time (this process's lock, and the index's own
write lock against other processes), run in a thread, progress readable while it runs."""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.pipeline import Ingestor, UsageError
from rag.config import Settings
from rag.embedding import Embedder
from rag.snapshots import IndexBusyError, WriteLock
from rag.store import IndexMismatchError


class JobConflict(RuntimeError):
    """An ingest is already running; `holder` says which."""

    def __init__(self, holder: str) -> None:
        super().__init__(f"an ingest is already running: {holder}")
        self.holder = holder


@dataclass
class Job:
    id: str
    source: str
    state: str = "running"  # running | done | failed
    files_done: int = 0
    files_total: int = 0
    chunks_embedded: int = 0
    started: float = field(default_factory=time.time)
    finished: float | None = None
    report: dict | None = None
    error: str | None = None

    def as_dict(self) -> dict:
        return dict(vars(self))


class IngestJobs:
    """Starts ingests in the background and keeps every job's state."""

    def __init__(self, settings: Settings, index_dir: Path, embedder: Embedder, on_done: Callable[[], object]) -> None:
        self.settings, self.index_dir, self.embedder, self.on_done = settings, index_dir, embedder, on_done
        self._jobs: dict[str, Job] = {}
        self._running: Job | None = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def start(self, source: Path) -> Job:
        """A new running job, or JobConflict naming the one that holds the writer's place."""
        with self._lock:
            if self._running is not None:
                raise JobConflict(f"job {self._running.id} (started {time.strftime('%H:%M:%S', time.localtime(self._running.started))})")
            try:
                with WriteLock(self.index_dir):  # another process (`rag ingest`, the app) may hold it
                    pass
            except IndexBusyError as exc:
                raise JobConflict(str(exc)) from None
            job = Job(id=f"ingest-{next(self._ids)}", source=str(source))
            self._jobs[job.id] = self._running = job
        threading.Thread(target=self._run, args=(job, source), name=job.id, daemon=True).start()
        return job

    def _run(self, job: Job, source: Path) -> None:
        def progress(done: int, total: int, chunks: int) -> None:
            job.files_done, job.files_total, job.chunks_embedded = done, total, chunks

        try:
            ingestor = Ingestor(self.settings, lambda: self.embedder, interactive=False, on_progress=progress)
            report = ingestor.run(source, self.index_dir)
            job.report, job.state = report.as_dict(), "done"
            self.on_done()
        except (UsageError, IndexBusyError, IndexMismatchError, ValueError, OSError) as exc:
            job.error, job.state = str(exc), "failed"
        except Exception as exc:  # reported on the job, never lost in a thread
            job.error, job.state = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}", "failed"
        finally:
            job.finished = time.time()
            with self._lock:
                self._running = None
