"""One candidate file made ready to embed: read, hashed, checked against the index's copy,
extracted and chunked, or the reason it cannot be. The plain pipeline calls it in-process; the
Ray engine in tasks (ingest/ray_engine.py). A bad file becomes a reason, never an exception."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ingest.extracted import Limits, ReadError
from ingest.ocr import OcrOptions
from ingest.readers import read_document
from ingest.scan import SourceFile
from ingest.timeout import time_limit
from rag.config import Settings
from rag.storage.store import FileRecord, NewChunk


@dataclass(frozen=True)
class ReadOptions:
    """What bounds the reading of one file (from `[ingest]`)."""

    max_bytes: int
    max_file_mb: float
    limits: Limits
    ocr: OcrOptions
    timeout_s: float


@dataclass
class Prepared:
    """A candidate file after reading: `failed` (why), `unchanged` (same content, new stat
    data), or its text and chunks, to be embedded and stored."""

    file: SourceFile
    is_update: bool
    failed: str | None = None
    unchanged: bool = False
    sha256: str = ""
    kind: str = ""
    text: str = ""
    page_starts: list[int] = field(default_factory=list)
    chunks: list[NewChunk] = field(default_factory=list)
    ocr_pages: list[int] = field(default_factory=list)
    seconds: float = 0.0  # spent reading and chunking it


def read_options(settings: Settings) -> ReadOptions:
    i = settings.ingest
    limits = Limits(int(i.max_expanded_mb * 1024 * 1024), i.max_pdf_pages)
    return ReadOptions(int(i.max_file_mb * 1024 * 1024), i.max_file_mb, limits, OcrOptions(i.ocr, i.ocr_languages, i.ocr_page_timeout_s), i.file_timeout_s)


def read_failure(exc: Exception) -> str:
    if isinstance(exc, ReadError):
        return str(exc)
    if isinstance(exc, FileNotFoundError):
        return "vanished during the run"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError):
        return f"cannot read: {exc.strerror or exc}"
    return f"reader failed: {type(exc).__name__}: {exc}"


def prepare(
    f: SourceFile, old: FileRecord | None, options: ReadOptions, chunker: Callable[[], object], on_chunking: Callable[[list[int]], None] | None = None
) -> Prepared:
    """Read and chunk `f`; `old` is the index's record of it. `chunker()` gives the Chunker
    (loaded only when some file needs chunking); `on_chunking(ocr_pages)` reports the stage."""
    started = time.perf_counter()
    done = _read_and_chunk(f, old, options, chunker, on_chunking)
    done.seconds = time.perf_counter() - started
    return done


def _read_and_chunk(
    f: SourceFile, old: FileRecord | None, options: ReadOptions, chunker: Callable[[], object], on_chunking: Callable[[list[int]], None] | None
) -> Prepared:
    done = Prepared(f, old is not None)
    if f.size > options.max_bytes:
        done.failed = f"too large: {f.size / 2**20:.1f} MB is over the {options.max_file_mb:g} MB limit (ingest.max_file_mb)"
        return done
    try:
        data = f.path.read_bytes()
        done.sha256 = hashlib.sha256(data).hexdigest()
        if old is not None and old.sha256 == done.sha256:
            done.unchanged = True
            return done
        with time_limit(options.timeout_s):
            doc = read_document(f.path, data, options.limits, options.ocr)
        st = f.path.stat()
        if (st.st_size, st.st_mtime_ns) != (f.size, f.mtime_ns) or len(data) != f.size:
            raise ReadError("changed while it was being read; run ingest again to pick it up")
        if on_chunking is not None:
            on_chunking(doc.ocr_pages)
        done.kind, done.text, done.page_starts, done.ocr_pages = doc.kind, doc.text, doc.page_starts, list(doc.ocr_pages)
        done.chunks = chunker().chunk(doc)
    except Exception as exc:  # reported and skipped: one bad file never stops the batch
        done.failed = read_failure(exc)
    return done
