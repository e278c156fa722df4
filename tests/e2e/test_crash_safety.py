"""kill -9 a real ingest at several points: the previous generation stays live and whole, and
the next ingest completes."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from rag.index import HybridIndex

pytestmark = pytest.mark.slow

KILL_POINTS = [
    ("stage: scanned", 0.0),
    ("stage: reading and embedding", 0.0),
    ("stage: reading and embedding", 1.5),  # mid-embedding
    ("stage: building search indexes", 0.0),
    ("stage: publishing generation", 0.0),
]


def grow(folder: Path, n: int) -> None:
    for i in range(n):
        sentences = " ".join(f"Document {i} sentence {j} describes measurement {i * j} of sample {j}." for j in range(40))
        (folder / f"extra-{i:03d}.txt").write_text(sentences)


def kill_ingest_at(source: Path, index: Path, marker: str, delay: float) -> bool:
    """Run `rag ingest` and SIGKILL it `delay` s after `marker` appears; True if it was killed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ingest", str(source), "--index", str(index)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        for line in proc.stderr:
            if marker in line:
                time.sleep(delay)
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.wait(timeout=600)
    return proc.returncode == -signal.SIGKILL


def assert_whole(index: Path, settings, embedder, allowed: list[set[str]]) -> str:
    opened = HybridIndex.open(index, settings, dim=embedder.dim)  # raises if parts disagree
    files = set(opened.store.files())
    assert files in allowed, f"generation {opened.generation.name} holds a mix: {sorted(files)}"
    chunk_files = {c.path for c in opened.store.chunks(list(map(int, opened.sparse.ids))).values()}
    assert chunk_files == files
    name = opened.generation.name
    opened.close()
    return name


def test_kill_9_at_any_point_leaves_a_whole_index(corpus: Path, tmp_path: Path, settings, embedder):
    index = settings.index_dir
    Ingestor(settings, lambda: embedder, interactive=False).run(corpus, index)
    before = set(HybridIndex.open(index, settings).store.files())
    grow(corpus, 30)
    (corpus / "volcanoes.md").unlink()
    after = {p.relative_to(corpus).as_posix() for p in corpus.rglob("*") if p.is_file()}
    killed = 0
    for marker, delay in KILL_POINTS:
        killed += kill_ingest_at(corpus, index, marker, delay)
        live = assert_whole(index, settings, embedder, [before, after])
        if live != "gen-000001":  # the kill landed after the switch: the new generation is whole
            break
    assert killed >= 4
    report = Ingestor(settings, lambda: embedder, interactive=False).run(corpus, index)
    assert report.exit_code == 0
    assert_whole(index, settings, embedder, [after])
    assert not list(index.glob("*.tmp"))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_at_random_moments(corpus: Path, tmp_path: Path, settings, embedder, seed: int):
    """Kills at a random moment of the run (seeded): the index is always one whole generation."""
    import random

    index = settings.index_dir
    Ingestor(settings, lambda: embedder, interactive=False).run(corpus, index)
    before = set(HybridIndex.open(index, settings).store.files())
    grow(corpus, 20)
    after = {p.relative_to(corpus).as_posix() for p in corpus.rglob("*") if p.is_file()}
    delays = random.Random(seed)
    kills = 0
    for _ in range(3):
        kills += kill_ingest_at(corpus, index, "stage: scanned", delays.uniform(0.0, 12.0))
        assert_whole(index, settings, embedder, [before, after])
    report = Ingestor(settings, lambda: embedder, interactive=False).run(corpus, index)
    assert report.exit_code == 0 and kills >= 1
    assert_whole(index, settings, embedder, [after])


@pytest.mark.parametrize(
    "where, error",
    [
        ("rag.store.ChunkStore.copy_to", OSError(28, "No space left on device")),
        ("rag.store.ChunkStore.add_file", sqlite3.OperationalError("database or disk is full")),
        ("rag.dense.DenseIndex.save", OSError(28, "No space left on device")),
        ("rag.sparse.SparseIndex.save", OSError(28, "No space left on device")),
        ("ingest.pipeline.publish_generation", OSError(28, "No space left on device")),
    ],
)
def test_a_full_disk_leaves_the_live_index_and_says_so(corpus: Path, settings, embedder, monkeypatch, capsys, where: str, error: Exception):
    """A full disk (the error injected at each write of a new generation): the ingest fails with
    a clear message, the live generation stays as it was, and no half-written folder is left."""
    from rag.cli import main

    index = settings.index_dir
    Ingestor(settings, lambda: embedder, interactive=False).run(corpus, index)
    files = set(HybridIndex.open(index, settings).store.files())
    before = assert_whole(index, settings, embedder, [files])
    grow(corpus, 3)

    def full(*args, **kwargs):
        raise error

    monkeypatch.setattr(where, full)
    code = main(["ingest", str(corpus), "--index", str(index)])
    assert code == 2 and str(error) in capsys.readouterr().err
    assert assert_whole(index, settings, embedder, [files]) == before
    assert not list(index.glob("*.tmp"))
