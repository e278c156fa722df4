"""Damage to an index is detected at open with a clear error, and `rag doctor` repairs it:
a segment's search files are rebuilt from its store; a damaged store sends the index back to
the newest whole snapshot."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ingested_corpus

from rag.config import IngestSettings
from rag.storage.doctor import diagnose, repair
from rag.storage.index import HybridIndex, IndexCorruptError
from rag.storage.segments import DENSE_FILE, SPARSE_DIR, STORE_FILE
from rag.storage.snapshots import CURRENT


@pytest.fixture
def index(tmp_path: Path, embedder):
    settings = ingested_corpus(tmp_path, embedder, {})
    settings.ingest = IngestSettings(keep_snapshots=5)
    from ingest.pipeline import Ingestor

    (tmp_path / "docs" / "glaciers.txt").write_text("The Aletsch Glacier is the largest glacier in the Alps.\n")
    Ingestor(settings, lambda: embedder, interactive=False).run(tmp_path / "docs", settings.index_dir)
    return settings


def live(settings) -> Path:
    return settings.index_dir / (settings.index_dir / CURRENT).read_text().strip()


def search(settings, embedder) -> list[int]:
    opened = HybridIndex.open(settings.index_dir, settings, dim=embedder.dim)
    ids = opened.dense.search(embedder.encode_query("largest glacier in the Alps"), 3)[0][0].tolist()
    opened.close()
    return ids


def newest_segment(snapshot: Path) -> Path:
    """The segment the last ingest wrote: only the live snapshot holds it."""
    return max(snapshot.glob("seg-*"))


def corrupt_dense(snapshot: Path) -> None:
    (newest_segment(snapshot) / DENSE_FILE).write_bytes(b"not a faiss index")


def corrupt_sparse(snapshot: Path) -> None:
    next((newest_segment(snapshot) / SPARSE_DIR).glob("*.npy")).unlink()


@pytest.mark.parametrize("damage", [corrupt_dense, corrupt_sparse])
def test_damaged_search_files_are_rebuilt_from_the_store(index, embedder, damage):
    before = search(index, embedder)
    damaged = live(index)
    damage(damaged)
    with pytest.raises(IndexCorruptError, match="rag doctor --index"):
        HybridIndex.open(index.index_dir, index, dim=embedder.dim)
    assert not diagnose(index.index_dir, index).healthy
    found = repair(index.index_dir, index)
    assert f"rebuilt FAISS and BM25 of {newest_segment(damaged).name}" in found.actions[0]
    assert live(index) != damaged and diagnose(index.index_dir, index).healthy
    assert search(index, embedder) == before  # same chunk ids, same vectors


def test_a_truncated_store_goes_back_to_the_last_whole_snapshot(index, embedder):
    damaged = live(index)
    store = newest_segment(damaged) / STORE_FILE
    store.write_bytes(store.read_bytes()[:4096])
    with pytest.raises(IndexCorruptError):
        HybridIndex.open(index.index_dir, index, dim=embedder.dim)
    found = repair(index.index_dir, index)
    assert any("is live again" in a for a in found.actions)
    assert live(index) != damaged and diagnose(index.index_dir, index).healthy
    opened = HybridIndex.open(index.index_dir, index, dim=embedder.dim)
    assert "glaciers.txt" not in opened.store.files()  # the snapshot before the last ingest
    opened.close()


def test_current_naming_a_lost_folder_is_repaired(index):
    (index.index_dir / CURRENT).write_text("snap-000099\n")
    assert not diagnose(index.index_dir, index).healthy
    repair(index.index_dir, index)
    assert diagnose(index.index_dir, index).healthy


def test_rag_doctor_command(index):
    cmd = [sys.executable, "-m", "app.cli", "doctor", "--index", str(index.index_dir)]
    healthy = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert healthy.returncode == 0 and "healthy" in healthy.stdout
    corrupt_dense(live(index))
    checked = subprocess.run(cmd + ["--check"], capture_output=True, text=True, timeout=300)
    assert checked.returncode == 1 and re.search(r"BAD  seg-\d+ dense", checked.stdout)
    repaired = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert repaired.returncode == 0 and "healthy after repair" in repaired.stdout, repaired.stdout + repaired.stderr
