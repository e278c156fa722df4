"""Resuming a killed training run (the embedder's `rag tune`, the reader's `rag train-reader`):
the newest checkpoint transformers' Trainer wrote whole."""

from __future__ import annotations

import json
from pathlib import Path


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest whole checkpoint: one whose trainer_state.json (written last) is there and reads
    as JSON, so a kill in the middle of writing one falls back to the one before. The Trainer
    writes that file in place, so a kill between its open and its write leaves it empty (seen in
    CI: the resumed run failed on "Expecting value: line 1 column 1")."""
    whole = [p for p in folder.glob("checkpoint-*") if _state_is_whole(p / "trainer_state.json")] if folder.is_dir() else []
    return max(whole, key=lambda p: int(p.name.rsplit("-", 1)[1]), default=None)


def _state_is_whole(path: Path) -> bool:
    try:
        json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return True
