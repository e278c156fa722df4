"""The benchmark code on tiny inputs (CI runs no benchmark): the synthetic scale stage through
the product's HNSW path, the precision stage and the table on their own, and `rag bench` end to
end (its ingest and query stages on a tiny BEIR folder)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from beir_factory import write_beir

from bench import scale, scale_large
from bench.table import format_table
from rag.config import DenseSettings, Settings
from rag.storage.index import HybridIndex


def test_synthetic_queries_lie_near_their_chunk():
    vectors, texts, qv, qt, source = scale.synthetic(2000, 32, 10, seed=3)
    assert vectors.shape == (2000, 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert len(texts) == 2000 and all(len(t.split()) == scale.WORDS_PER_CHUNK for t in texts[:5])
    nearest = np.argmax(qv @ vectors.T, axis=1)
    assert np.mean(nearest == source) > 0.8  # each query is a noisy copy of its chunk
    assert all(set(q.split()) <= set(texts[i].split()) for q, i in zip(qt, source))


def test_scale_stage_on_a_small_collection_uses_hnsw_past_the_threshold(tmp_path: Path):
    settings = Settings(dense=DenseSettings(hnsw_threshold=1000))
    result = scale.run(3000, 30, tmp_path / "scale", settings, dim=64)
    assert result["flat"]["recall@10"] == 1.0 and result["dense"]["kind"] == "IndexHNSWFlat"
    assert result["dense"]["recall@10"] >= 0.95 and result["ivf"]["recall@10"] >= 0.95
    assert result["hybrid"]["p50_ms"] > 0 and result["hybrid"]["peak_rss_mb"] > 0
    assert result["bm25"]["n"] == 30


def test_the_exact_top_10_kept_block_by_block_is_the_exact_top_10():
    rng = np.random.default_rng(7)
    vectors, queries = scale.unit(rng.standard_normal((2500, 16))), scale.unit(rng.standard_normal((12, 16)))
    exact = scale_large.ExactTop10(queries)
    for at in range(0, 2500, 300):
        exact.add(vectors[at : at + 300], at)
    np.testing.assert_array_equal(exact.rows, np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :10])


def test_the_stage_past_memory_builds_one_compressed_segment_a_block_at_a_time(tmp_path: Path):
    """Blocks of 1,000 chunks, queries spread over all of them, the product's compressed kind."""
    settings = Settings(dense=DenseSettings(compress_from=2000, pq_m=16))
    result = scale_large.run(3000, 30, tmp_path / "large", settings, dim=64, block_size=1000)
    assert result["open"]["kind"] == "IndexRefine" and result["build"]["store_mb"] > 0
    assert result["dense"]["recall@10"] >= 0.9 and result["dense"]["nprobe"] == settings.dense.ivf_nprobe
    assert result["bm25"]["n"] == 30 and result["hybrid"]["p50_ms"] > 0
    again = scale_large.run(3000, 30, tmp_path / "large", settings, dim=64, block_size=1000, reuse=True)
    assert again["build"] == {"reused": "snap-000001"} and again["dense"]["recall@10"] == result["dense"]["recall@10"]
    with pytest.raises(ValueError, match="whole files"):
        scale_large.run(3000, 30, tmp_path / "odd", settings, dim=64, block_size=1050)


def test_the_table_shows_targets_and_failures():
    result = {
        "ingest": {"error": "exit 1: boom"},
        "query": {"stages": {"hybrid": {"p50_ms": 8.0, "p95_ms": 9.5}}, "hybrid_ndcg@10": 0.73},
        "peer": {
            "ingest_seconds": 300.0,
            "p50_ms": 80.0,
            "ndcg@10": 0.70,
            "query_speedup": 10.0,
            "ingest_speedup": 0.6,
            "ours": {"ingest_seconds": 500, "p50_ms": 8.0, "ndcg@10": 0.73},
        },
        "memory": {"query": 900.0},
    }
    table = format_table(result)
    assert "| ingest | failed: exit 1: boom |" in table
    assert "| query: hybrid p50 / p95 | 8.0 / 9.5 ms | < 10 ms |" in table
    assert "| query_speedup | 10.0 | >= 5 |" in table and "| peak RSS: query | 900.0 MB |" in table


def small_folder(folder: Path) -> Path:
    folder.mkdir()
    (folder / "lease.txt").write_text("The lease with Acme Corp runs until March 2031.\n")
    (folder / "enzyme.txt").write_text("The enzyme ZX-4 doubles the yield at 40 degrees.\n")
    return folder


