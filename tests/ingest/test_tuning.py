"""`rag tune --index` end to end with a tiny random embedder: pairs from the ingested folder, the
tuned copy kept and the collection re-embedded into a snapshot that records its weights; engines
and later ingests use the tuned copy; `--undo` restores the base model; a run killed mid-training
resumes from its checkpoint."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tiny_models import ANIMALS, PLACES, tiny_embedder

from ingest.pipeline import Ingestor
from ingest.tuning import run_folder, tune_index, undo_tuning
from rag.answering.engine import Engine
from rag.config import Settings
from rag.search.embedding import Embedder
from rag.storage.doctor import diagnose, repair
from rag.storage.index import HybridIndex
from rag.storage.segments import open_store
from rag.storage.snapshots import live_snapshot
from rag.storage.store import IndexMismatchError
from rag.storage.tuned import TUNED_DIR, live_tuned

pytestmark = pytest.mark.slow
TUNE = {
    "epochs": 3,
    "batch_size": 8,
    "learning_rate": 5e-3,
    "holdout": 0.2,
    "save_steps": 10,
    "max_seq_length": 48,
    "pair_kinds": ["title", "sentence", "crop"],
}


def write_folder(folder: Path, n: int = 40) -> Path:
    """n short reports, one per file: a title line, then a few sentences about one animal and place."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        animal, place = ANIMALS[i % len(ANIMALS)], PLACES[(i * 7) % len(PLACES)]
        body = " ".join(f"The {animal} near {place} was counted {(i * 37 + k * 11) % 900} times in survey {i}." for k in range(3))
        (folder / f"survey{i:02d}.txt").write_text(f"Survey {i} of the {animal} in {place}\n\n{body} Rangers in {place} protect every {animal}.\n")
    return folder


def tiny_settings(root: Path, **tune) -> Settings:
    base = tiny_embedder(root / "model")
    return Settings(
        index_dir=root / "index",
        embedding={"model": str(base), "backend": "torch"},
        chunking={"chunk_tokens": 48, "overlap_tokens": 8},
        ingest={"keep_snapshots": 1},
        tune=TUNE | tune,
    )


def stored_vectors(root: Path) -> tuple[np.ndarray, list[str]]:
    store = open_store(live_snapshot(root))
    try:
        ids, vectors = store.embeddings(store.read_spec().dim)
        texts = [t for _, t in store.iter_chunk_texts()]
    finally:
        store.close()
    return vectors, texts


