"""The real `rag ingest` command: JSON output, the human summary and exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def rag(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, timeout=600)


def test_ingest_json_then_an_unchanged_rerun(corpus: Path, tmp_path: Path):
    index = tmp_path / "idx"
    first = rag("ingest", str(corpus), "--index", str(index), "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert set(report) >= {"added", "updated", "removed", "unchanged", "chunks_embedded", "failed", "seconds"}
    assert report["added"] == 5 and report["chunks_embedded"] > 5 and report["failed"] == []
    again = rag("ingest", str(corpus), "--index", str(index))
    assert again.returncode == 0, again.stderr
    assert "chunks_embedded: 0" in again.stdout and "unchanged: 5" in again.stdout


def test_partial_failure_exits_1_and_names_the_file(corpus: Path, tmp_path: Path):
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 nothing else")
    result = rag("ingest", str(corpus), "--index", str(tmp_path / "idx"), "--json")
    assert result.returncode == 1
    failed = json.loads(result.stdout)["failed"]
    assert [f["path"] for f in failed] == ["broken.pdf"] and "PDF" in failed[0]["reason"]
    assert "skipped broken.pdf" in result.stderr


def test_usage_errors_exit_2(tmp_path: Path):
    missing = rag("ingest", str(tmp_path / "nope"), "--index", str(tmp_path / "idx"))
    assert missing.returncode == 2 and "source folder not found" in missing.stderr
    assert rag("ingest").returncode == 2  # argparse: SOURCE is required
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text("[chunking]\nsize = 1\n")
    result = rag("--config", str(bad_config), "ingest", str(tmp_path), "--index", str(tmp_path / "idx"))
    assert result.returncode == 2 and "size" in result.stderr
