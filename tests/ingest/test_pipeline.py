"""The ingest pipeline on real folders with the real bundled model: incremental updates,
bad input in a batch, settings mismatches, and the index it publishes."""

import dataclasses
import os
import random
from pathlib import Path

import numpy as np
import pytest

import ingest.pipeline as pipeline
from ingest.pipeline import Ingestor, UsageError
from ingest.read_ahead import GROUP_BYTES, GROUP_FILES, groups
from ingest.scan import SourceFile, ignore_patterns, is_ignored, leave_out
from ingest.status import read_status
from rag.config import Settings
from rag.search.embedding import Embedder
from rag.storage.index import HybridIndex
from rag.storage.merge import merge_segments
from rag.storage.segments import SPARSE_DIR, Manifest
from rag.storage.snapshots import live_snapshot
from rag.storage.sparse import SparseSegment
from rag.storage.store import IndexMismatchError


def ingest(settings: Settings, embedder, source: Path, **kw):
    return Ingestor(settings, lambda: embedder, interactive=False).run(source, settings.index_dir, **kw)


def open_index(settings: Settings, embedder) -> HybridIndex:
    return HybridIndex.open(settings.index_dir, settings, dim=embedder.dim)


def test_first_ingest_indexes_every_format(settings, embedder, corpus):
    report = ingest(settings, embedder, corpus)
    assert (report.added, report.failed, report.exit_code) == (5, {}, 0)
    index = open_index(settings, embedder)
    files = index.store.files()
    assert set(files) == {"volcanoes.md", "notes/tea.txt", "rivers.html", "bridges.docx", "mime-spec.pdf"}
    assert {f.kind for f in files.values()} == {"markdown", "text", "html", "docx", "pdf"}
    n = index.store.chunk_count()
    assert report.chunks_embedded == n == len(index.dense) == len(index.sparse)


def test_chunks_keep_file_page_span_and_heading(settings, embedder, corpus):
    ingest(settings, embedder, corpus)
    index = open_index(settings, embedder)
    ids, _ = index.sparse.search("Danube delta Romania", k=1)
    chunk = index.store.chunks(list(ids))[int(ids[0])]
    text, _ = index.store.file_text(chunk.path)
    assert chunk.path == "rivers.html" and text[chunk.start : chunk.end] == chunk.text
    assert chunk.heading in {"Rivers", "Deltas"}
    pdf_chunks = index.store.chunks([int(i) for i in index.sparse.search("MIME type glob pattern", k=5)[0]])
    assert any(c.path == "mime-spec.pdf" and c.page and c.page >= 1 for c in pdf_chunks.values())


def test_dense_and_sparse_find_the_right_file(settings, embedder, corpus):
    ingest(settings, embedder, corpus)
    index = open_index(settings, embedder)
    query = "Which bridge crosses the strait at San Francisco?"
    dense_ids, _ = index.dense.search(embedder.encode([query]), k=1)
    sparse_ids, _ = index.sparse.search(query, k=1)
    found = index.store.chunks([int(dense_ids[0, 0]), int(sparse_ids[0])])
    assert {c.path for c in found.values()} == {"bridges.docx"}
    assert "scriptword" not in " ".join(c.text for c in index.store.chunks(list(range(1, 200))).values())


def test_reingest_of_an_unchanged_folder_embeds_nothing(settings, embedder, corpus):
    first = ingest(settings, embedder, corpus)
    calls = []
    loader = lambda: calls.append(1) or embedder  # noqa: E731
    again = Ingestor(settings, loader, interactive=False).run(corpus, settings.index_dir)
    assert (again.chunks_embedded, again.unchanged, again.added, again.snapshot) == (0, 5, 0, first.snapshot)
    assert calls == []  # the model was never even loaded
    os.utime(corpus / "notes" / "tea.txt")  # touched, same content: hashed, not embedded
    touched = Ingestor(settings, loader, interactive=False).run(corpus, settings.index_dir)
    assert (touched.chunks_embedded, touched.unchanged, touched.updated) == (0, 5, 0)


