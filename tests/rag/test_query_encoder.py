"""The ONNX Runtime query encoder gives PyTorch's vectors, is exported once, and steps aside
for models it cannot serve."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.config import EmbeddingSettings
from rag.models import model_path
from rag.search.embedding import Embedder
from rag.search.query_encoder import CHECKED, OnnxQueryEncoder

QUERIES = [
    "Etna",
    "Which town have the lava flows of Mount Etna reached since 1669?",
    "Ünïcode CAFÉ émigrés, déjà vu — naïve façade",
    "ADAR1 binds to Dicer to cleave pre-miRNA. " * 30,
]


def test_onnx_queries_match_pytorch(tmp_path: Path):
    embedder = Embedder.load(EmbeddingSettings(onnx_cache=tmp_path))
    assert embedder.query_backend == "onnx"
    for q in QUERIES:  # one word, a sentence, and one past the 256-token window
        np.testing.assert_allclose(embedder.encode_query(q), embedder.encode([q]), atol=1e-5)
    exported = next(tmp_path.rglob("model.onnx"))
    stamp = exported.stat().st_mtime_ns
    assert Embedder.load(EmbeddingSettings(onnx_cache=tmp_path)).query_backend == "onnx"
    assert exported.stat().st_mtime_ns == stamp  # loaded from the cache, not exported again


def test_a_kept_encoder_serves_queries_without_importing_torch(tmp_path: Path):
    """A second process embeds queries with the checked export alone; the PyTorch model loads only
    when a batch needs it, and gives the same vectors."""
    first = Embedder.load(EmbeddingSettings(onnx_cache=tmp_path))
    expected = np.concatenate([first.encode([q]) for q in QUERIES])
    script = f"""
import sys, numpy as np
from pathlib import Path
from rag.config import EmbeddingSettings
from rag.search.embedding import Embedder
e = Embedder.load(EmbeddingSettings(onnx_cache=Path({str(tmp_path)!r})))
queries = np.concatenate([e.encode_query(q) for q in {QUERIES!r}])
print("torch" in sys.modules, "sentence_transformers" in sys.modules, e.dim, e.max_tokens)
np.save({str(tmp_path / "q.npy")!r}, queries)
e.encode(["a batch loads the model"])
print("sentence_transformers" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True).stdout.split()
    assert out == ["False", "False", "384", "256", "True"]
    np.testing.assert_allclose(np.load(tmp_path / "q.npy"), expected, atol=1e-5)


def test_a_kept_vector_that_no_longer_matches_sends_the_load_the_long_way(tmp_path: Path):
    Embedder.load(EmbeddingSettings(onnx_cache=tmp_path))
    kept = next(tmp_path.rglob(CHECKED))
    checked = json.loads(kept.read_text())
    folder = Path(model_path("all-MiniLM-L6-v2"))
    assert OnnxQueryEncoder.open_cached(folder, normalize=True, threads=1, cache=tmp_path) is not None
    assert OnnxQueryEncoder.open_cached(folder, normalize=False, threads=1, cache=tmp_path) is None  # checked with the other setting
    kept.write_text(json.dumps({**checked, "probe": [v + 0.01 for v in checked["probe"]]}))
    assert OnnxQueryEncoder.open_cached(folder, normalize=True, threads=1, cache=tmp_path) is None
    embedder = Embedder.load(EmbeddingSettings(onnx_cache=tmp_path))  # checked against PyTorch again, and kept again
    assert embedder.query_backend == "onnx" and embedder._model is not None
    assert json.loads(kept.read_text())["probe"] == checked["probe"]


def test_torch_when_asked():
    embedder = Embedder.load(EmbeddingSettings(query_backend="torch"))
    assert embedder.query_backend == "torch" and embedder.encode_query("Etna").shape == (1, embedder.dim)


def test_a_model_that_does_not_mean_pool_stays_on_pytorch(tmp_path: Path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Pooling, Transformer

    folder = Path(model_path("all-MiniLM-L6-v2"))
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
