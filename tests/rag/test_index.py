"""Opening a snapshot: its parts must agree, and damage is a clear error, not wrong answers."""

from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.index import HybridIndex, IndexCorruptError, spec_from_settings
from rag.segment_writer import SnapshotWriter
from rag.segments import DENSE_FILE, SPARSE_DIR
from rag.snapshots import IndexNotFoundError, begin_snapshot, publish_snapshot
from rag.store import NewChunk

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
    gen = build(tmp_path, settings, ["alpha beta", "gamma delta"])
    if damage == "dense":
        (gen / "seg-000001" / DENSE_FILE).write_bytes(b"not a faiss index")
    elif damage == "sparse":
        np.save(gen / "seg-000001" / SPARSE_DIR / "ids.npy", np.array([1], dtype=np.int64))
    else:
        (gen / "manifest.json").write_text("{")
    with pytest.raises(IndexCorruptError):
        HybridIndex.open(tmp_path, settings, dim=DIM)
