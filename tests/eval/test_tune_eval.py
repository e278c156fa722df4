"""`rag eval retrieval DATASET --tune` end to end on a synthetic BEIR folder with a tiny random
embedder: it tunes on the corpus alone, evaluates again with the tuned model and prints the paired
comparison; with a learning rate of 0 the tuned model cannot win and is not kept."""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_models import ANIMALS, PLACES, tiny_embedder

from eval.datasets import load_beir
from eval.tune import tune_on_corpus
from rag.config import Settings


def synthetic_beir(folder: Path, n: int = 60) -> Path:
    rng = random.Random(1)
    folder.mkdir(parents=True)
    with open(folder / "corpus.jsonl", "w") as fh:
        for i in range(n):
            animal, place = ANIMALS[i % len(ANIMALS)], PLACES[(i * 7) % len(PLACES)]
            text = " ".join(f"The {animal} near {place} was counted {rng.randint(3, 900)} times in survey {i}." for _ in range(4))
            fh.write(json.dumps({"_id": f"d{i}", "title": f"Survey {i} of the {animal} in {place}", "text": text}) + "\n")
    queries = {f"q{i}": f"how many {ANIMALS[i % len(ANIMALS)]} in {PLACES[(i * 7) % len(PLACES)]} survey {i}" for i in range(0, n, 6)}
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in queries.items()))
    (folder / "qrels").mkdir()
    rows = "".join(f"{q}\td{q[1:]}\t1\n" for q in queries)
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows)
    return folder


@pytest.mark.slow
def test_eval_retrieval_tune_measures_before_and_after(tmp_path: Path, monkeypatch):
    dataset = synthetic_beir(tmp_path / "zoo")
    model = tiny_embedder(tmp_path / "tiny")
    env = {
        **os.environ,
        "RAG_EMBEDDING__MODEL": str(model),
        "RAG_EMBEDDING__QUERY_BACKEND": "torch",
        "RAG_CHUNKING__CHUNK_TOKENS": "60",
        "RAG_CHUNKING__OVERLAP_TOKENS": "10",
        "RAG_TUNE__BATCH_SIZE": "8",
        "RAG_TUNE__EPOCHS": "3",
        "RAG_TUNE__LEARNING_RATE": "0.005",
        "RAG_TUNE__HOLDOUT": "0.2",
        "RAG_TUNE__PAIR_KINDS": '["title", "sentence", "crop"]',
    }
    cmd = [sys.executable, "-m", "app.cli", "eval", "retrieval", str(dataset), "--tune", "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "run")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stderr
    assert "tuned on " in result.stdout and "title" in result.stdout and "hybrid: base (A) against tuned (B)" in result.stdout
    before = json.loads((tmp_path / "run" / "report.json").read_text())
    after = json.loads((tmp_path / "run" / "tuned" / "report.json").read_text())
    assert after["config"]["embedding"].endswith("/model") and after["config"]["tuned"]["steps"] > 0
    assert set(after["stages"]) == set(before["stages"])
    [card] = (tmp_path / "cache").glob("tuned-*/README.md")
    assert "no query or label used" in card.read_text() and (card.parent / "loss.png").is_file()

    # With a learning rate of 0 the tuned model cannot win: not kept, no settings to compare with
    # (in-process, on the index and cache the run above left).
    for key, value in {**env, "RAG_TUNE__LEARNING_RATE": "0", "RAG_TUNE__EPOCHS": "1"}.items():
        if key.startswith("RAG_"):
            monkeypatch.setenv(key, value)
    tuned, result = tune_on_corpus(load_beir(dataset, "test"), Settings.load(), tmp_path / "cache")
    assert tuned is None and not result.kept and result.steps > 0