def test_tune_reembeds_with_the_tuned_copy_and_undo_restores_the_base(tmp_path: Path):
    settings = tiny_settings(tmp_path)
    root, docs = settings.index_dir, write_folder(tmp_path / "docs")
    base = Embedder.load(settings.embedding)
    Ingestor(settings, lambda: base, interactive=False).run(docs, root)
    before, _ = stored_vectors(root)
    engine = Engine.from_settings(settings, root, load_llm=False)  # serving while the index is tuned

    steps, embedded = [], []
    report = tune_index(root, settings, on_step=lambda d, t: steps.append(d), on_embed=lambda d, t: embedded.append((d, t)))
    assert report.result.kept and report.result.tuned_score > report.result.base_score and steps[-1] == report.result.steps
    assert report.tuned == live_tuned(root) and len(report.tuned) == 16 and embedded[-1] == (report.chunks, report.chunks)
    folder = root / TUNED_DIR / report.tuned
    assert (folder / "model" / "modules.json").is_file() and (folder / "README.md").is_file() and (folder / "loss.png").is_file()
    assert report.card == folder / "README.md" and "kept" in report.card.read_text()
    assert not list((root / TUNED_DIR).glob("run-*"))  # the run became the tuned folder

    after, texts = stored_vectors(root)
    tuned = Embedder.load(settings.embedding.model_copy(update={"model": str(folder / "model")}), report.tuned)
    assert not np.allclose(after, before) and np.allclose(after, tuned.encode(texts), atol=1e-5)
    assert HybridIndex.open(root, settings, dim=base.dim, tuned=report.tuned).spec.precision == tuned.precision  # what re-embedded it
    with pytest.raises(IndexMismatchError, match="tuned"):
        HybridIndex.open(root, settings, dim=base.dim, tuned="")  # base-model queries never meet tuned vectors

    assert engine.refresh() and engine.embedder.tuned == report.tuned  # a running engine switches its embedder too
    assert Engine.from_settings(settings, root, load_llm=False, embedder=base).embedder.tuned == report.tuned
    assert engine.retrieve("badger in Perth", top_k=3)

    (docs / "survey99.txt").write_text("Survey 99 of the walrus in Hobart\n\nThe walrus near Hobart was counted once.\n")
    Ingestor(settings, lambda: base, interactive=False).run(docs, root)  # a later ingest embeds as the tuned copy does
    vectors, texts = stored_vectors(root)
    assert live_tuned(root) == report.tuned and np.allclose(vectors, tuned.encode(texts), atol=1e-5)

    shutil.copytree(folder, tmp_path / "kept")
    shutil.rmtree(folder)  # the tuned model lost: doctor says so and what to run
    found = repair(root, settings)
    assert [c.part for c in found.checks if not c.ok] == ["tuned model"] and "rag tune --index" in found.actions[0]
    with pytest.raises(IndexMismatchError, match="missing"):
        Engine.from_settings(settings, root, load_llm=False)
    shutil.copytree(tmp_path / "kept", folder)
    assert diagnose(root, settings).healthy

    undone = undo_tuning(root, settings)
    vectors, texts = stored_vectors(root)
    assert undone.snapshot and live_tuned(root) == "" and np.allclose(vectors, base.encode(texts), atol=1e-5)
    assert not folder.exists()  # no kept snapshot names it any more
    assert engine.refresh() and engine.embedder.tuned == ""
    assert undo_tuning(root, settings).snapshot is None  # nothing left to undo


def test_a_tuning_that_does_not_beat_the_base_leaves_the_index_as_it_was(tmp_path: Path):
    settings = tiny_settings(tmp_path, learning_rate=0.0, epochs=1)
    root = settings.index_dir
    Ingestor(settings, lambda: Embedder.load(settings.embedding), interactive=False).run(write_folder(tmp_path / "docs"), root)
    live = live_snapshot(root)
    report = tune_index(root, settings)
    assert not report.result.kept and report.snapshot is None and live_snapshot(root) == live and live_tuned(root) == ""
    assert "not kept" in report.card.read_text()


def test_rag_tune_killed_mid_training_resumes_and_finishes(tmp_path: Path):
    settings = tiny_settings(tmp_path, epochs=20, save_steps=5, lora_rank=4)  # LoRA: adapters checkpointed, merged at the end
    root = settings.index_dir
    Ingestor(settings, lambda: Embedder.load(settings.embedding), interactive=False).run(write_folder(tmp_path / "docs"), root)
    config = tmp_path / "rag.toml"
    config.write_text(
        f'index_dir = "{root}"\n[embedding]\nmodel = "{settings.embedding.model}"\nbackend = "torch"\n'
        "[chunking]\nchunk_tokens = 48\noverlap_tokens = 8\n[ingest]\nkeep_snapshots = 1\n[tune]\n"
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.tune.model_dump().items() if k in TUNE or k in ("epochs", "save_steps", "lora_rank"))
    )
    command = [sys.executable, "-m", "app.cli", "--config", str(config), "tune"]  # settings from the file, as a user runs it
    env = os.environ | {"HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = run_folder(root, settings) / "checkpoints"
    deadline = time.monotonic() + 300
    while not list(checkpoints.glob("checkpoint-*/trainer_state.json")):
        assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint was written"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert live_tuned(root) == ""  # killed before anything was published

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "tuning resumes from" in done.stderr and "kept: re-embedded" in done.stdout and live_tuned(root)
    state = json.loads((root / TUNED_DIR / live_tuned(root) / "tune.json").read_text())
    assert state["steps"] == 20 * -(-sum(state["pairs"].values()) // 8)
    assert not list((root / TUNED_DIR).rglob("adapter_config.json"))  # merged into a plain model
