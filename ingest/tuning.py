"""`rag tune`: fine-tune the embedder on the index's own collection (rag/tune: pairs from its
chunks, no label), then re-embed every chunk with the tuned copy into a new snapshot that records
its weights' digest; `undo` re-embeds with the base model.

Crash safety is the ingest's: training runs in INDEX/tuned/run-<key>/ with checkpoints, so a
killed run resumes there; a finished run keeps its result, so a kill while re-embedding costs
only the re-embedding; re-embedding writes a new snapshot under the write lock and publishes it
atomically, so a kill leaves the previous snapshot live. Readers keep answering throughout."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from rag.answering.generate.load import load_generator
from rag.config import Settings
from rag.models import model_path
from rag.search.embedding import Embedder, pick_device
from rag.storage.index import HybridIndex, read_manifest, settings_for, spec_from_settings
from rag.storage.segment_writer import SnapshotWriter
from rag.storage.snapshots import NewSnapshot, WriteLock, prune_snapshots, require_live_snapshot
from rag.storage.tuned import MODEL_DIR, TUNED_DIR, live_tuned, prune_tuned, tuned_folder, weights_digest
from rag.tune.pairs import Pair, collection_pairs
from rag.tune.queries import question_pairs
from rag.tune.train import RESULT_FILE, TuneResult, tune

log = logging.getLogger(__name__)
EMBED_BATCH = 512  # chunks per progress report while re-embedding


@dataclass
class TuneReport:
    result: TuneResult | None  # what training did; None for an undo
    card: Path | None  # the run's README.md: pairs, steps, held-out check, loss curve
    tuned: str  # digest of the weights that embed the live snapshot now ("" for the base model)
    snapshot: str | None  # the snapshot published, or None when the index was left as it was
    chunks: int = 0  # chunks re-embedded


def reembed(root: Path, settings: Settings, embedder: Embedder, before_publish: Callable[[], None] = lambda: None, on_embed=None) -> tuple[str, int]:
    """Publish a new snapshot of `root` whose every chunk is embedded by `embedder` and whose spec
    records `embedder.tuned`; returns (its name, chunks). `before_publish` runs once the snapshot
    is whole, just before it goes live (the tuned folder it names is moved into place there)."""
    with WriteLock(root):
        live = require_live_snapshot(root)
        prev = read_manifest(live, root)
        settings = settings_for(settings, prev.spec)
        prev.spec.check_matches(spec_from_settings(settings, prev.spec.dim, prev.spec.tuned), root)
        with NewSnapshot(root) as new:
            writer = SnapshotWriter(new.folder, live)
            try:
                writer.merge_in(prev.segment_names())  # every chunk, in one new segment, embedded anew
                store = writer.new_store()
                ids, texts = zip(*store.iter_chunk_texts()) if store.chunk_count() else ((), ())
                for at in range(0, len(ids), EMBED_BATCH):
                    with store.conn:
                        store.set_embeddings(ids[at : at + EMBED_BATCH], embedder.encode(texts[at : at + EMBED_BATCH]))
                    if on_embed:
                        on_embed(min(at + EMBED_BATCH, len(ids)), len(ids))
                spec = replace(prev.spec, dim=embedder.dim, tuned=embedder.tuned, precision=embedder.precision)
                writer.write_spec(spec)
                writer.finish(settings, spec)
            finally:
                writer.close()
            before_publish()
            name = new.publish().name
    prune_snapshots(root, settings.ingest.keep_snapshots)
    prune_tuned(root)
    return name, len(ids)


def index_pairs(root: Path, settings: Settings) -> list[Pair]:
    """The training pairs `[tune]` asks for, from the live snapshot of `root`; the configured LLM
    is loaded only when pseudo-queries are asked for."""
    t = settings.tune
    questions = None
    if "question" in t.pair_kinds:
        generator, why = load_generator(settings.generation)
        if why:
            log.warning(why)
        questions = partial(question_pairs, generator=generator, settings=settings.generation, count=t.max_questions, rng=random.Random(t.seed))
    index = HybridIndex.open(root, settings)
    try:
        return collection_pairs(index.store, lambda q, k: index.sparse.search(q, k)[0], t.pair_kinds, t.max_pairs, t.hard_negatives, t.seed, questions)
    finally:
        index.close()


def run_folder(root: Path, settings: Settings) -> Path:
    """Where a tuning of the live snapshot with these settings runs: the same folder after a kill,
    a new one once the collection or the settings change."""
    key = json.dumps([require_live_snapshot(root).name, settings.embedding.model, settings.tune.model_dump()], sort_keys=True)
    return root / TUNED_DIR / f"run-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def tune_index(root: Path, settings: Settings, on_step=None, on_embed=None) -> TuneReport:
    """Tune the embedder on `root`'s collection; when the tuned copy beats the base model on its
    held-out pairs, re-embed the collection with it. Always tunes from the settings' base model."""
    run = run_folder(root, settings)
    for stale in run.parent.glob("run-*"):
        if stale != run:
            shutil.rmtree(stale, ignore_errors=True)
    if (run / RESULT_FILE).is_file():  # trained already: killed while re-embedding, or not kept
        result = TuneResult(**json.loads((run / RESULT_FILE).read_text()))
    else:
        pairs = index_pairs(root, settings)
        result = tune(model_path(settings.embedding.model), pairs, run, settings.tune, pick_device(settings.embedding.device), on_step)
    if not result.kept:
        return TuneReport(result, run / "README.md", live_tuned(root), None)
    digest = weights_digest(run / MODEL_DIR)
    target = tuned_folder(root, digest)
    # Loaded as engines load it, so the ONNX graphs (fp32, then int8: quantized after tuning) are made now (27 s here; its cache key
    # survives the move below) and the first question after the switch does not wait for it.
    embedder = Embedder.load(settings.embedding.model_copy(update={"model": str(run / MODEL_DIR)}), digest)

    def move_into_place() -> None:
        if target.is_dir():  # the same weights were tuned before
            shutil.rmtree(run)
        else:
            os.replace(run, target)

    name, chunks = reembed(root, settings, embedder, move_into_place, on_embed)
    return TuneReport(result, target / "README.md", digest, name, chunks)


def undo_tuning(root: Path, settings: Settings, on_embed=None) -> TuneReport:
    """Re-embed `root` with the settings' base model; nothing to do when it is embedded so already."""
    if not live_tuned(root):
        return TuneReport(None, None, "", None)
    name, chunks = reembed(root, settings, Embedder.load(settings.embedding), on_embed=on_embed)
    return TuneReport(None, None, "", name, chunks)
