"""`rag ingest --engine ray`: the plain pipeline's work spread over a Ray cluster with Ray Data.

The driver scans and diffs the folder (ingest/pipeline.py) and writes every result through the
same store as the plain pipeline, so failures, the summary, exit codes and crash safety are the
plain pipeline's. In between, Ray runs the reading and chunking of each file in tasks
(`ingest.ray_files_per_task` files each, ingest/prepare.py) and the embedding in a pool of
actors: one per GPU (`num_gpus=1`) where the cluster has GPUs, else CPU actors that leave half
the CPUs to the reading (2 actors at 1 CPU each on a 2-CPU Ray starve the read tasks and hang).
Without `ingest.ray_address` it starts a local Ray for the run and stops it after."""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import ray

from ingest.prepare import ReadOptions, prepare
from ingest.read_ahead import chunker_for
from ingest.run import IngestReport, IngestRun
from ingest.scan import SourceFile
from rag.config import EmbeddingSettings
from rag.models import model_path
from rag.storage.store import FileRecord

if TYPE_CHECKING:
    from ingest.progress import Progress
    from ingest.status import StatusBoard

log = logging.getLogger("ingest")
PROJECT = Path(__file__).resolve().parent.parent  # the folder holding `ingest` and `rag`, for local workers' import path
WRITE_FILES = 64  # files written to the store per transaction
READ_CPUS = 0.5  # per read task; with the actors' whole CPUs Ray Data fuses the reading into the embedding actors


def read_files(batch: dict[str, np.ndarray], options: ReadOptions, model: str, chunk_tokens: int, overlap_tokens: int) -> dict[str, list[bytes]]:
    """Ray task: each row's file (pickled (SourceFile, old FileRecord or None)) read and chunked."""
    out = []
    for row in batch["file"]:
        f, old = pickle.loads(row)
        out.append(pickle.dumps(prepare(f, old, options, lambda: chunker_for(model_path(model), chunk_tokens, overlap_tokens))))
    return {"prepared": out}


class EmbedFiles:
    """Ray actor: embeds the chunks of a batch of prepared files; rows become (Prepared, vectors)."""

    def __init__(self, settings: dict, tuned: str, threads: int) -> None:
        import torch

        from rag.search.embedding import Embedder

        torch.set_num_threads(threads)  # Ray sets OMP_NUM_THREADS to the reserved CPUs; see embed_pool
        self.embedder = Embedder.load(EmbeddingSettings(**settings).model_copy(update={"threads": threads}), tuned)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[bytes]]:
        prepared = [pickle.loads(row) for row in batch["prepared"]]
        texts = [c.indexed_text for p in prepared for c in p.chunks]
        vectors = self.embedder.encode(texts) if texts else np.zeros((0, self.embedder.dim), dtype=np.float32)
        out, at = [], 0
        for p in prepared:
            out.append(pickle.dumps((p, vectors[at : at + len(p.chunks)])))
            at += len(p.chunks)
        return {"done": out}


def start_ray(address: str) -> bool:
    """Join the cluster at `address`, or start a local Ray on this machine's CPUs (and GPUs);
    True when this call started it (and so should stop it)."""

    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, runtime_env={"py_modules": [str(PROJECT / "ingest"), str(PROJECT / "rag")]}, log_to_driver=False)
    else:
        paths = os.pathsep.join(p for p in (str(PROJECT), os.environ.get("PYTHONPATH", "")) if p)
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": paths}})
    return True


def embed_pool(resources: dict[str, float], setting: int) -> tuple[int, dict[str, int], int]:
    """(embedding actors, each one's Ray resources, each one's torch threads): one actor per GPU;
    else CPU actors that reserve half the CPUs, so read tasks always get the other half, yet
    compute on their whole share of them: reading is brief next to embedding (7% of the plain
    pipeline's time), and an actor held to its reserved half embedded at half speed."""
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    if gpus:
        return setting or gpus, {"num_gpus": 1}, 1
    actors = setting or max(1, cpus // 4)
    return actors, {"num_cpus": max(1, cpus // (2 * actors))}, max(1, cpus // actors)


def ingest_on_ray(
    ingestor: IngestRun, candidates: list[SourceFile], known: dict[str, FileRecord], store, report: IngestReport, board: StatusBoard, progress: Progress
) -> int:
    """The plain pipeline's `ingest_files` with reading, chunking and embedding on Ray."""
    if not candidates:
        return 0

    settings = ingestor.settings
    ingestor.embedder()  # the driver checks the chunk size against the model's window, as the plain pipeline does
    embedding, digest = ingestor.worker_embedding()
    started = start_ray(settings.ingest.ray_address)
    ray.data.DataContext.get_current().enable_progress_bars = False  # the ingest's own progress lines say it
    try:
        rows = [{"file": pickle.dumps((f, known.get(f.rel)))} for f in candidates]
        per_task = settings.ingest.ray_files_per_task
        chunking = settings.chunking
        actors, each, threads = embed_pool(ray.cluster_resources(), settings.ingest.ray_embed_actors)
        log.info("ray: %d files, %d per read task, %d embedding actor(s) with %s", len(rows), per_task, actors, each, extra={"event": "ray"})
        dataset = (
            ray.data.from_items(rows, override_num_blocks=max(1, -(-len(rows) // per_task)))
            .map_batches(
                read_files,
                batch_size=per_task,
                num_cpus=READ_CPUS,
                fn_kwargs={
                    "options": ingestor.read_options,
                    "model": embedding.model,
                    "chunk_tokens": chunking.chunk_tokens,
                    "overlap_tokens": chunking.overlap_tokens,
                },
            )
            .map_batches(
                EmbedFiles,
                batch_size=per_task,
                fn_constructor_kwargs={"settings": embedding.model_dump(mode="json"), "tuned": digest, "threads": threads},
                compute=ray.data.ActorPoolStrategy(size=actors),
                **each,
            )
        )
        return _write_results(ingestor, dataset.iter_rows(), store, report, board, progress)
    finally:
        if started:
            ray.shutdown()


def _write_results(ingestor: IngestRun, rows, store, report: IngestReport, board: StatusBoard, progress: Progress) -> int:
    """Store what the workers send back, as it arrives; returns how many files only had new stat data."""
    touched, pending, vectors = 0, [], []
    for row in rows:
        p, v = pickle.loads(row["done"])
        if ingestor.settle(p, store, report, board, progress):
            touched += p.unchanged
            continue
        pending.append(p)
        vectors.append(v)
        if len(pending) >= WRITE_FILES:
            ingestor.write(pending, np.concatenate(vectors), store, report, progress, board)
            pending, vectors = [], []
    if pending:
        ingestor.write(pending, np.concatenate(vectors), store, report, progress, board)
    return touched
