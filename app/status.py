"""`rag status --index DIR`: the live snapshot, and each file's stage in the latest (or the
running) ingest: queued, reading, ocr, chunking, embedding, done, failed with its reason,
skipped by .ragignore; a file worked on past its time limit is called stalled."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from app import EXIT_OK, EXIT_USAGE

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


def cmd_status(args: argparse.Namespace) -> int:
    from ingest.status import read_status
    from rag.config import Settings
    from rag.snapshots import live_snapshot

    settings = Settings.load(args.config)
    index = Path(args.index) if args.index else settings.index_dir
    live = live_snapshot(index) if index.is_dir() else None
    status = read_status(index, settings.ingest.file_timeout_s)
    if live is None and status is None:
        print(f"rag status: no index at {index} (run rag ingest)", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps({"index": str(index), "snapshot": live.name if live else None, "ingest": status}))
        return EXIT_OK
    print(f"index: {index}, live snapshot: {live.name if live else 'none yet'}")
    print("\n".join(describe(status)) if status else "no ingest has recorded its status here yet")
    return EXIT_OK
