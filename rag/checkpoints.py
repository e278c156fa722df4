"""Resuming a killed training run (the embedder's `rag tune`, the reader's `rag train-reader`):
the newest checkpoint transformers' Trainer wrote whole."""

from __future__ import annotations

from pathlib import Path


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest whole checkpoint: one whose trainer_state.json (written last) is there, so a
    kill in the middle of writing one falls back to the one before."""
    whole = [p for p in folder.glob("checkpoint-*") if (p / "trainer_state.json").is_file()] if folder.is_dir() else []
    return max(whole, key=lambda p: int(p.name.rsplit("-", 1)[1]), default=None)
