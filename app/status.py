"""`rag status --index DIR`: the live snapshot, and each file's stage in the latest (or the
running) ingest: queued, reading, ocr, chunking, embedding, done, failed with its reason,
skipped by .ragignore; a file worked on past its time limit is called stalled."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app import EXIT_OK, EXIT_USAGE


def cmd_status(args: argparse.Namespace) -> int:
    from ingest.status import describe, read_status
    from rag.storage.backend import live_version

    settings = args.settings
    index = Path(args.index) if args.index else settings.index_dir
    live = live_version(index, settings) if index.is_dir() else None
    status = read_status(index, settings.ingest.file_timeout_s)
    if live is None and status is None:
        print(f"rag status: no index at {index} (run rag ingest)", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps({"index": str(index), "snapshot": live, "ingest": status}))
        return EXIT_OK
    print(f"index: {index}, live snapshot: {live or 'none yet'}")
    print("\n".join(describe(status)) if status else "no ingest has recorded its status here yet")
    return EXIT_OK
