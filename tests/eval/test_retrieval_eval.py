"""The evaluation plumbing on tiny hand-made data with known answers, and `rag eval retrieval`
end to end on a tiny BEIR folder."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from beir_factory import write_beir

from eval.datasets import doc_file_name, load_beir
from eval.retrieval import doc_scores, score_run
from rag.search.hit import Hit

QRELS = {"q1": {"d1": 1}, "q2": {"d2": 1, "d3": 1}}


def test_a_perfect_run_scores_one():
    run = {"q1": {"d1": 3.0, "d9": 1.0}, "q2": {"d2": 3.0, "d3": 2.0, "d9": 1.0}}
    means, per_query = score_run(QRELS, run)
    assert means == pytest.approx({"ndcg@10": 1.0, "recall@10": 1.0, "recall@100": 1.0, "mrr@10": 1.0, "map": 1.0})
    assert per_query["ndcg@10"] == pytest.approx({"q1": 1.0, "q2": 1.0})


def test_a_reversed_run_scores_what_it_should():
    run = {"q1": {"d9": 3.0, "d1": 1.0}, "q2": {"d9": 3.0, "d3": 2.0, "d2": 1.0}}
    means, per_query = score_run(QRELS, run)
    q1 = 1 / math.log2(3)  # the one relevant document at rank 2
    q2 = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))  # ranks 2 and 3 of 3
    assert per_query["ndcg@10"] == pytest.approx({"q1": q1, "q2": q2})
    assert per_query["mrr@10"] == pytest.approx({"q1": 0.5, "q2": 0.5})
    assert means["mrr@10"] == pytest.approx(0.5)
    assert means["map"] == pytest.approx((0.5 + (1 / 2 + 2 / 3) / 2) / 2)
    assert means["recall@10"] == pytest.approx(1.0)


def test_an_empty_run_scores_zero():
    means, _ = score_run(QRELS, {"q1": {}, "q2": {}})
    assert means["ndcg@10"] == 0.0


def test_documents_score_their_best_chunk():
    def hit(cid: int, path: str, score: float) -> Hit:
        return Hit(cid, path, "", 0, 0, None, None, score)

    hits = [hit(1, "a.txt", 0.9), hit(2, "b.txt", 0.8), hit(3, "a.txt", 0.95)]
    assert doc_scores(hits, {"a.txt": "A", "b.txt": "B"}) == {"A": 0.95, "B": 0.8}


def test_file_names_are_safe_and_unique():
    assert doc_file_name("123") == "123.txt"
    assert doc_file_name("a/b") != doc_file_name("a_b") and "/" not in doc_file_name("a/b")


def test_load_beir_keeps_judged_queries_and_names_missing_files(tmp_path: Path):
    data = load_beir(write_beir(tmp_path / "tiny"), "test")
    assert sorted(data.queries) == ["q1", "q2", "q3"] and data.qrels["q2"] == {"d2": 1}
    with pytest.raises(FileNotFoundError, match="qrels/train.tsv"):
        load_beir(tmp_path / "tiny", "train")


@pytest.mark.slow
def test_rag_eval_retrieval_end_to_end(tmp_path: Path):
    dataset = write_beir(tmp_path / "tiny")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "app.cli", "eval", "retrieval", str(dataset), "--out", str(out), "--cache", str(tmp_path / "cache")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["default_stage"] == "hybrid" and set(report["stages"]) == {"bm25", "dense", "hybrid"}
    for stage in report["stages"].values():
        assert stage["ndcg@10"] == pytest.approx(1.0)  # each query names its document plainly
        assert stage["latency_ms"]["p50"] > 0
    assert "| hybrid (default) |" in result.stdout and (out / "report.md").is_file()
    assert (out / "metrics.png").stat().st_size > 1000 and (out / "per_query_ndcg.png").is_file()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)  # reuses the cached index
    assert again.returncode == 0 and "0 chunks embedded now" in again.stderr

    milvus = subprocess.run(cmd + ["--backend", "milvus", "--out", str(tmp_path / "milvus")], capture_output=True, text=True, timeout=600)
    assert milvus.returncode == 0, milvus.stderr
    assert "copying" in milvus.stderr and "0 chunks embedded now" in milvus.stderr  # the same chunks and vectors, copied
    report = json.loads((tmp_path / "milvus" / "report.json").read_text())
    assert report["config"]["backend"].startswith("milvus (Milvus Lite")
    assert all(stage["ndcg@10"] == pytest.approx(1.0) for stage in report["stages"].values())