def test_changed_file_is_replaced_and_deleted_file_leaves(settings, embedder, corpus):
    ingest(settings, embedder, corpus)
    before = open_index(settings, embedder).store.chunk_count()
    (corpus / "notes" / "tea.txt").write_text("Oolong tea is partially oxidised.\n")
    (corpus / "volcanoes.md").unlink()
    (corpus / "new.md").write_text("# Glaciers\n\nGlaciers carve U-shaped valleys.\n")
    report = ingest(settings, embedder, corpus)
    assert (report.added, report.updated, report.removed, report.unchanged) == (1, 1, 1, 3)
    assert report.chunks_embedded == 2
    index = open_index(settings, embedder)
    assert "volcanoes.md" not in index.store.files()
    assert len(index.sparse.search("Etna", k=5)[0]) == 0
    ids, _ = index.sparse.search("oolong", k=5)
    assert [c.path for c in index.store.chunks(list(ids)).values()] == ["notes/tea.txt"]
    assert index.store.chunk_count() == len(index.dense) == len(index.sparse) == before  # -1 file, +1 file of one chunk each


def test_bad_files_are_reported_and_the_rest_goes_in(settings, embedder, corpus, monkeypatch):
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "corrupt.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    (corpus / "random.txt").write_bytes(random.Random(0).randbytes(2048))
    (corpus / "latin1.txt").write_bytes("Crème brûlée is a French dessert with a caramelised top.".encode("cp1252"))
    (corpus / "big.md").write_text("word " * 300_000)
    (corpus / "locked.txt").write_text("secret")
    (corpus / "vanishing.md").write_text("# gone soon\n")
    os.symlink("/etc/hostname", corpus / "outside.txt")
    os.symlink(corpus / "no-such-file.txt", corpus / "broken.txt")
    settings.ingest.max_file_mb = 1.0
    settings.ingest.read_workers = 0  # the injected failures are monkeypatched: they do not reach a spawned reading process

    real_scan, real_read = pipeline.scan_folder, Path.read_bytes

    def scan_then_vanish(*args, **kwargs):  # the file is deleted between the scan and its read
        result = real_scan(*args, **kwargs)
        (corpus / "vanishing.md").unlink()
        return result

    def read_bytes(self):  # root can read anything, so a permission failure is injected
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self)

    monkeypatch.setattr(pipeline, "scan_folder", scan_then_vanish)
    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    report = ingest(settings, embedder, corpus)
    reasons = report.failed
    assert reasons["empty.txt"] == "empty file"
    assert reasons["corrupt.pdf"].startswith("not a readable PDF")
    assert reasons["random.txt"].startswith("binary content")
    assert reasons["big.md"].startswith("too large")
    assert reasons["locked.txt"] == "permission denied"
    assert reasons["vanishing.md"] == "vanished during the run"
    assert "outside the source folder" in reasons["outside.txt"]
    assert reasons["broken.txt"] == "broken symbolic link"
    assert len(reasons) == 8
    assert (report.added, report.exit_code) == (6, 1)
    index = open_index(settings, embedder)
    assert "Crème brûlée" in index.store.file_text("latin1.txt")[0]
    assert index.store.failures() == reasons


def test_a_file_that_breaks_keeps_its_previous_version(settings, embedder, corpus):
    ingest(settings, embedder, corpus)
    (corpus / "notes" / "tea.txt").write_bytes(b"\x00\x01\x02" * 100)
    report = ingest(settings, embedder, corpus)
    assert report.failed["notes/tea.txt"].startswith("binary content")
    index = open_index(settings, embedder)
    assert "Camellia sinensis" in index.store.file_text("notes/tea.txt")[0]


def test_nothing_ingestible_is_a_usage_error(settings, embedder, tmp_path):
    (tmp_path / "empty_src").mkdir()
    with pytest.raises(UsageError, match="no supported documents"):
        ingest(settings, embedder, tmp_path / "empty_src")
    with pytest.raises(UsageError, match="not found"):
        ingest(settings, embedder, tmp_path / "missing")
    (tmp_path / "bad_src").mkdir()
    (tmp_path / "bad_src" / "a.txt").write_bytes(b"")
    assert ingest(settings, embedder, tmp_path / "bad_src").exit_code == 2


