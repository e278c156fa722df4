"""Progress over files: a tqdm bar on a terminal, plain log lines (at most one per 10 s) when not,
and an optional callback for other front ends (the UI's progress bar)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

from tqdm import tqdm


class Progress:
    """`area` names the log the plain lines go to ("ingest", "tune", "train-reader", "eval"), so
    a training run's steps are not logged as an ingest's."""

    def __init__(
        self, total: int, unit: str = "file", interactive: bool | None = None, on_update: Callable[[int, int, int], None] | None = None, area: str = "ingest"
    ) -> None:
        self.total, self.unit, self.done, self.chunks = total, unit, 0, 0
        self.log = logging.getLogger(area)
        self.on_update = on_update
        interactive = sys.stderr.isatty() if interactive is None else interactive
        self._bar = tqdm(total=total, unit=unit, dynamic_ncols=True) if interactive else None
        self._last_log = time.monotonic()

    def advance(self, files: int = 0, chunks: int = 0) -> None:
        self.done += files
        self.chunks += chunks
        if self.on_update is not None:
            self.on_update(self.done, self.total, self.chunks)
        if self._bar is not None:
            self._bar.update(files)
            self._bar.set_postfix(chunks=self.chunks, refresh=False)
        elif time.monotonic() - self._last_log >= 10 or (files and self.done == self.total):
            self._last_log = time.monotonic()
            embedded = f", {self.chunks} chunks embedded" if self.unit == "file" else ""
            self.log.info("progress: %d/%d %ss%s", self.done, self.total, self.unit, embedded)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
