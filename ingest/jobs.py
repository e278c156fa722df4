"""Ingest jobs for a server (the API, the app): one writer at a time (this process's lock, and the
index's own write lock against other processes), run in a thread, progress readable while it runs.

An upload or a delete while an ingest runs (here or in another process) is not left behind: it
queues one re-sync, which starts when the writer's place is free and picks up every file saved
meanwhile (those files are listed as queued until then)."""

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
from rag.search.embedding import Embedder
from rag.storage.snapshots import IndexBusyError, WriteLock
from rag.storage.store import IndexMismatchError

LOCK_POLL_S = 0.5  # how often a job queued behind another process's ingest looks at the lock


class JobConflict(RuntimeError):
    """An ingest is already running; `holder` says which."""

    def __init__(self, holder: str) -> None:
        super().__init__(f"an ingest is already running: {holder}")
        self.holder = holder


@dataclass
class Job:
    id: str
    source: str
    state: str = "running"  # queued | running | done | failed
    waiting: list[str] = field(default_factory=list)  # uploads this job will index (queued jobs)
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

    def __init__(self, settings: Settings, index_dir: Path, load_embedder: Callable[[], Embedder], on_done: Callable[[], object]) -> None:
        self.settings, self.index_dir, self.load_embedder, self.on_done = settings, index_dir, load_embedder, on_done
        self._jobs: dict[str, Job] = {}
        self._running: Job | None = None
        self._queued: Job | None = None  # one re-sync waiting for the writer's place
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def queued(self) -> Job | None:
        return self._queued

    def start(self, source: Path, queue: bool = False, files: list[str] | None = None) -> Job:
        """A new running job; while the writer's place is taken, JobConflict naming the holder, or
        with `queue` the one queued re-sync (made now, or joined) that will index `files` too."""
        with self._lock:
            holder = self._holder()
            if holder is None:
                job = Job(id=f"ingest-{next(self._ids)}", source=str(source), waiting=list(files or []))
                self._jobs[job.id] = job
                self._launch(job)
                return job
            if not queue:
                raise JobConflict(holder)
            if self._queued is None:
                self._queued = Job(id=f"ingest-{next(self._ids)}", source=str(source), state="queued")
                self._jobs[self._queued.id] = self._queued
                if self._running is None:  # another process holds the lock: wait for it here
                    threading.Thread(target=self._wait_for_lock, name=f"{self._queued.id}-waits", daemon=True).start()
            self._queued.waiting += [f for f in files or [] if f not in self._queued.waiting]
            return self._queued

    def _holder(self) -> str | None:
        """Who holds the writer's place (a job here, another process), or None. Under the lock."""
        if self._running is not None:
            return f"job {self._running.id} (started {time.strftime('%H:%M:%S', time.localtime(self._running.started))})"
        try:
            with WriteLock(self.index_dir):  # another process (`rag ingest`, the app) may hold it
                return None
        except IndexBusyError as exc:
            return str(exc)

    def _launch(self, job: Job) -> None:
        """Run `job` now in its thread. Under the lock."""
        job.state, job.started = "running", time.time()
        self._running = job
        threading.Thread(target=self._run, args=(job, Path(job.source)), name=job.id, daemon=True).start()

    def _next(self) -> None:
        """Start the queued job when the writer's place is free. Under the lock."""
        if self._queued is not None and self._holder() is None:
            job, self._queued = self._queued, None
            self._launch(job)

    def _wait_for_lock(self) -> None:
        """For a job queued behind another process's ingest: start it once that one ends."""
        while True:
            time.sleep(LOCK_POLL_S)
            with self._lock:
                if self._queued is None or self._running is not None:
                    return  # started, or it will be when the running job ends
                self._next()
                if self._queued is None:
                    return

    def _run(self, job: Job, source: Path) -> None:
        def progress(done: int, total: int, chunks: int) -> None:
            job.files_done, job.files_total, job.chunks_embedded = done, total, chunks

        try:
            ingestor = Ingestor(self.settings, self.load_embedder, interactive=False, on_progress=progress)
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
                if self._queued is not None:
                    self._next()
                    if self._queued is not None:  # another process took the lock meanwhile
                        threading.Thread(target=self._wait_for_lock, name=f"{self._queued.id}-waits", daemon=True).start()
