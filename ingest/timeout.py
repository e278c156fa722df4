"""A per-file time limit for readers. SIGALRM interrupts a reader stuck in Python code (every
bundled reader is Python: pypdf, pdfplumber, BeautifulSoup, python-docx); signals reach only the main thread,
so an ingest run from another thread (the app's) goes without the limit."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ingest.extracted import ReadError


class ReadTimeout(ReadError):
    """A reader ran past the per-file limit."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise ReadTimeout(f"reading took longer than {seconds:g} s (ingest.file_timeout_s)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
