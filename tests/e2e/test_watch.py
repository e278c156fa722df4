"""The real `rag watch` on a real folder: it catches up on start, then follows a create, a
change, a rename, a delete and a file written slowly in pieces (read once, whole, never half-way),
and SIGTERM stops it cleanly."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rag.storage.segments import open_store
from rag.storage.snapshots import live_snapshot

pytestmark = pytest.mark.slow


def indexed(index: Path) -> dict[str, str]:
    """The live snapshot's files and their text."""
    store = open_store(live_snapshot(index))
    try:
        return {path: store.file_text(path)[0] for path in store.files()}
    finally:
        store.close()


class Watcher:
    """`rag watch --json` in a subprocess, its batches read line by line."""

    def __init__(self, docs: Path, index: Path) -> None:
        env = {**os.environ, "RAG_INGEST__WATCH_DEBOUNCE_S": "1.5", "RAG_INGEST__WATCH_STABLE_S": "1.0"}
        command = [sys.executable, "-m", "app.cli", "watch", str(docs), "--index", str(index), "--json"]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.batches: queue.Queue[dict] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.batches.put(json.loads(line))

    def next(self, timeout: float = 180) -> dict:
        try:
            return self.batches.get(timeout=timeout)
        except queue.Empty:
            self.proc.kill()
            raise AssertionError(f"no batch in {timeout} s; stderr: {self.proc.stderr.read()[-2000:]}") from None


def test_watch_follows_the_folder_and_stops_cleanly(tmp_path: Path):
    docs, index = tmp_path / "docs", tmp_path / "idx"
    docs.mkdir()
    (docs / "a.md").write_text("The keeper lit the lamp at dusk.\n", encoding="utf-8")
    watcher = Watcher(docs, index)
    try:
        assert watcher.next()["added"] == 1  # the catch-up on start

        (docs / "b.md").write_text("The relief boat came on Tuesdays.\n", encoding="utf-8")
        assert watcher.next()["added"] == 1 and "b.md" in indexed(index)

        (docs / "a.md").write_text("The keeper lit the lamp at dusk and trimmed the wick at midnight.\n", encoding="utf-8")
        assert watcher.next()["updated"] == 1 and "trimmed the wick" in indexed(index)["a.md"]

        (docs / "b.md").rename(docs / "c.md")
        batch = watcher.next()
        assert (batch["added"], batch["removed"]) == (1, 1) and set(indexed(index)) == {"a.md", "c.md"}

        (docs / "a.md").unlink()
        assert watcher.next()["removed"] == 1 and set(indexed(index)) == {"c.md"}

        pieces = [f"Log entry {i}: the fog horn sounded for {i + 2} hours.\n" for i in range(8)]
        with (docs / "slow.md").open("w", encoding="utf-8") as f:
            for piece in pieces:  # a write every 0.2 s: never quiet for the 1.5 s debounce (and 1 s stable check)
                f.write(piece)
                f.flush()
                time.sleep(0.2)
        batch = watcher.next()
        assert (batch["added"], batch["updated"]) == (1, 0)
        assert indexed(index)["slow.md"] == "".join(pieces)  # read once, whole
        assert watcher.batches.empty()
    finally:
        watcher.proc.send_signal(signal.SIGTERM)
        code = watcher.proc.wait(timeout=60)
    assert code == 0 and "stopped" in watcher.proc.stderr.read()
