"""Reading beside embedding: the next files are read, OCR'd and chunked in a separate process
(`ingest.read_workers`) while the ingest's own process embeds and stores, so a folder is bound by
the slower of the two instead of their sum. Results come back in the folder's order; everything
else (failures, status, the store, crash safety) stays with the pipeline in the main process.

A worker is a spawned process (never forked: the parent holds ONNX Runtime and PyTorch thread
pools) that exits on its own when the ingest that started it dies, even by SIGKILL."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path

from ingest.prepare import Prepared, ReadOptions, prepare
from ingest.scan import SourceFile
from rag.storage.store import FileRecord

log = logging.getLogger("ingest")
AHEAD = 16  # files in flight: enough to keep the worker busy across a batch, few enough to bound memory
# Small files go to the reading process together: one round trip per file cost SciFact's 5,183
# abstracts about 0.7 ms each in waiting (3.5 s of a 134 s ingest).
GROUP_FILES = 8
GROUP_BYTES = 256 * 1024
PARENT_CHECK_S = 1.0


def _start_worker(parent: int) -> None:
    """Exit this worker once the process that started it is gone (reparented). Tesseract here runs
    on one thread unless the environment says otherwise: its OpenMP threads fought the embedder
    for the two cores (24 files with 8 OCR'd pages: reading 44 s with them, 29 s without)."""
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="watch-parent").start()


@lru_cache(maxsize=4)
def chunker_for(model_folder: str, chunk_tokens: int, overlap_tokens: int):
    """One Chunker per process and model, counting word pieces with the model's own tokenizer
    (the `tokenizers` library: no PyTorch or transformers in a reading process)."""
    from ingest.chunking import Chunker
    from rag.search.tokenizer import WordPieceCounter, load_tokenizer

    return Chunker(WordPieceCounter(load_tokenizer(Path(model_folder))), chunk_tokens, overlap_tokens)


def _prepare(
    group: list[tuple[SourceFile, FileRecord | None]], options: ReadOptions, model_folder: str, chunk_tokens: int, overlap_tokens: int
) -> list[Prepared]:
    return [prepare(f, old, options, lambda: chunker_for(model_folder, chunk_tokens, overlap_tokens)) for f, old in group]


def groups(files: list[SourceFile]) -> Iterator[list[SourceFile]]:
    """`files` in order, cut into runs of at most GROUP_FILES and GROUP_BYTES (a larger file alone)."""
    group: list[SourceFile] = []
    size = 0
    for f in files:
        if group and (len(group) == GROUP_FILES or size + f.size > GROUP_BYTES):
            yield group
            group, size = [], 0
        group.append(f)
        size += f.size
    if group:
        yield group


class ReadAhead:
    """A pool of reading processes for one ingest run; use as a context manager."""

    def __init__(self, workers: int, options: ReadOptions, model_folder: str, chunk_tokens: int, overlap_tokens: int) -> None:
        self._args = (options, model_folder, chunk_tokens, overlap_tokens)
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_start_worker, initargs=(os.getpid(),))

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def prepared(
        self, files: list[SourceFile], known: dict[str, FileRecord], in_process: Callable[[SourceFile], Prepared], on_wait: Callable[[SourceFile], None]
    ) -> Iterator[Prepared]:
        """Each file prepared, in order, with up to AHEAD in flight (in `groups`); `on_wait(f)` as
        the pipeline starts waiting for `f` (the others stay queued in the status, so a long queue
        never looks stalled). Should the pool break (a reader crashed the process), the rest is
        prepared by `in_process`, as without a pool."""
        queue: deque[tuple[list[SourceFile], Future | None]] = deque()
        pending = groups(files)
        in_flight = 0
        broken = False

        def fill() -> None:
            """Hand groups to the pool until AHEAD files are in flight (or none are left)."""
            nonlocal broken, in_flight
            while in_flight < AHEAD and (group := next(pending, None)) is not None:
                future = None
                if not broken:
                    try:
                        future = self._pool.submit(_prepare, [(f, known.get(f.rel)) for f in group], *self._args)
                    except (BrokenProcessPool, RuntimeError):
                        broken = True
                queue.append((group, future))
                in_flight += len(group)

        fill()
        while queue:
            group, future = queue.popleft()
            results: list[Prepared] | None = None
            if future is not None:
                on_wait(group[0])
                try:
                    results = future.result()
                except BrokenProcessPool as exc:
                    if not broken:
                        log.warning("the reading process died (%s); reading the rest in this process", exc)
                    broken = True
            for n, f in enumerate(group):
                yield results[n] if results is not None else in_process(f)
            in_flight -= len(group)
            fill()
