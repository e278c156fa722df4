"""The ONNX Runtime encoder gives PyTorch's vectors in fp32 and close ones in int8, batched or
one at a time, is exported once, and steps aside for models it cannot serve."""

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from rag.config import EmbeddingSettings
from rag.models import model_path
from rag.search.embedding import Embedder
from rag.search.onnx_encoder import OnnxEncoder
from rag.search.onnx_export import graph_name

QUERIES = [
    "Etna",
    "Which town have the lava flows of Mount Etna reached since 1669?",
    "Ünïcode CAFÉ émigrés, déjà vu — naïve façade",
    "ADAR1 binds to Dicer to cleave pre-miRNA. " * 30,
]


def fp32(tmp_path: Path, **settings) -> Embedder:
    return Embedder.load(EmbeddingSettings(onnx_cache=tmp_path, precision="fp32", **settings))


def test_onnx_fp32_matches_pytorch_one_at_a_time_and_in_batches(tmp_path: Path):
    embedder = fp32(tmp_path)
    assert embedder.backend == "onnx" and embedder.precision == "fp32"
    torch_vectors = embedder.model.encode(QUERIES, normalize_embeddings=True, convert_to_numpy=True)
    for q, expected in zip(QUERIES, torch_vectors, strict=True):  # one word, a sentence, one past the 256-token window
        np.testing.assert_allclose(embedder.encode_query(q)[0], expected, atol=1e-5)
    np.testing.assert_allclose(embedder.encode(QUERIES), torch_vectors, atol=1e-5)  # padded in one mixed-length batch, in order
    np.testing.assert_allclose(fp32(tmp_path, batch_tokens=64).encode(QUERIES), torch_vectors, atol=1e-5)  # cut into several
    exported = next(tmp_path.rglob(graph_name("fp32")))
    stamp = exported.stat().st_mtime_ns
    assert fp32(tmp_path).backend == "onnx"
    assert exported.stat().st_mtime_ns == stamp  # loaded from the cache, not exported again


