"""Keep an index in step with a folder (`rag watch`): watchdog's file events, debounced into
batches; each batch is the normal incremental ingest, whose diff carries creates, changes,
renames and deletes, run only once the changed files have stopped changing. Stopping (Ctrl+C,
SIGTERM) takes effect between batches; a batch in flight finishes (and is crash-safe anyway)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ingest.pipeline import Ingestor
from ingest.run import IngestReport
from rag.storage.snapshots import IndexBusyError

log = logging.getLogger("ingest")
READS = frozenset({"opened", "closed_no_write"})  # events that change nothing


@dataclass(frozen=True)
class WatchOptions:
    debounce_s: float = 2.0  # quiet time after the last event before a batch runs
    stable_s: float = 1.0  # a changed file must keep its size and mtime this long to be read


class Changes:
    """The paths file events touched since the last batch, and when the last event came; a
    watchdog event handler (it needs only `dispatch`)."""

    def __init__(self, ignore: Path) -> None:
        self.ignore = ignore.resolve()
        self.lock = threading.Lock()
        self.paths: set[Path] = set()
        self.last = 0.0

    def dispatch(self, event) -> None:
        if event.event_type in READS:
            return
        touched = [Path(p) for p in (event.src_path, getattr(event, "dest_path", "")) if p]
        touched = [p for p in touched if not p.resolve().is_relative_to(self.ignore)]  # the index's own writes
        if touched:
            self.put(touched)

    def put(self, paths: Iterable[Path]) -> None:
        with self.lock:
            self.paths.update(paths)
            self.last = time.monotonic()

    def take(self, debounce_s: float) -> set[Path]:
        """The paths gathered, once no event came for `debounce_s`; else nothing."""
        with self.lock:
            if not self.paths or time.monotonic() - self.last < debounce_s:
                return set()
            taken, self.paths = self.paths, set()
            return taken


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:  # deleted or renamed away: nothing to wait for
        return None
    return st.st_size, st.st_mtime_ns


def stable(paths: Iterable[Path], wait_s: float, stop: threading.Event) -> bool:
    """Whether every path kept its size and mtime for `wait_s` (a file still being written does not)."""
    before = {p: _signature(p) for p in paths}
    stop.wait(wait_s)
    return all(_signature(p) == sig for p, sig in before.items())


def watch(
    ingestor: Ingestor,
    source: Path,
    root: Path,
    stop: threading.Event,
    on_batch: Callable[[IngestReport], None],
    options: WatchOptions = WatchOptions(),
) -> None:
    """Catch up with the folder (the normal diff), then ingest each settled batch of changes
    until `stop` is set. Another writer holding the index only delays a batch."""
    from watchdog.observers import Observer

    changes = Changes(root)
    observer = Observer()
    observer.schedule(changes, str(source), recursive=True)
    observer.start()  # before the catch-up, so a change made while it runs is not missed
    try:
        on_batch(ingestor.run(source, root))
        while not stop.wait(0.2):
            paths = changes.take(options.debounce_s)
            if not paths:
                continue
            if not stable(paths, options.stable_s, stop):
                changes.put(paths)  # still being written: wait for quiet again
                continue
            try:
                on_batch(ingestor.run(source, root))
            except IndexBusyError as exc:
                log.warning("batch delayed: %s", exc, extra={"event": "busy"})
                changes.put(paths)
    finally:
        observer.stop()
        observer.join()
