"""`rag watch SOURCE --index DIR`: keep an index in step with a folder until Ctrl+C or SIGTERM,
printing a line (or, with --json, an object) per batch."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from app import EXIT_OK, EXIT_USAGE


def cmd_watch(args: argparse.Namespace) -> int:
    from ingest.pipeline import Ingestor, IngestReport, UsageError
    from ingest.watch import WatchOptions, watch
    from rag.search.embedding import Embedder
    from rag.storage.snapshots import IndexBusyError
    from rag.storage.store import IndexMismatchError

    settings = args.settings
    index = Path(args.index) if args.index else settings.index_dir
    source = Path(args.source)
    if not source.is_dir():
        print(f"rag watch: source folder not found: {source}", file=sys.stderr)
        return EXIT_USAGE
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())  # stop between batches, never half-way

    def report(batch: IngestReport) -> None:
        result = batch.as_dict()
        if args.json:
            print(json.dumps(result), flush=True)
        else:
            failed = f", {len(result['failed'])} failed" if result["failed"] else ""
            print(
                f"snapshot {result['snapshot']}: {result['added']} added, {result['updated']} updated, "
                f"{result['removed']} removed{failed} ({result['seconds']:.1f} s)",
                flush=True,
            )

    options = WatchOptions(settings.ingest.watch_debounce_s, settings.ingest.watch_stable_s)
    try:
        print(f"watching {source} into {index}; Ctrl+C stops", file=sys.stderr, flush=True)
        watch(Ingestor(settings, lambda: Embedder.load(settings.embedding)), source, index, stop, report, options)
    except (UsageError, IndexMismatchError, IndexBusyError, ValueError) as exc:
        print(f"rag watch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print("rag watch: stopped", file=sys.stderr)
    return EXIT_OK
