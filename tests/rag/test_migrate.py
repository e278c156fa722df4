"""An index written before segments (schema 2) is upgraded by `rag ingest` or `rag doctor` into
one segment, without embedding again; readers are told how."""

import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from ingest.pipeline import Ingestor
from rag.config import Settings
from rag.storage.dense import DenseIndex
from rag.storage.doctor import repair
from rag.storage.index import HybridIndex, spec_from_settings
from rag.storage.snapshots import NewSnapshot
from rag.storage.store import ChunkStore, IndexMismatchError, NewChunk

DIM = 8
TEXTS = {"a.txt": "Mount Etna is a volcano in Sicily.", "b.txt": "Green tea is made from unoxidised leaves."}


def write_v2_index(root: Path, docs: Path, settings: Settings) -> np.ndarray:
    """A schema-2 snapshot of `docs` as the previous release wrote it; returns its vectors."""
    vectors = np.random.default_rng(0).normal(size=(len(TEXTS), DIM)).astype(np.float32)
    with NewSnapshot(root) as new:
        store = ChunkStore(new.folder / "store.sqlite")
        spec = replace(spec_from_settings(settings, DIM), schema_version=2)
        store.write_spec(spec)
        with store.conn:
            for i, (name, text) in enumerate(TEXTS.items()):
                stat = (docs / name).stat()
                sha = hashlib.sha256(text.encode()).hexdigest()
                store.add_file(name, stat.st_size, stat.st_mtime_ns, sha, "text", text, [0], [NewChunk(text, 0, len(text), None, None)], vectors[i : i + 1])
            store.set_failures({"broken.pdf": "not a PDF"})
        store.close()
        DenseIndex.build(np.arange(1, len(TEXTS) + 1), vectors, settings.dense).save(new.folder / "dense.faiss")
        (new.folder / "manifest.json").write_text(json.dumps({"spec": asdict(spec), "chunks": len(TEXTS), "files": len(TEXTS)}))
        new.publish()
    return vectors


@pytest.fixture
def old_index(tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in TEXTS.items():
        (docs / name).write_text(text)
    settings = Settings(index_dir=tmp_path / "index")
    return docs, settings, write_v2_index(settings.index_dir, docs, settings)


def check_upgraded(settings: Settings, vectors: np.ndarray, failures: dict[str, str]) -> None:
    index = HybridIndex.open(settings.index_dir, settings, dim=DIM)
    assert sorted(index.store.files()) == ["a.txt", "b.txt"] and index.store.failures() == failures
    assert index.dense.search(vectors[1], 1)[0][0][0] == 2  # the same vectors under the same ids
    assert index.store.chunks([int(index.sparse.search("volcano Sicily", 1)[0][0])])[1].path == "a.txt"
    index.close()


def test_readers_are_told_to_upgrade_and_the_doctor_does(old_index):
    _, settings, vectors = old_index
    with pytest.raises(IndexMismatchError, match="upgrades it without embedding"):
        HybridIndex.open(settings.index_dir, settings, dim=DIM)
    found = repair(settings.index_dir, settings)
    assert any("upgraded" in a for a in found.actions) and found.healthy
    check_upgraded(settings, vectors, {"broken.pdf": "not a PDF"})


def test_an_ingest_upgrades_without_embedding(old_index):
    docs, settings, vectors = old_index

    def no_embedder():
        raise AssertionError("nothing needs embedding")

    report = Ingestor(settings, no_embedder, interactive=False).run(docs, settings.index_dir)
    assert report.chunks_embedded == 0 and report.files_in_index == 2
    check_upgraded(settings, vectors, {})  # broken.pdf is no longer in the folder
