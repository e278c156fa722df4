"""kill -9 a real ingest at named points it reports as structured events (JSON log lines with an
`event` key, never log wording or wall-clock luck): the previous snapshot stays live and
whole, and the next ingest completes."""

import sqlite3
from pathlib import Path

import pytest
from kills import exits_within, kill_ingest_at

from ingest.pipeline import Ingestor
from rag.config import IngestSettings
from rag.storage.index import HybridIndex
from rag.storage.segments import Manifest

pytestmark = pytest.mark.slow

# (event, stage or n-th file, True when the kill always lands before the new snapshot is live)
KILL_POINTS = [
    ("stage", "scanned", True),
    ("stage", "reading", True),
    ("file_read", 15, True),  # mid-reading: 15 files read, 15 to go and nothing embedded yet
    ("stage", "indexing", False),
    ("stage", "publishing", False),
]


def grow(folder: Path, n: int) -> None:
    for i in range(n):
        sentences = " ".join(f"Document {i} sentence {j} describes measurement {i * j} of sample {j}." for j in range(40))
        (folder / f"extra-{i:03d}.txt").write_text(sentences)


def assert_whole(index: Path, settings, embedder, allowed: list[set[str]]) -> str:
    opened = HybridIndex.open(index, settings, dim=embedder.dim)  # raises if parts disagree
    files = set(opened.store.files())
    assert files in allowed, f"snapshot {opened.snapshot.name} holds a mix: {sorted(files)}"
    chunk_files = {c.path for c in opened.store.chunks(list(map(int, opened.sparse.live_ids()))).values()}
    assert chunk_files == files
    name = opened.snapshot.name
    opened.close()
    return name


def test_kill_9_at_any_point_leaves_a_whole_index(corpus: Path, tmp_path: Path, settings, embedder):
    index = settings.index_dir
    Ingestor(settings, lambda: embedder, interactive=False).run(corpus, index)
    before = set(HybridIndex.open(index, settings).store.files())
    grow(corpus, 30)
    (corpus / "volcanoes.md").unlink()
    after = {p.relative_to(corpus).as_posix() for p in corpus.rglob("*") if p.is_file()}
    for event, at, before_publish in KILL_POINTS:
        readers: list[int] = []
        killed = kill_ingest_at(corpus, index, event, at, children=readers)
        live = assert_whole(index, settings, embedder, [before, after])
        if event == "file_read":  # mid-reading: the reading process was running, and ends with the ingest
            assert readers and all(exits_within(pid, 10) for pid in readers)
        if before_publish:
            assert killed and live == "snap-000001", f"killed ({killed}) at {event} {at!r}, yet {live} went live"
        elif live != "snap-000001":  # the kill landed after the switch: the new snapshot is whole
            break
    report = Ingestor(settings, lambda: embedder, interactive=False).run(corpus, index)
    assert report.exit_code == 0
    assert_whole(index, settings, embedder, [after])
    assert not list(index.glob("*.tmp"))


def test_kill_9_at_random_moments(corpus: Path, tmp_path: Path, settings, embedder):
    """Three kills after a random number of files have been read (seeded; the fixed points are
    above): each lands mid-ingest, and the index is always the whole previous snapshot."""
    import random

    index = settings.index_dir
    Ingestor(settings, lambda: embedder, interactive=False).run(corpus, index)
    before = set(HybridIndex.open(index, settings).store.files())
    grow(corpus, 20)
    after = {p.relative_to(corpus).as_posix() for p in corpus.rglob("*") if p.is_file()}
    moments = random.Random(1)
    for _ in range(3):
        files_read = moments.randint(1, 19)
        assert kill_ingest_at(corpus, index, "file_read", files_read), f"the ingest ended before file {files_read} was read"
        assert assert_whole(index, settings, embedder, [before]) == "snap-000001"
    report = Ingestor(settings, lambda: embedder, interactive=False).run(corpus, index)
    assert report.exit_code == 0
    assert_whole(index, settings, embedder, [after])


@pytest.mark.parametrize(("event", "at"), [("stage", "merging"), ("merge_copied", 1)])
def test_kill_9_while_merging_leaves_a_whole_index_and_the_next_ingest_merges(corpus: Path, settings, embedder, event: str, at):
    """Merges run after the ingest's own publish: a kill -9 as a merge starts, or once it has
    copied the segments' files, leaves that snapshot live and whole; the next ingest, with nothing
    new to read, finishes the merge."""
    index = settings.index_dir
    merging = settings.model_copy(update={"ingest": IngestSettings(max_segments=1)})
    Ingestor(merging, lambda: embedder, interactive=False).run(corpus, index)
    grow(corpus, 3)
    after = {p.relative_to(corpus).as_posix() for p in corpus.rglob("*") if p.is_file()}
    assert kill_ingest_at(corpus, index, event, at, env={"RAG_INGEST__MAX_SEGMENTS": "1"})
    live = assert_whole(index, settings, embedder, [after])
    assert len(Manifest.read(index / live).segments) == 2
    report = Ingestor(merging, lambda: embedder, interactive=False).run(corpus, index)
    assert report.exit_code == 0 and report.chunks_embedded == 0
    merged = assert_whole(index, settings, embedder, [after])
    assert merged != live and len(Manifest.read(index / merged).segments) == 1
    assert not list(index.glob("*.tmp"))


@pytest.mark.parametrize(
    "where, error",
    [
        ("rag.storage.catalog.Catalog.copy_to", OSError(28, "No space left on device")),
        ("rag.storage.store.ChunkStore.add_file", sqlite3.OperationalError("database or disk is full")),
        ("rag.storage.dense.DenseIndex.save", OSError(28, "No space left on device")),
        ("rag.storage.sparse.SparseSegment.save", OSError(28, "No space left on device")),
        ("rag.storage.snapshots.publish_snapshot", OSError(28, "No space left on device")),
    ],
)
def test_a_full_disk_leaves_the_live_index_and_says_so(corpus: Path, settings, embedder, monkeypatch, capsys, where: str, error: Exception):
    """A full disk (the error injected at each write of a new snapshot): the ingest fails with
    a clear message, the live snapshot stays as it was, and no half-written folder is left."""
    from app.cli import main

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
