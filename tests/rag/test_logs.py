"""Structured logging: levels, stderr plus an optional file, JSON lines carrying the event,
path and reason of each skipped file; each fallback said once."""

import json
import logging
from pathlib import Path

from rag.config import LoggingSettings
from rag.logs import setup_logging


def test_json_lines_to_a_file_with_extra_fields(tmp_path: Path, capsys):
    log_file = tmp_path / "logs" / "rag.jsonl"
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    setup_logging(LoggingSettings(format="json", file=log_file))
    try:
        logging.getLogger("ingest").warning("skipped %s: %s", "a.pdf", "corrupt", extra={"event": "skipped", "path": "a.pdf", "reason": "corrupt"})
        logging.getLogger("ingest").debug("not shown at INFO")
        lines = [json.loads(line) for line in log_file.read_text().splitlines()]
        assert len(lines) == 1 and lines[0]["level"] == "WARNING" and lines[0]["logger"] == "ingest"
        assert (lines[0]["event"], lines[0]["path"], lines[0]["reason"]) == ("skipped", "a.pdf", "corrupt")
        assert lines[0]["message"] == "skipped a.pdf: corrupt"
        assert json.loads(capsys.readouterr().err.splitlines()[-1])["path"] == "a.pdf"  # stderr too
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


def test_cli_logs_each_skipped_file_and_the_reranker_fallback_once(tmp_path: Path, corpus: Path, embedder):
    import subprocess
    import sys

    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    log_file = tmp_path / "ingest.jsonl"
    cmd = [sys.executable, "-m", "app.cli", "--log-format", "json", "--log-file", str(log_file), "ingest", str(corpus), "--index", str(tmp_path / "index")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1  # one file failed, the rest went in
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    skipped = [r for r in records if r.get("event") == "skipped"]
    assert [r["path"] for r in skipped] == ["broken.pdf"] and "not a readable PDF" in skipped[0]["reason"]
    ask = [
        sys.executable,
        "-m",
        "app.cli",
        "--log-format",
        "json",
        "ask",
        "Where is Etna?",
        "--index",
        str(tmp_path / "index"),
        "--generator",
        "extractive",
        "--json",
    ]
    done = subprocess.run(ask, capture_output=True, text=True, timeout=600)
    fallbacks = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{") and '"fallback"' in line]
    assert sum("no reranker" in r["reason"] for r in fallbacks) == 1
