"""Where an index keeps the embedders tuned on its collection (`rag tune`), and which one embeds
its live snapshot. The snapshot's spec records the tuned weights' digest ("" for the model as
published), so a tuned model's vectors are never searched with the base model's queries, and a
long-running engine reloads its embedder when a snapshot with other weights goes live.

    INDEX/tuned/<digest>/model/      the tuned sentence-transformers folder
    INDEX/tuned/<digest>/README.md   its card: pairs, steps, held-out check, loss.png
    INDEX/tuned/run-<key>/           a tuning run in progress (checkpoints: resumed after a kill)

Tuned folders live outside the snapshots (they are large and shared by every snapshot embedded
with them); one that no kept snapshot names is removed after a publish."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from rag.storage.index import MANIFEST_FILE
from rag.storage.snapshots import SNAPSHOT_RE, live_snapshot
from rag.storage.store import IndexMismatchError

TUNED_DIR = "tuned"
MODEL_DIR = "model"  # the sentence-transformers folder inside a tuned folder (and a tuning run's output)


def tuned_folder(root: Path, digest: str) -> Path:
    return root / TUNED_DIR / digest


def weights_digest(model: Path) -> str:
    """sha256 (16 hex digits) over every file of a saved model, names included: the identity of
    its weights, whatever folder they sit in."""
    h = hashlib.sha256()
    for path in sorted(p for p in model.rglob("*") if p.is_file()):
        h.update(path.relative_to(model).as_posix().encode() + b"\0")
        with path.open("rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
    return h.hexdigest()[:16]


def snapshot_tuned(snapshot: Path) -> str:
    """The tuned digest a snapshot's manifest records ("" for the base model or no manifest)."""
    try:
        return json.loads((snapshot / MANIFEST_FILE).read_text())["spec"].get("tuned", "")
    except (OSError, ValueError, KeyError):
        return ""


def live_tuned(root: Path) -> str:
    """The tuned digest of the index's live snapshot ("" when it has none, or no snapshot yet)."""
    live = live_snapshot(root)
    return snapshot_tuned(live) if live else ""


def prune_tuned(root: Path) -> list[str]:
    """Remove tuned models no snapshot in `root` was embedded with; returns their digests.
    Runs (`run-*`) are left alone: a killed tuning resumes from them."""
    folder = root / TUNED_DIR
    if not folder.is_dir():
        return []
    used = {snapshot_tuned(p) for p in root.iterdir() if SNAPSHOT_RE.match(p.name)}
    removed = []
    for model in folder.iterdir():
        if not model.name.startswith("run-") and model.name not in used:
            shutil.rmtree(model, ignore_errors=True)
            removed.append(model.name)
    return removed


def tuned_model(root: Path, digest: str, base_model: str) -> Path:
    """The folder of the tuned model `digest` of the index at `root`; IndexMismatchError naming
    the way back to `base_model` when it is missing."""
    model = tuned_folder(root, digest) / MODEL_DIR
    if not model.is_dir():
        raise IndexMismatchError(
            f"index {root} was embedded by the tuned model {digest}, whose folder {model} is missing; "
            f"`rag tune --index {root} --undo` re-embeds it with {base_model}"
        )
    return model
