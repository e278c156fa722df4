"""Opening a snapshot: its parts must agree, and damage is a clear error, not wrong answers."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.storage.index import HybridIndex, IndexCorruptError, segment_key, spec_from_settings
from rag.storage.segment_writer import SnapshotWriter
from rag.storage.segments import DENSE_FILE, SPARSE_DIR
from rag.storage.snapshots import IndexNotFoundError, begin_snapshot, live_snapshot, publish_snapshot
from rag.storage.store import NewChunk

DIM = 8


def build(root: Path, settings: Settings, texts: list[str]) -> Path:
    tmp = begin_snapshot(root)
    writer = SnapshotWriter(tmp, None)
    spec = spec_from_settings(settings, DIM)
    writer.write_spec(spec)
    rng = np.random.default_rng(0)
    with writer.transaction():
        for i, text in enumerate(texts):
            vec = rng.normal(size=(1, DIM)).astype(np.float32)
            writer.add_file(f"f{i}.txt", len(text), 0, str(i), "text", text, [0], [NewChunk(text, 0, len(text), None, None)], vec)
    writer.finish(settings, spec)
    return publish_snapshot(tmp)


def test_open_reads_all_three_parts(tmp_path: Path):
    settings = Settings()
    build(tmp_path, settings, ["alpha beta", "gamma delta", "beta epsilon"])
    index = HybridIndex.open(tmp_path, settings, dim=DIM)
    assert index.store.chunk_count() == len(index.dense) == len(index.sparse) == 3
    assert sorted(index.store.files()) == ["f0.txt", "f1.txt", "f2.txt"]


def test_no_index_yet_says_how_to_make_one(tmp_path: Path):
    with pytest.raises(IndexNotFoundError, match="rag ingest"):
        HybridIndex.open(tmp_path / "nothing", Settings())


@pytest.mark.parametrize("damage", ["dense", "sparse", "manifest"])
def test_damaged_parts_are_detected_at_open(tmp_path: Path, damage: str):
    settings = Settings()
    snapshot = build(tmp_path, settings, ["alpha beta", "gamma delta"])
    if damage == "dense":
        (snapshot / "seg-000001" / DENSE_FILE).write_bytes(b"not a faiss index")
    elif damage == "sparse":
        np.save(snapshot / "seg-000001" / SPARSE_DIR / "ids.npy", np.array([1], dtype=np.int64))
    else:
        (snapshot / "manifest.json").write_text("{")
    with pytest.raises(IndexCorruptError):
        HybridIndex.open(tmp_path, settings, dim=DIM)


def test_a_reopen_takes_the_segments_it_already_holds_and_ranks_as_a_fresh_open(tmp_path: Path):
    """The engine's switch to a new snapshot: the segment both snapshots share (a hard link) is
    taken from the open one, the new segment is read, and searches equal a fresh open's; a
    copied segment file is another file and would be read again."""
    settings = Settings()
    build(tmp_path, settings, ["alpha beta", "gamma delta", "beta epsilon"])
    before = HybridIndex.open(tmp_path, settings, dim=DIM)
    tmp = begin_snapshot(tmp_path)
    writer = SnapshotWriter(tmp, live_snapshot(tmp_path))
    vec = np.random.default_rng(1).normal(size=(1, DIM)).astype(np.float32)
    writer.add_file("f9.txt", 10, 0, "9", "text", "beta zeta", [0], [NewChunk("beta zeta", 0, 9, None, None)], vec)
    writer.delete_file("f1.txt")
    spec = spec_from_settings(settings, DIM)
    writer.write_spec(spec)
    writer.finish(settings, spec)
    publish_snapshot(tmp)
    after = HybridIndex.open(tmp_path, settings, dim=DIM, reuse=before)
    fresh = HybridIndex.open(tmp_path, settings, dim=DIM)
    shared = [key for key in after.loaded if key in before.loaded]
    assert [key[0] for key in shared] == ["seg-000001"] and len(after.loaded) == 2
    assert after.loaded[shared[0]] is before.loaded[shared[0]] and fresh.loaded[shared[0]] is not before.loaded[shared[0]]
    for query in ("beta", "gamma zeta"):
        np.testing.assert_array_equal(after.sparse.search(query, 5)[0], fresh.sparse.search(query, 5)[0])
        np.testing.assert_allclose(after.sparse.search(query, 5)[1], fresh.sparse.search(query, 5)[1])
    queries = np.random.default_rng(2).normal(size=(4, DIM)).astype(np.float32)
    np.testing.assert_array_equal(after.dense.search(queries, 3)[0], fresh.dense.search(queries, 3)[0])
    assert len(after.dense) == len(after.sparse) == 3
    segment = after.snapshot / "seg-000001"
    copied = tmp_path / "copy" / "seg-000001"
    shutil.copytree(segment, copied)
    assert segment_key(copied) != segment_key(segment)