def test_other_settings_are_a_clear_error_until_rebuilt(settings, embedder, corpus):
    ingest(settings, embedder, corpus)
    other = settings.model_copy(deep=True)
    other.chunking.chunk_tokens = 100
    with pytest.raises(IndexMismatchError, match="chunk_tokens.*--rebuild"):
        HybridIndex.open(settings.index_dir, other, dim=embedder.dim)
    with pytest.raises(IndexMismatchError, match="chunk_tokens"):
        ingest(other, embedder, corpus)
    with pytest.raises(IndexMismatchError, match="dim"):
        HybridIndex.open(settings.index_dir, settings, dim=768)
    report = ingest(other, embedder, corpus, rebuild=True)
    assert report.added == 5
    assert HybridIndex.open(settings.index_dir, other, dim=embedder.dim).spec.chunk_tokens == 100


def test_an_index_made_without_whole_numbers_is_read_and_extended_so_until_rebuilt(settings, embedder, corpus):
    """Indexes written before bm25.whole_numbers record none: opened and ingested into with it
    on, they keep making terms as they were made, neither refused nor mixed; --rebuild turns it on."""
    before = settings.model_copy(update={"bm25": settings.bm25.model_copy(update={"whole_numbers": False})})
    (corpus / "notes" / "versions.txt").write_text("Release 2.0 was called Hamm.\n")
    ingest(before, embedder, corpus)
    assert "whole_numbers" not in open_index(before, embedder).spec.bm25  # as an index written before the setting
    index = open_index(settings, embedder)
    assert settings.bm25.whole_numbers and not index.sparse.settings.whole_numbers and "2.0" not in index.sparse.tokenizer("release 2.0")
    (corpus / "notes" / "later.txt").write_text("Release 2.1 was called Slink.\n")
    assert ingest(settings, embedder, corpus).added == 1
    assert "whole_numbers" not in open_index(settings, embedder).spec.bm25
    live = live_snapshot(settings.index_dir)  # segments whose BM25 terms are made again (as `rag doctor` does) are made the old way
    merged = merge_segments(settings.index_dir, live, Manifest.read(live).segment_names(), settings, reuse_sparse=False)
    terms = {t for s in Manifest.read(merged).segments for t in SparseSegment.load(merged / s.name / SPARSE_DIR).terms}
    assert "hamm" in terms and "2.0" not in terms
    ingest(settings, embedder, corpus, rebuild=True)
    index = open_index(settings, embedder)
    assert '"whole_numbers": true' in index.spec.bm25 and index.sparse.tokenizer("release 2.0") == ["releas", "2.0"]
    ids, _ = index.sparse.search("release 2.0", 1)
    assert index.store.chunks([int(ids[0])])[int(ids[0])].path == "notes/versions.txt"


def test_the_index_records_the_precision_that_embedded_it(settings, embedder, corpus):
    """Queries at either precision search either index; new chunks are embedded as the old ones
    were until --rebuild applies the settings' precision."""
    assert embedder.precision == settings.embedding.precision == "int8"
    ingest(settings, embedder, corpus)
    assert open_index(settings, embedder).spec.precision == "int8"
    other = settings.model_copy(deep=True)
    other.embedding.precision = "fp32"
    fp32 = Embedder.load(other.embedding)
    index = HybridIndex.open(other.index_dir, other, dim=fp32.dim)  # no mismatch error
    ids, _ = index.dense.search(fp32.encode(["Which bridge crosses the strait at San Francisco?"]), k=1)
    assert index.store.chunks([int(ids[0, 0])])[int(ids[0, 0])].path == "bridges.docx"
    (corpus / "notes" / "coffee.txt").write_text("Coffee is roasted, ground and brewed with hot water.\n")
    ingestor = Ingestor(other, lambda: fp32, interactive=False)
    assert ingestor.run(corpus, other.index_dir).added == 1
    assert ingestor.embedder().precision == "int8" and open_index(other, fp32).spec.precision == "int8"
    report = Ingestor(other, lambda: fp32, interactive=False).run(corpus, other.index_dir, rebuild=True)
    assert report.added == 6 and open_index(other, fp32).spec.precision == "fp32"


def test_chunk_size_over_the_model_window_is_refused(settings, embedder, corpus):
    settings.chunking.chunk_tokens = 400
    with pytest.raises(UsageError, match="overflows the 256-token window"):
        ingest(settings, embedder, corpus)


