"""Segments: an index brought up to date in increments (adds, changes, removals, merges) ranks
exactly like one built at once from the same files; the merge policy; what a publish shares."""

import os
import shutil
from pathlib import Path

import numpy as np
from conftest import make_corpus

from ingest.pipeline import Ingestor
from rag.config import IngestSettings, Settings
from rag.storage.index import HybridIndex
from rag.storage.merge import plan_merge
from rag.storage.segments import STORE_FILE, Manifest, SegmentInfo
from rag.storage.snapshots import live_snapshot
from rag.storage.store import IndexSpec

QUERIES = ["Which volcano is on the east coast of Sicily?", "oxidised tea leaves", "Danube delta Romania", "Golden Gate strait", "MIME type database"]


def rankings(root: Path, settings: Settings, embedder) -> list:
    """Per query: BM25 and dense hits as (score, path, text), best first (ties by path and text:
    chunk ids differ between the two indexes, the chunks do not)."""
    index = HybridIndex.open(root, settings, dim=embedder.dim)
    found = []
    for query in QUERIES:
        ids, scores = index.sparse.search(query, 12)
        dense_ids, dense_scores = index.dense.search(embedder.encode_query(query), 12)
        records = index.store.chunks([int(i) for i in [*ids, *dense_ids[0]]])
        for hits in (zip(ids, scores), zip(dense_ids[0], dense_scores[0])):
            found.append(sorted(((round(float(s), 5), records[int(i)].path, records[int(i)].text) for i, s in hits), key=lambda h: (-h[0], h[1], h[2])))
    index.close()
    return found


def test_an_index_built_in_increments_ranks_like_one_built_at_once(tmp_path: Path, embedder):
    docs = make_corpus(tmp_path / "docs")
    aside = tmp_path / "aside"
    aside.mkdir()
    stepped = Settings(index_dir=tmp_path / "stepped", ingest=IngestSettings(max_segments=3, merge_factor=2))

    def ingest(settings: Settings) -> None:
        assert Ingestor(settings, lambda: embedder, interactive=False).run(docs, settings.index_dir).exit_code == 0

    for name in ("rivers.html", "bridges.docx", "mime-spec.pdf"):
        shutil.move(docs / name, aside / name)
    ingest(stepped)  # two files
    for name in ("rivers.html", "bridges.docx", "mime-spec.pdf"):  # one file per ingest: a segment each
        shutil.move(aside / name, docs / name)
        ingest(stepped)
    (docs / "notes" / "tea.txt").write_text("Oolong tea leaves are partly oxidised; green tea leaves are not oxidised.\n")
    (docs / "volcanoes.md").unlink()
    (docs / "glaciers.txt").write_text("The Aletsch Glacier is the largest glacier in the Alps.\n")
    ingest(stepped)
    manifest = Manifest.read(live_snapshot(stepped.index_dir))
    assert 1 < len(manifest.segments) <= 3 and manifest.next_segment > len(manifest.segments) + 1  # merged on the way

    once = Settings(index_dir=tmp_path / "once")
    ingest(once)
    assert len(Manifest.read(live_snapshot(once.index_dir)).segments) == 1
    expected, got = rankings(once.index_dir, once, embedder), rankings(stepped.index_dir, stepped, embedder)
    assert any(expected)
    assert got == expected


def test_a_publish_shares_the_segments_it_did_not_change(tmp_path: Path, embedder):
    docs = make_corpus(tmp_path / "docs")
    settings = Settings(index_dir=tmp_path / "index", ingest=IngestSettings(keep_snapshots=3))
    Ingestor(settings, lambda: embedder, interactive=False).run(docs, settings.index_dir)
    first = live_snapshot(settings.index_dir)
    (docs / "notes" / "tea.txt").write_text("Oolong tea leaves are partly oxidised.\n")
    report = Ingestor(settings, lambda: embedder, interactive=False).run(docs, settings.index_dir)
    second = live_snapshot(settings.index_dir)
    assert report.updated == 1 and report.chunks_embedded == 1
    assert os.path.samefile(first / "seg-000001" / STORE_FILE, second / "seg-000001" / STORE_FILE)
    assert [s.name for s in Manifest.read(second).segments] == ["seg-000001", "seg-000002"]
    index = HybridIndex.open(settings.index_dir, settings, dim=embedder.dim)
    assert index.store.chunks_per_file()["notes/tea.txt"] == 1 and "Oolong" in index.store.file_text("notes/tea.txt")[0]
    assert len(index.dense) == len(index.sparse) == index.store.chunk_count() == sum(index.store.chunks_per_file().values())
    assert "Oolong" in index.store.chunks([int(index.sparse.search("oolong", 1)[0][0])]).popitem()[1].text
    assert len(index.sparse.search("Camellia sinensis", 5)[0]) == 0  # the old version is deleted
    index.close()


def manifest(*sizes: int) -> Manifest:
    spec = IndexSpec(3, "m", 8, 200, 40, "{}")
    return Manifest(spec, [SegmentInfo(f"seg-{i + 1:06d}", n, 1) for i, n in enumerate(sizes)])


def test_merge_policy_merges_the_smallest_and_the_mostly_deleted():
    policy = IngestSettings(max_segments=4, merge_factor=3, merge_deleted_share=0.2)
    assert plan_merge(manifest(1000, 10, 5), {}, policy) == []
    assert plan_merge(manifest(1000, 10, 5, 7, 1), {}, policy) == ["seg-000003", "seg-000004", "seg-000005"]
    assert plan_merge(manifest(1000, 10), {"seg-000001": 300}, policy) == ["seg-000001"]
    assert plan_merge(manifest(1000, 10), {"seg-000001": 100}, policy) == []
    assert plan_merge(manifest(*[10] * 5), {"seg-000001": 5}, policy) == ["seg-000001", "seg-000002", "seg-000003"]


def test_deleted_ids_are_never_searched(tmp_path: Path, embedder):
    docs = make_corpus(tmp_path / "docs")
    settings = Settings(index_dir=tmp_path / "index")
    Ingestor(settings, lambda: embedder, interactive=False).run(docs, settings.index_dir)
    (docs / "volcanoes.md").unlink()
    Ingestor(settings, lambda: embedder, interactive=False).run(docs, settings.index_dir)
    index = HybridIndex.open(settings.index_dir, settings, dim=embedder.dim)
    ids, _ = index.dense.search(embedder.encode_query("Mount Etna volcano in Sicily"), 100)
    paths = {r.path for r in index.store.chunks([int(i) for i in ids[0] if i >= 0]).values()}
    assert "volcanoes.md" not in paths and len(ids[0][ids[0] >= 0]) == index.store.chunk_count()
    assert not np.isin(index.store.deleted, index.sparse.live_ids()).any()
    index.close()


def test_segments_are_copied_where_hard_links_are_refused(tmp_path: Path, monkeypatch):
    """FAT and some network file systems have no hard links: the segment is copied instead."""
    import errno

    from rag.storage.segment_writer import link_segment

    source = tmp_path / "snap-000001" / "seg-000001"
    (source / "sparse").mkdir(parents=True)
    (source / "store.sqlite").write_bytes(b"store")
    (source / "sparse" / "ids.npy").write_bytes(b"ids")

    def refuse(*args):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", refuse)
    link_segment(source, tmp_path / "snap-000002" / "seg-000001")
    assert (tmp_path / "snap-000002" / "seg-000001" / "sparse" / "ids.npy").read_bytes() == b"ids"
