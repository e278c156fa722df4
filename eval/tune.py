"""`rag eval retrieval --tune`: tune the embedder on the dataset's corpus alone (never its queries
or qrels), then evaluate again with the tuned model, so the before/after gain is measured."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from eval.datasets import BeirDataset
from eval.retrieval import build_index
from ingest.tuning import index_pairs
from rag.config import Settings
from rag.models import model_path
from rag.search.embedding import Embedder
from rag.storage.tuned import MODEL_DIR
from rag.tune.train import RESULT_FILE, TuneResult, tune


def tune_on_corpus(
    dataset: BeirDataset, settings: Settings, cache: Path, keep: set[str] | None = None, on_step: Callable[[int, int], None] | None = None
) -> tuple[Settings | None, TuneResult]:
    """(settings that embed with the tuned model, or None when it was not kept; what tuning did).
    Reused from `cache` when the same corpus was tuned with the same settings before."""
    embedder = Embedder.load(settings.embedding)
    index_dir, _ = build_index(dataset.corpus_file, settings, embedder, cache, keep)
    key = hashlib.sha256(json.dumps([str(index_dir), settings.embedding.model, settings.tune.model_dump()], sort_keys=True).encode()).hexdigest()[:12]
    out = cache / f"tuned-{key}"
    if (out / RESULT_FILE).is_file():
        result = TuneResult(**json.loads((out / RESULT_FILE).read_text()))
    else:
        pairs = index_pairs(index_dir, settings)
        result = tune(model_path(settings.embedding.model), pairs, out, settings.tune, embedder.device, on_step)
    if not result.kept:
        return None, result
    tuned = settings.embedding.model_copy(update={"model": str((out / MODEL_DIR).resolve())})
    return settings.model_copy(update={"embedding": tuned}), result
