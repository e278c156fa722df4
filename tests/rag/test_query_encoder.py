"""The ONNX Runtime query encoder gives PyTorch's vectors, is exported once, and steps aside
for models it cannot serve."""

from pathlib import Path

import numpy as np
import pytest

from rag.config import EmbeddingSettings
from rag.embedding import Embedder, resolve_model_path
from rag.query_encoder import OnnxQueryEncoder

QUERIES = ["Etna", "Which town have the lava flows of Mount Etna reached since 1669?", "ADAR1 binds to Dicer to cleave pre-miRNA. " * 30]


def test_onnx_queries_match_pytorch(tmp_path: Path):
    embedder = Embedder.load(EmbeddingSettings(onnx_cache=tmp_path))
    assert embedder.query_backend == "onnx"
    for q in QUERIES:  # one word, a sentence, and one past the 256-token window
        np.testing.assert_allclose(embedder.encode_query(q), embedder.encode([q]), atol=1e-5)
    exported = next(tmp_path.rglob("model.onnx"))
    stamp = exported.stat().st_mtime_ns
    assert Embedder.load(EmbeddingSettings(onnx_cache=tmp_path)).query_backend == "onnx"
    assert exported.stat().st_mtime_ns == stamp  # loaded from the cache, not exported again


def test_torch_when_asked():
    embedder = Embedder.load(EmbeddingSettings(query_backend="torch"))
    assert embedder.query_backend == "torch" and embedder.encode_query("Etna").shape == (1, embedder.dim)


def test_a_model_that_does_not_mean_pool_stays_on_pytorch(tmp_path: Path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Pooling, Transformer

    folder = Path(resolve_model_path("all-MiniLM-L6-v2"))
    transformer = Transformer(str(folder))
    model = SentenceTransformer(modules=[transformer, Pooling(transformer.get_embedding_dimension(), pooling_mode="cls")], device="cpu")
    encoder, why = OnnxQueryEncoder.load(model, folder, normalize=True, threads=1, cache=tmp_path)
    assert encoder is None and "does not pool by mean" in why
    assert not list(tmp_path.rglob("model.onnx"))


@pytest.mark.parametrize("modules", [["Transformer", "Pooling", "Dense"], ["Pooling"]])
def test_other_module_stacks_stay_on_pytorch(modules: list[str], tmp_path: Path):
    fake = [type(name, (), {})() for name in modules]
    encoder, why = OnnxQueryEncoder.load(fake, tmp_path, normalize=True, threads=1, cache=tmp_path)
    assert encoder is None and "not a plain transformer" in why
