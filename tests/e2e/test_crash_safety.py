"""kill -9 a real ingest at several points: the previous generation stays live and whole, and
the next ingest completes."""

import os
import signal
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
