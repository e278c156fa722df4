"""`rag tune --index DIR`: tune the embedder on the index's own collection and, when the tuned
copy beats the base model on held-out pairs, re-embed the collection with it; `--undo` goes back
to the base model. Each phase shows a progress bar on a terminal (log lines otherwise)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE


def progress_callback(unit: str, area: str = "tune"):
    """A `(done, total)` callback that drives a Progress bar, made once the total is known; its
    plain log lines go to the `area` log."""
    from ingest.progress import Progress

    bars: list[Progress] = []

    def update(done: int, total: int) -> None:
        if not bars:
            bars.append(Progress(total, unit=unit, area=area))
        bar = bars[0]
        bar.advance(files=done - bar.done)
        if done >= total:
            bar.close()

    return update


def cmd_tune(args: argparse.Namespace) -> int:
    from ingest.tuning import tune_index, undo_tuning
    from rag.storage.snapshots import IndexBusyError, IndexNotFoundError
    from rag.storage.store import IndexMismatchError

    try:
        settings = args.settings
        index = Path(args.index) if args.index else settings.index_dir
        if settings.backend != "local":
            print(f"rag tune: tuning re-embeds a local index's snapshots; index.backend is {settings.backend!r}", file=sys.stderr)
            return EXIT_USAGE
        if args.undo:
            report = undo_tuning(index, settings, on_embed=progress_callback("chunk"))
            print(
                f"index: {index}: "
                + (
                    f"re-embedded {report.chunks} chunks with {settings.embedding.model} (snapshot {report.snapshot})"
                    if report.snapshot
                    else f"already embedded by {settings.embedding.model}; nothing to undo"
                )
            )
            return EXIT_OK
        report = tune_index(index, settings, on_step=progress_callback("step"), on_embed=progress_callback("chunk"))
    except (IndexNotFoundError, IndexMismatchError, IndexBusyError, ValueError) as exc:
        print(f"rag tune: {exc}", file=sys.stderr)
        return EXIT_USAGE
    r = report.result
    pairs = ", ".join(f"{n} {kind}" for kind, n in sorted(r.pairs.items()))
    print(f"index: {index}\ntrained {r.method} on {pairs} pairs: {r.steps} steps in {r.seconds:.0f} s")
    print(f"held-out pairs ({r.held_out}): MRR base {r.base_score:.4f}, tuned {r.tuned_score:.4f}")
    if report.snapshot is None:
        print(f"not kept: the tuned model does not beat the base one; the index is unchanged (card: {report.card})")
        return EXIT_PARTIAL
    print(f"kept: re-embedded {report.chunks} chunks with the tuned model {report.tuned} (snapshot {report.snapshot}; card: {report.card})")
    print(f"`rag tune --index {index} --undo` goes back to {settings.embedding.model}")
    return EXIT_OK
