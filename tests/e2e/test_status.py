"""Per-file status: the board's stages, a stalled file and an interrupted ingest as `rag status`
reports them, and the real `rag status` watching a real ingest of scans go through its stages."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from office_factory import write_scan

from ingest.status import StatusBoard, describe, read_status


def test_the_board_and_what_status_makes_of_it(tmp_path: Path):
    board = StatusBoard(tmp_path, every_s=0)
    board.begin(tmp_path / "docs")
    board.scanned(["a.pdf", "b.md"], unchanged=4, removed=["gone.txt"], ignored=["draft.md"], failed={"huge.pdf": "too large"})
    board.file("a.pdf", "reading")
    board.state["files"]["a.pdf"]["since"] -= 500  # reading for 500 s
    board._write(force=True)
    status = read_status(tmp_path, file_timeout_s=120)
    assert status["running"] and "stalled" in status["files"]["a.pdf"] and "stalled" not in status["files"]["b.md"]
    assert status["counts"] == {"reading": 1, "queued": 1, "removed": 1, "skipped": 1, "failed": 1}
    lines = describe(status)
    assert lines[0].startswith("ingest running") and "4 unchanged" in lines[1]
    assert any("reading" in ln and "a.pdf" in ln and "STALLED" in ln for ln in lines)
    assert any("skipped" in ln and ".ragignore" in ln for ln in lines)


def test_an_ingest_whose_process_died_is_called_interrupted(tmp_path: Path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    board = StatusBoard(tmp_path)
    board.begin(tmp_path)
    board.state["pid"] = dead.pid
    board._write(force=True)
    status = read_status(tmp_path, 120)
    assert status["interrupted"] and not status["running"] and describe(status)[0].startswith("ingest interrupted")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tesseract") is None, reason="Tesseract is not installed (make setup installs it)")
def test_rag_status_follows_a_real_ingest(tmp_path: Path):
    docs, index = tmp_path / "docs", tmp_path / "idx"
    docs.mkdir()
    for i in range(4):  # OCR keeps each file busy for a second or more
        write_scan(docs / f"scan-{i}.pdf", [[f"Scanned page {i} of the harbour log.", "The tide turned at noon."]] * 2)
    (docs / "notes.md").write_text("# Notes\n\nThe harbour master keeps the log.\n", encoding="utf-8")
    ingest = subprocess.Popen([sys.executable, "-m", "app.cli", "ingest", str(docs), "--index", str(index)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen: set[str] = set()
    deadline = time.monotonic() + 300
    while ingest.poll() is None and time.monotonic() < deadline:
        result = subprocess.run([sys.executable, "-m", "app.cli", "status", "--index", str(index), "--json"], capture_output=True, text=True, timeout=60)
        ingest_status = json.loads(result.stdout)["ingest"] if result.returncode == 0 else None
        if ingest_status and ingest_status["running"]:
            assert ingest_status["pid"] == ingest.pid
            seen |= {entry["stage"] for entry in ingest_status["files"].values()}
    assert ingest.wait(timeout=300) == 0
    assert seen & {"reading", "chunking", "embedding"} and seen & {"queued", "done"}, seen  # caught mid-way
    final = subprocess.run([sys.executable, "-m", "app.cli", "status", "--index", str(index)], capture_output=True, text=True, timeout=60)
    assert final.returncode == 0 and "last ingest done" in final.stdout and "5 done" in final.stdout, final.stdout
    assert os.path.exists(index / "status.json")


def test_a_board_slow_to_write_is_written_less_often(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A write that took 10 ms is followed by 2 s without one, where `every_s` alone allows 0.5 s:
    writing stays a small share of the ingest. Stage changes are still written at once."""
    clock = [0.0]

    def monotonic() -> float:  # every reading of the clock finds it 10 ms later
        clock[0] += 0.01
        return clock[0]

    writes = []
    replace = os.replace
    monkeypatch.setattr("ingest.status.time.monotonic", monotonic)
    monkeypatch.setattr("ingest.status.os.replace", lambda a, b: (writes.append(clock[0]), replace(a, b)))
    board = StatusBoard(tmp_path, every_s=0.5)
    board.begin(tmp_path)
    board.scanned(["a.md"], unchanged=0, removed=[], ignored=[], failed={})
    for _ in range(1000):  # 10 s by the clock
        board.file("a.md", "reading")
    assert 4 <= len(writes) - 2 <= 6  # every 0.5 s would have been about 20
    assert all(b - a > 1.99 for a, b in zip(writes[1:], writes[2:]))
    board.stage("indexing")
    assert len(writes) - 2 <= 7 and read_status(tmp_path, 120)["stage"] == "indexing"