def test_embeddings_are_unit_vectors_in_the_store(settings, embedder, corpus):
    ingest(settings, embedder, corpus)
    ids, vectors = open_index(settings, embedder).store.embeddings(embedder.dim)
    assert vectors.shape == (len(ids), 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_ragignore_patterns_leave_files_out(settings, embedder, corpus):
    (corpus / ".ragignore").write_text("# not documents\nnotes/*\n*.pdf\n")
    report = ingest(settings, embedder, corpus)
    assert report.added == 3
    assert set(open_index(settings, embedder).store.files()) == {"volcanoes.md", "rivers.html", "bridges.docx"}


def test_leave_out_names_exactly_one_file(tmp_path: Path):
    (tmp_path / ".ragignore").write_text("*.pdf")  # no newline at its end
    leave_out(tmp_path, "readme [draft]*.md")
    leave_out(tmp_path, "readme [draft]*.md")  # twice: one line
    patterns = ignore_patterns(tmp_path)
    assert patterns == ["*.pdf", "/readme [[]draft][*].md"]
    assert is_ignored("readme [draft]*.md", patterns)
    assert not is_ignored("sub/readme [draft]*.md", patterns)  # anchored at the folder's root
    assert not is_ignored("readme d*.md", patterns) and not is_ignored("readme [draft]x.md", patterns)


def test_reading_beside_embedding_gives_the_same_index(settings, embedder, corpus, tmp_path):
    """A folder large enough for the reading process: the same files, chunks, spans and failures
    as reading in the ingest's own process, and every file's status ends done or failed."""
    for i in range(pipeline.READ_AHEAD_FROM + 4):
        (corpus / f"extra-{i:02d}.txt").write_text(" ".join(f"Note {i} line {j} measures sample {i * j}." for j in range(60)))
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    chunks = {}
    for workers in (1, 0):
        other = settings.model_copy(deep=True)
        other.ingest.read_workers = workers
        other.index_dir = tmp_path / f"index-{workers}"
        report = ingest(other, embedder, corpus)
        assert report.added == 5 + pipeline.READ_AHEAD_FROM + 4 and set(report.failed) == {"broken.pdf"}
        assert 0 < report.read_seconds and 0 < report.embed_seconds < report.seconds  # both stages timed
        index = open_index(other, embedder)
        stored = index.store.chunks(list(range(1, index.store.chunk_count() + 1)))
        chunks[workers] = sorted((c.path, c.ord, c.start, c.end, c.page, c.text) for c in stored.values())
        states = {path: entry["stage"] for path, entry in read_status(other.index_dir, 120)["files"].items()}
        assert set(states.values()) == {"done", "failed"} and states["broken.pdf"] == "failed"
    assert chunks[1] == chunks[0]


def test_small_files_go_to_the_reading_process_in_groups(tmp_path: Path):
    """In order, at most GROUP_FILES and GROUP_BYTES a group, a file larger than that alone."""
    sizes = [10] * (GROUP_FILES + 3) + [GROUP_BYTES + 1] + [GROUP_BYTES // 2] * 3
    files = [SourceFile(tmp_path / f"{i:02d}.txt", f"{i:02d}.txt", size, 0) for i, size in enumerate(sizes)]
    cut = list(groups(files))
    assert [f for g in cut for f in g] == files
    assert [len(g) for g in cut] == [GROUP_FILES, 3, 1, 2, 1]
    assert all(len(g) == 1 or sum(f.size for f in g) <= GROUP_BYTES for g in cut)


def test_an_embedding_that_fails_behind_the_reading_fails_the_ingest_and_keeps_the_index(settings, embedder, corpus, monkeypatch):
    """Embedding runs on its own thread while the next files are read and the last batch stored:
    its error still ends the ingest, and the live snapshot stays the one before."""
    first = ingest(settings, embedder, corpus)
    for i in range(pipeline.READ_AHEAD_FROM + 4):
        (corpus / f"extra-{i:02d}.txt").write_text(" ".join(f"Note {i} line {j} measures sample {i * j}." for j in range(60)))
    monkeypatch.setattr(pipeline, "FLUSH_BESIDE", 8)  # several batches
    calls = []

    def encode(texts):
        calls.append(len(texts))
        if len(calls) == 2:
            raise MemoryError("the embedder ran out of memory")
        return embedder.encode(texts)

    failing = dataclasses.replace(embedder)
    monkeypatch.setattr(failing, "encode", encode)
    with pytest.raises(MemoryError, match="ran out of memory"):
        ingest(settings, failing, corpus)
    assert live_snapshot(settings.index_dir).name == first.snapshot
    assert len(open_index(settings, embedder).store.files()) == 5
