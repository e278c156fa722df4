"""The Milvus backend on Milvus Lite (embedded): a local snapshot copied into it answers the
retriever's reads alike: the same exact dense neighbours as FAISS, BM25 over the same stemmed
terms, the same chunk records; a file's chunks replaced or removed, filters by path and kind."""

from pathlib import Path

import numpy as np
import pytest
from conftest import ingested_corpus

from rag.config import MilvusSettings
from rag.search.retriever import Filters, HybridRetriever
from rag.storage.index import HybridIndex
from rag.storage.milvus import MilvusIndex, collection_name, connect, lite_file

QUERIES = ["Where is Mount Etna?", "how is black tea made", "river through ten countries", "Golden Gate Bridge", "MIME type glob patterns"]


@pytest.fixture(scope="module")
def pair(tmp_path_factory, embedder):
    """(local index, Milvus Lite index holding a copy of it, settings)."""
    root = tmp_path_factory.mktemp("milvus")
    files = {
        "otters.txt": "Otters hold hands while they sleep so they do not drift apart.",
        "versions.txt": "Debian 2.0 was called Hamm, after the pig.",
        "figures.txt": "Figure 2 shows the 0 point of the scale.",
    }
    settings = ingested_corpus(root, embedder, files)
    local = HybridIndex.open(settings.index_dir, settings, dim=embedder.dim)
    options = MilvusSettings(index_type="FLAT", index_params={}, search_params={})
    db = str(root / "milvus.db")
    milvus = MilvusIndex.open(connect(options, db), collection_name("test-index"), embedder.dim, options, settings.bm25, root, lite_file(options, db))
    assert milvus.copy_store(local.store, embedder.dim) == local.store.chunk_count() == milvus.store.chunk_count()
    yield local, milvus, settings
    milvus.close()
    local.close()


def test_names_and_files_match_the_local_store(pair):
    local, milvus, _ = pair
    assert collection_name("9 papers-v2") == "rag_9_papers_v2" and lite_file(MilvusSettings(uri="http://db:19530"), "x.db") is None
    assert milvus.store.files() == local.store.files()
    ids = [int(i) for i in local.store.chunk_ids_of(["volcanoes.md", "otters.txt"])]
    assert list(milvus.store.chunk_ids_of(["volcanoes.md", "otters.txt"])) == sorted(ids)
    assert milvus.store.chunks(ids) == local.store.chunks(ids)


def test_dense_search_finds_the_exact_neighbours(pair, embedder):
    local, milvus, _ = pair
    for query in QUERIES:
        vector = embedder.encode_query(query)
        (want_ids,), (want_scores,) = local.dense.search(vector, 5)
        (ids,), (scores,) = milvus.dense.search(vector, 5)
        assert list(ids) == list(want_ids) and np.allclose(scores, want_scores, atol=1e-5)


def test_bm25_ranks_like_the_local_index(pair):
    local, milvus, _ = pair
    for query in QUERIES:
        want, _ = local.sparse.search(query, 3)
        got, scores = milvus.sparse.search(query, 3)
        assert got[0] == want[0] and list(scores) == sorted(scores, reverse=True) and scores[0] > 0
    assert len(milvus.sparse.search("the and of", 3)[0]) == 0  # only stopwords: nothing to match


def test_the_retriever_reads_milvus_with_filters(pair, embedder):
    local, milvus, settings = pair
    top = HybridRetriever(milvus, embedder, settings.retrieval).retrieve("Where is Mount Etna?", top_k=3)
    assert top[0].path == "volcanoes.md" and top[0].text in local.store.file_text("volcanoes.md")[0]
    only_text = HybridRetriever(milvus, embedder, settings.retrieval).retrieve("Etna", top_k=3, filters=Filters(kinds=("text",)))
    assert only_text and {h.path for h in only_text} <= {"notes/tea.txt", "otters.txt", "versions.txt", "figures.txt"}


