"""Each file's stage while an ingest runs, in INDEX/status.json, for `rag status`, the API and the
Collection page (another process may be asking). Written whole and renamed into place, so a
reader never sees half a file, and at most every `every_s` (stage changes of the whole ingest at
once), so thousands of small files do not turn into thousands of writes; and no more often than
keeps writing under 0.5% of the time (SciFact's 5,183-file board took 7.5 ms a write, 2.2 s of
a 145 s ingest at every 0.5 s).

Stages of a file: queued, reading (ocr for an image), chunking, embedding, done, failed (with
the reason); removed; skipped (by .ragignore). Files the ingest found unchanged are counted,
not listed."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

STATUS_FILE = "status.json"
WORKING = ("reading", "ocr", "chunking", "embedding")  # a file in one of these is being worked on
GAP_PER_WRITE_S = 200  # seconds between writes for each second a write took: writing stays under 0.5%


class StatusBoard:
    """The status of one ingest, kept in memory and written to `root/status.json`."""

    def __init__(self, root: Path, every_s: float = 0.5) -> None:
        self.path = root / STATUS_FILE
        self.every_s = every_s
        self.state: dict = {}
        self._written = 0.0
        self._gap = every_s

    def begin(self, source: Path) -> None:
        now = time.time()
        self.state = {"pid": os.getpid(), "source": str(source), "started": now, "updated": now, "stage": "scanning", "running": True}
        self.state.update(unchanged=0, files={})
        self._write(force=True)

    def scanned(self, candidates: list[str], unchanged: int, removed: list[str], ignored: list[str], failed: dict[str, str]) -> None:
        files = {rel: self._entry("queued") for rel in candidates}
        files.update({rel: self._entry("removed") for rel in removed})
        files.update({rel: self._entry("skipped", "matches a pattern in .ragignore") for rel in ignored})
        files.update({rel: self._entry("failed", reason) for rel, reason in failed.items()})
        self.state.update(unchanged=unchanged, files=files)
        self.stage("reading")

    def stage(self, name: str) -> None:
        """The stage of the whole ingest (scanning, reading, indexing, publishing, done)."""
        self.state["stage"] = name
        self._write(force=True)

    def file(self, rel: str, stage: str, reason: str | None = None, **extra: object) -> None:
        self.state["files"][rel] = {**self._entry(stage, reason), **extra}
        self._write()

    def end(self, error: str | None = None) -> None:
        self.state.update(running=False, stage="failed" if error else "done", error=error)
        self._write(force=True)

    @staticmethod
    def _entry(stage: str, reason: str | None = None) -> dict:
        return {"stage": stage, "since": time.time(), **({"reason": reason} if reason else {})}

    def _write(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._written < self._gap:
            return
        self._written = now
        self.state["updated"] = time.time()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")  # one writer (the write lock); a kill's leftover is replaced next time
        tmp.write_text(json.dumps(self.state), encoding="utf-8")
        os.replace(tmp, self.path)
        self._gap = max(self.every_s, GAP_PER_WRITE_S * (time.monotonic() - now))


ORDER = ("failed", "reading", "ocr", "chunking", "embedding", "queued", "skipped", "removed", "done")


def describe(status: dict) -> list[str]:
    """The status as lines a person reads: the ingest's state, then its files, busiest first."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(status["updated"]))
    if status.get("interrupted"):
        head = f"ingest interrupted (process {status['pid']} is gone), last seen at {when}, stage {status['stage']}"
    elif status["running"]:
        head = f"ingest running (pid {status['pid']}), stage {status['stage']}, updated {when}"
    else:
        took = status["updated"] - status["started"]
        head = f"last ingest {status['stage']} at {when} ({took:.1f} s)" + (f": {status['error']}" if status.get("error") else "")
    counts = ", ".join(f"{status['counts'][s]} {s}" for s in ORDER if s in status["counts"])
    lines = [head, f"from {status['source']}: {counts or 'nothing to do'}; {status['unchanged']} unchanged"]
    files = sorted(status["files"].items(), key=lambda kv: (ORDER.index(kv[1]["stage"]) if kv[1]["stage"] in ORDER else 0, kv[0]))
    for path, entry in files:
        note = entry.get("stalled") and f"STALLED: {entry['stalled']}" or entry.get("reason", "")
        if entry["stage"] == "done" and entry.get("chunks") is not None:
            note = f"{entry['chunks']} chunks"
        lines.append(f"  {entry['stage']:<9} {path}" + (f"  ({note})" if note else ""))
    return lines


def read_status(root: Path, file_timeout_s: float) -> dict | None:
    """The last written status, with `stalled` files (worked on past `file_timeout_s`) and
    `interrupted` set when the ingest's process is gone without ending; None before any ingest."""
    try:
        state = json.loads((root / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    now = time.time()
    if state.get("running") and not _alive(state.get("pid", 0)):
        state.update(running=False, interrupted=True)
    for entry in state.get("files", {}).values():
        if state.get("running") and entry["stage"] in WORKING and now - entry["since"] > file_timeout_s:
            entry["stalled"] = f"{entry['stage']} for {now - entry['since']:.0f} s, over ingest.file_timeout_s ({file_timeout_s:g} s)"
    counts: dict[str, int] = {}
    for entry in state.get("files", {}).values():
        counts[entry["stage"]] = counts.get(entry["stage"], 0) + 1
    state["counts"] = counts
    return state


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return pid > 0
