"""The real `rag ask` command over a small ingested folder: a cited answer, a declined
question, and the Answer object as JSON."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_ingest, make_corpus

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ask")
    docs = make_corpus(root / "docs")
    return cli_ingest(docs, root / "index")


def ask(index: Path, question: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "app.cli", "ask", question, "--index", str(index), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def test_ask_json_cites_the_file_holding_the_fact(index: Path):
    result = ask(index, "Where is Mount Etna?", "--generator", "extractive", "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert not answer["abstained"] and "Sicily" in answer["answer"]
    assert answer["citations"][0]["path"] == "volcanoes.md"
    assert {"n", "path", "page", "start", "end", "text", "sentences"} <= set(answer["citations"][0])
    assert answer["hits"] and {"dense", "sparse", "fused"} <= set(answer["hits"][0]["scores"])
    assert answer["timings"]["total"] > 0


def test_ask_prints_sources_and_declines_plainly(index: Path):
    cited = ask(index, "Which tea leaves are fully oxidised?", "--generator", "extractive")
    assert cited.returncode == 0 and "[1] notes/tea.txt" in cited.stdout
    declined = ask(index, "Who won the 1998 football world cup?", "--generator", "extractive")
    assert declined.returncode == 0 and "declined: not in your documents; searched for: Who won" in declined.stdout
    assert "closest: " in declined.stdout  # the passages that came nearest


def test_ask_without_an_index_is_a_usage_error(tmp_path: Path):
    result = ask(tmp_path / "none", "anything")
    assert result.returncode == 2 and "rag ingest" in result.stderr


def test_a_question_over_the_limit_is_a_usage_error_saying_so(index: Path):
    result = ask(index, "Which tea? " * 300, "--generator", "extractive")
    assert result.returncode == 2 and "the limit is 2,000 (retrieval.max_question_chars)" in result.stderr


@pytest.mark.parametrize(
    "question, index_kind, says",
    [
        ("", "index", "the question is empty"),
        ("   ", "index", "the question is empty"),
        ("x" * 2001, "index", "the limit is 2,000"),
        ("Where is Etna?", "missing", "no index at"),
        ("Where is Etna?", "file", "is a file; --index takes the index folder"),
    ],
)
def test_usage_errors_are_reported_before_any_model_loads(index: Path, tmp_path: Path, question: str, index_kind: str, says: str):
    target = {"index": index, "missing": tmp_path / "nowhere", "file": tmp_path / "a-file"}[index_kind]
    if index_kind == "file":
        target.write_text("not an index")
    script = (
        "import sys; from app.cli import main; rc = main(sys.argv[1:]); "
        "loaded = [m for m in ('torch', 'transformers', 'sentence_transformers', 'onnxruntime') if m in sys.modules]; "
        "print('loaded:', loaded); sys.exit(rc)"
    )
    result = subprocess.run([sys.executable, "-c", script, "ask", question, "--index", str(target)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and says in result.stderr, result.stderr
    assert "loaded: []" in result.stdout  # nothing heavy was imported, let alone loaded


def test_llama_cpp_log_lines_show_only_with_verbose(index: Path):
    """llama.cpp logs some lines at level NONE that llama-cpp-python printed to stderr even with
    verbose=False ("llama_kv_cache_iswa: using full-size SWA cache ..."): now only `-v` shows them."""
    question = ["ask", "Where is Mount Etna?", "--index", str(index)]
    env = {**os.environ, "RAG_GENERATION__ANSWER_STYLE": "short"}  # an LLM style: Gemma through llama.cpp
    quiet = subprocess.run([sys.executable, "-m", "app.cli", *question], capture_output=True, text=True, timeout=600, env=env)
    assert quiet.returncode == 0, quiet.stderr
    assert "llama" not in quiet.stderr.lower(), quiet.stderr
    loud = subprocess.run([sys.executable, "-m", "app.cli", "-v", *question], capture_output=True, text=True, timeout=600, env=env)
    assert loud.returncode == 0 and "llama_" in loud.stderr