def test_term_statistics_match_the_local_index(pair):
    local, milvus, _ = pair
    terms = local.sparse.tokenizer("Etna volcano river tea leaves bridge unseenword")
    assert len(milvus.sparse) == len(local.sparse)
    assert np.allclose(milvus.sparse.idf(terms), local.sparse.idf(terms))
    texts = [local.store.chunks([int(i)])[int(i)].text for i in local.store.chunk_ids_of(["volcanoes.md"])]
    assert np.allclose(milvus.sparse.term_share("Where is Mount Etna?", texts), local.sparse.term_share("Where is Mount Etna?", texts))


def test_a_whole_number_is_one_term_in_milvus_too(pair):
    """Milvus's analyzer would split "2.0" into "2" and "0" (the figures file's words)."""
    local, milvus, _ = pair
    terms = local.sparse.tokenizer("Debian 2.0")
    assert "2.0" in terms and np.allclose(milvus.sparse.idf(terms), local.sparse.idf(terms))
    (want, *_), _ = local.sparse.search("Which release is 2.0?", 3)
    got, _ = milvus.sparse.search("Which release is 2.0?", 3)
    assert got[0] == want and local.store.chunks([int(want)])[int(want)].path == "versions.txt"


def test_a_file_is_replaced_or_removed_whole(pair, embedder):
    local, milvus, _ = pair
    record = local.store.files()["otters.txt"]
    [old] = local.store.chunks([int(i) for i in local.store.chunk_ids_of(["otters.txt"])]).values()
    count = milvus.store.chunk_count()
    new = [old.__class__(old.id, old.path, 0, "Sea otters wrap themselves in kelp.", 0, 35, None, None, False, None)]
    changed = record.__class__(record.id, record.path, 40, 2, "f" * 64, record.kind)
    milvus.replace_file(changed, new, embedder.encode([new[0].text]))
    milvus.replace_file(changed, new, embedder.encode([new[0].text]))  # again, as after a kill before the registry row: no duplicate
    assert milvus.store.chunk_count() == count and milvus.store.files()["otters.txt"].sha256 == "f" * 64
    assert (
        milvus.sparse.search("kelp", 3)[0][0] == old.id
        and milvus.store.headings() == local.store.headings()
        and len(milvus.sparse.search("hands sleep drift", 3)[0]) == 0
    )
    milvus.delete_files(["otters.txt"])
    assert milvus.store.chunk_count() == count - 1 and "otters.txt" not in milvus.store.files()
    with pytest.raises(ValueError, match="2 chunks but 1 vectors"):
        milvus.replace_file(changed, new * 2, embedder.encode(["x"]))
    with pytest.raises(ValueError, match="not empty"):
        milvus.copy_store(local.store, embedder.dim)


def test_a_lite_file_keeps_its_data_for_the_next_client(pair, embedder, tmp_path: Path):
    local, _, settings = pair
    options, db = MilvusSettings(index_type="FLAT", index_params={}, search_params={}), str(tmp_path / "again.db")
    first = MilvusIndex.open(connect(options, db), "again", embedder.dim, options, settings.bm25, tmp_path, lite_file(options, db))
    first.copy_store(local.store, embedder.dim)
    first.close()
    second = MilvusIndex.open(connect(options, db), "again", None, options, settings.bm25, tmp_path, lite_file(options, db))
    try:
        assert second.store.chunk_count() == local.store.chunk_count() and second.store.files() == local.store.files()
        assert second.spec == local.spec and second.store.chunks_per_file() == local.store.chunks_per_file()
    finally:
        second.close()


def test_a_missing_collection_is_a_clear_error(tmp_path: Path, pair):
    _, _, settings = pair
    options, db = MilvusSettings(), str(tmp_path / "none.db")
    with pytest.raises(FileNotFoundError, match="no Milvus collection nothing"):
        MilvusIndex.open(connect(options, db), "nothing", None, options, settings.bm25, tmp_path, lite_file(options, db))