def test_int8_vectors_agree_with_fp32(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    """Sampled chunks and the queries: cosine 0.98 or more to fp32, in the order given, and each
    text's vector the same alone as among others (int8 quantizes activations per run)."""
    texts = QUERIES + [f"Sample {i}: " + "aspirin lowers the risk of stroke in adults with atrial fibrillation. " * (i % 9 + 1) for i in range(40)]
    reference = fp32(tmp_path).encode(texts)
    caplog.set_level(logging.INFO, logger="rag.search.onnx_encoder")
    int8 = Embedder.load(EmbeddingSettings(onnx_cache=tmp_path, precision="int8"))
    assert int8.backend == "onnx" and int8.precision == "int8"
    vectors = int8.encode(texts)
    assert vectors.shape == reference.shape and (vectors * reference).sum(axis=1).min() >= 0.98
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    for i in (1, 7, 30):
        np.testing.assert_allclose(int8.encode_query(texts[i])[0], vectors[i], atol=1e-6)
    graph = next(tmp_path.rglob(graph_name("int8")))
    assert graph.stat().st_size < 0.8 * next(tmp_path.rglob(graph_name("fp32"))).stat().st_size
    operators = {node.op_type for node in onnx.load(str(graph)).graph.node}
    assert "MatMulInteger" in operators
    # the fused attention's projection in int8 too, unless this machine's kernels put its vectors
    # under the check, and then the load says it fell back to the MatMuls alone
    assert "QAttention" in operators or "vectors were too far" in caplog.text


def test_int8_falls_back_to_the_matmuls_alone_when_the_attention_in_int8_strays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A machine whose int8 kernels put the first graph's vectors under the check gets the
    MatMuls alone in int8 (not fp32), and later loads serve that graph from the cache."""
    from rag.search import onnx_encoder

    real, calls = onnx_encoder.agreement, []

    def first_strays(vectors, expected):
        calls.append(1)
        return 0.5 if len(calls) == 1 else real(vectors, expected)

    monkeypatch.setattr(onnx_encoder, "agreement", first_strays)
    int8 = Embedder.load(EmbeddingSettings(onnx_cache=tmp_path, precision="int8"))
    assert int8.backend == "onnx" and int8.precision == "int8" and len(calls) == 2
    graph = next(tmp_path.rglob(graph_name("int8")))
    operators = {node.op_type for node in onnx.load(str(graph)).graph.node}
    assert "MatMulInteger" in operators and "QAttention" not in operators
    reference = fp32(tmp_path).encode(QUERIES)
    assert (int8.encode(QUERIES) * reference).sum(axis=1).min() >= 0.98
    folder = Path(model_path("all-MiniLM-L6-v2"))
    cached = OnnxEncoder.open_cached(folder, True, "int8", threads=1, batch_tokens=512, cache=tmp_path)
    assert cached is not None
    np.testing.assert_allclose(cached.encode(QUERIES), int8.encode(QUERIES), atol=1e-6)


def test_a_kept_encoder_serves_without_importing_torch(tmp_path: Path):
    """A second process embeds queries and batches with the checked export alone, and gives the
    same vectors."""
    first = Embedder.load(EmbeddingSettings(onnx_cache=tmp_path))
    expected = np.concatenate([first.encode_query(q) for q in QUERIES])
    script = f"""
import sys, numpy as np
from pathlib import Path
from rag.config import EmbeddingSettings
from rag.search.embedding import Embedder
e = Embedder.load(EmbeddingSettings(onnx_cache=Path({str(tmp_path)!r})))
queries = np.concatenate([e.encode_query(q) for q in {QUERIES!r}])
print("torch" in sys.modules, "sentence_transformers" in sys.modules, e.dim, e.max_tokens)
np.save({str(tmp_path / "q.npy")!r}, queries)
e.encode(["a batch", "of two"])
print(e.count_tokens_fn()("word pieces"), e.precision, "torch" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True).stdout.split()
    assert out == ["False", "False", "384", "256", "2", "int8", "False"]
    np.testing.assert_allclose(np.load(tmp_path / "q.npy"), expected, atol=1e-5)


def test_a_kept_vector_that_no_longer_matches_sends_the_load_the_long_way(tmp_path: Path):
    fp32(tmp_path)
    kept = next(tmp_path.rglob("fp32.json"))
    checked = json.loads(kept.read_text())
    folder = Path(model_path("all-MiniLM-L6-v2"))
    assert OnnxEncoder.open_cached(folder, True, "fp32", threads=1, batch_tokens=512, cache=tmp_path) is not None
    assert OnnxEncoder.open_cached(folder, False, "fp32", threads=1, batch_tokens=512, cache=tmp_path) is None  # checked with the other setting
    assert OnnxEncoder.open_cached(folder, True, "int8", threads=1, batch_tokens=512, cache=tmp_path) is None  # not made yet
    kept.write_text(json.dumps({**checked, "probes": [[v + 0.01 for v in row] for row in checked["probes"]]}))
    assert OnnxEncoder.open_cached(folder, True, "fp32", threads=1, batch_tokens=512, cache=tmp_path) is None
    embedder = fp32(tmp_path)  # checked against PyTorch again, and kept again
    assert embedder.backend == "onnx" and embedder._model is not None
    assert json.loads(kept.read_text())["probes"] == checked["probes"]


@pytest.mark.parametrize("key", ["backend", "query_backend"])  # the older name still reads
def test_torch_when_asked(key: str):
    embedder = Embedder.load(EmbeddingSettings(**{key: "torch"}))
    assert embedder.backend == "torch" and embedder.precision == "fp32" and embedder.encode_query("Etna").shape == (1, embedder.dim)


def test_a_model_that_does_not_mean_pool_stays_on_pytorch(tmp_path: Path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Pooling, Transformer

    folder = Path(model_path("all-MiniLM-L6-v2"))
    transformer = Transformer(str(folder))
    model = SentenceTransformer(modules=[transformer, Pooling(transformer.get_embedding_dimension(), pooling_mode="cls")], device="cpu")
    encoder, why = OnnxEncoder.load(model, folder, True, "int8", threads=1, batch_tokens=512, cache=tmp_path)
    assert encoder is None and "does not pool by mean" in why
    assert not list(tmp_path.rglob("model.onnx"))


@pytest.mark.parametrize("modules", [["Transformer", "Pooling", "Dense"], ["Pooling"]])
def test_other_module_stacks_stay_on_pytorch(modules: list[str], tmp_path: Path):
    fake = [type(name, (), {})() for name in modules]
    encoder, why = OnnxEncoder.load(fake, tmp_path, True, "int8", threads=1, batch_tokens=512, cache=tmp_path)
    assert encoder is None and "not a plain transformer" in why
