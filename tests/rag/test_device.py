"""Device choice, tested on the CPU: embeddings go to CUDA and flat FAISS indexes to the GPU
when present (auto), never when absent; HNSW stays on the CPU (FAISS has no GPU HNSW)."""

import numpy as np
import pytest

import rag.search.embedding as embedding
import rag.storage.dense as dense
from rag.config import DenseSettings
from rag.search.embedding import pick_device
from rag.storage.dense import DenseIndex


@pytest.mark.parametrize("cuda, requested, chosen", [(True, "auto", "cuda"), (False, "auto", "cpu"), (True, "cpu", "cpu"), (True, "cuda", "cuda")])
def test_embedding_device(monkeypatch, cuda: bool, requested: str, chosen: str):
    import torch

    monkeypatch.setattr(embedding, "nvidia_driver_possible", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert pick_device(requested) == chosen


def test_without_an_nvidia_driver_auto_is_the_cpu_without_asking_torch(monkeypatch):
    import torch

    monkeypatch.setattr(embedding, "nvidia_driver_possible", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # would say cuda if it were asked
    assert pick_device("auto") == "cpu"


def test_asking_for_cuda_without_it_is_a_clear_error(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        pick_device("cuda")


def _saved(tmp_path, n: int, settings: DenseSettings):
    vectors = np.random.default_rng(0).standard_normal((n, 8)).astype(np.float32)
    path = tmp_path / "dense.faiss"
    DenseIndex.build(np.arange(n, dtype=np.int64), vectors, settings).save(path)
    return path


@pytest.mark.parametrize("gpus, use_gpu, hnsw, on_gpu", [(1, True, False, True), (0, True, False, False), (1, False, False, False), (1, True, True, False)])
def test_faiss_moves_to_the_gpu_only_when_it_can(tmp_path, monkeypatch, gpus: int, use_gpu: bool, hnsw: bool, on_gpu: bool):
    moved = []
    monkeypatch.setattr(dense, "gpu_count", lambda: gpus)
    monkeypatch.setattr(dense.faiss, "index_cpu_to_all_gpus", lambda index: moved.append(index) or index, raising=False)
    settings = DenseSettings(use_gpu=use_gpu, hnsw_threshold=10 if hnsw else 1000)
    loaded = DenseIndex.load(_saved(tmp_path, 50, settings), settings)
    assert loaded.on_gpu is on_gpu and bool(moved) is on_gpu