@pytest.mark.slow
def test_rag_bench_smoke(tmp_path: Path):
    dataset = write_beir(tmp_path / "tiny")
    out = tmp_path / "bench"
    cmd = [
        sys.executable,
        "-m",
        "app.cli",
        "bench",
        "--out",
        str(out),
        "--dataset",
        str(dataset),
        "--scale-chunks",
        "2000",
        "--large-chunks",
        "3000",
        "--raw-sample",
        "3",
        "--load-clients",
        "4",
        "--load-seconds",
        "3",
        "--collections-docs",
        str(small_folder(tmp_path / "docs")),
    ]
    done = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=900,
        env={**__import__("os").environ, "RAG_GENERATION__BACKEND": "extractive", "RAG_DENSE__COMPRESS_FROM": "2500"},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads((out / "bench.json").read_text())
    ingested, queried = result["ingest"], result["query"]
    assert ingested["chunks"] == 5 and ingested["raw_encode_chunks"] == 3 and ingested["throughput_ratio"] > 0 and ingested["reingest_chunks_embedded"] == 0
    assert set(queried["stages"]) == {"bm25", "dense", "hybrid"} and queried["hybrid_ndcg@10"] == pytest.approx(1.0)
    assert "embed_query" in queried["stages"]["hybrid"]["parts_p50_ms"] and "skipped" in result["generate"]
    assert queried["answer"]["style"] == "reader" and queried["answer"]["n"] > 0 and queried["answer"]["p50_ms"] > 0  # the default answer, timed whole
    found = result["precision"]["variants"]  # the same documents built three ways
    assert [(v["backend"], v["precision"]) for v in found.values()] == [("torch", "fp32"), ("onnx", "fp32"), ("onnx", "int8")]
    assert {v["chunks"] for v in found.values()} == {5} and all(v["hybrid_ndcg@10"] == pytest.approx(1.0) for v in found.values())
    assert result["precision"]["int8_ndcg_minus_fp32"] == 0 and result["precision"]["int8_over_torch_fp32_pipeline"] > 0
    assert all(v["query_embedding"]["p50_ms"] > 0 and v["hybrid"]["p95_ms"] > 0 for v in found.values())
    assert HybridIndex.open(out / "work" / "precision" / "index-onnx-int8", Settings(), dim=384).spec.precision == "int8"
    assert "| precision: int8 pipeline over PyTorch fp32 |" in done.stdout
    assert result["scale"]["2k"]["flat"]["recall@10"] == 1.0
    segments = result["segments"]["2k"]
    assert segments["updates"]["add one file"]["chunks_embedded"] > 0 and segments["updates"]["delete one file"]["chunks_embedded"] == 0
    assert segments["ten_segments"]["ten"]["segments"] == 10 and segments["ten_segments"]["merged"]["segments"] == 1
    assert segments["scifact"]["at once"]["ndcg@10"] == segments["scifact"]["10 increments"]["ndcg@10"] == pytest.approx(1.0)
    assert "| segments 2k: add one file (rag ingest) |" in done.stdout
    assert result["scale_large"]["3k"]["open"]["kind"] == "IndexRefine" and "| scale 3k: IndexRefine (product) |" in done.stdout
    assert "| query: hybrid p50 / p95 |" in done.stdout and "peak RSS: ingest" in done.stdout
    for route in ("retrieve", "ask_extractive"):  # 4 clients on a real `rag api` for 3 s each
        assert result["load"][route]["requests"] > 0 and result["load"][route]["errors"] == 0
    assert "| load: retrieve, 4 clients" in done.stdout
    collections = result["load_collections"]  # three collections of one server, loaded on first use, 4 clients across them
    assert set(collections["collections"]) == {"copy-1", "copy-2", "copy-3"}
    assert all(c["loaded"] and c["resident_mb"] is not None for c in collections["collections"].values())
    for route in ("retrieve", "ask_extractive"):
        assert collections[route]["requests"] > 0 and collections[route]["errors"] == 0
    assert "| load, 3 collections: retrieve, 4 clients across them |" in done.stdout and "| load, 3 collections: copy-2 loaded on first use |" in done.stdout


@pytest.mark.slow
def test_rag_bench_distributed(tmp_path: Path, embedder):
    """Ray vs plain ingest, Milvus Lite vs local queries (on the index the ingest stage leaves)
    and Milvus Lite at a small size, through `rag bench --distributed`."""
    from eval.datasets import write_corpus
    from ingest.pipeline import Ingestor

    dataset = write_beir(tmp_path / "tiny")
    out = tmp_path / "bench"
    write_corpus(dataset / "corpus.jsonl", out / "work" / "tiny" / "docs")
    Ingestor(Settings(), lambda: embedder, interactive=False).run(out / "work" / "tiny" / "docs", out / "work" / "tiny" / "index")
    cmd = [
        sys.executable,
        "-m",
        "app.cli",
        "bench",
        "--distributed",
        "--out",
        str(out),
        "--dataset",
        str(dataset),
        "--distributed-docs",
        "5",
        "--milvus-sizes",
        "500",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    result = json.loads((out / "distributed-bench.json").read_text())["distributed"]
    ingest_figures = result["ingest"]
    assert ingest_figures["plain"]["chunks"] == ingest_figures["ray"]["chunks"] == ingest_figures["milvus_lite"]["chunks"] == 5
    assert ingest_figures["ray_vs_plain"] > 0
    assert result["query"]["local"]["hybrid"]["n"] == result["query"]["milvus_lite"]["hybrid"]["n"] == result["query"]["queries"]
    [size] = json.loads((out / "milvus-scale.json").read_text())["sizes"]
    assert size["chunks"] == 500 and size["dense_recall@10"] >= 0.95 and size["hybrid"]["p50_ms"] > 0
