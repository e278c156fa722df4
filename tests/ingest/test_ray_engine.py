"""`rag ingest --engine ray` on a local Ray (`ray.init(num_cpus=2)`): the same chunks, vectors,
failures, summary and exit code as the plain pipeline, into either backend; and the actor pool's
sizing by the cluster's resources."""

from pathlib import Path

import numpy as np
import pytest

from ingest.pipeline import Ingestor
from ingest.ray_engine import embed_pool
from rag.config import MilvusSettings, Settings
from rag.storage.backend import open_index
from rag.storage.index import HybridIndex


def test_the_embedding_pool_follows_the_cluster():
    assert embed_pool({"CPU": 2.0}, 0) == (1, {"num_cpus": 1}, 2)  # half the CPUs reserved for the read tasks
    assert embed_pool({"CPU": 16.0}, 0) == (4, {"num_cpus": 2}, 4)
    assert embed_pool({"CPU": 16.0, "GPU": 2.0}, 0) == (2, {"num_gpus": 1}, 1)
    assert embed_pool({"CPU": 16.0}, 3) == (3, {"num_cpus": 2}, 5)


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module (an ingest joins it and leaves it running)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}})
    yield ray
    ray.shutdown()


def chunk_table(index) -> dict[tuple[str, int], tuple[str, int, int]]:
    """(path, ord) -> (text, start, end) of every chunk, whatever the backend's chunk ids."""
    ids = index.store.chunk_ids_of(sorted(index.store.files()))
    return {(c.path, c.ord): (c.text, c.start, c.end) for c in index.store.chunks([int(i) for i in ids]).values()}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["local", "milvus"])
def test_ray_ingests_what_the_plain_pipeline_does(local_ray, corpus: Path, tmp_path: Path, embedder, backend: str):
    (corpus / "corrupt.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    (corpus / "empty.txt").write_text("")
    plain_settings = Settings(index_dir=tmp_path / "plain")
    plain = Ingestor(plain_settings, lambda: embedder, interactive=False).run(corpus, plain_settings.index_dir)
    milvus = MilvusSettings(index_type="FLAT", index_params={}, search_params={})
    settings = Settings(index_dir=tmp_path / "ray", backend=backend, milvus=milvus).model_copy(
        update={"ingest": Settings().ingest.model_copy(update={"engine": "ray", "ray_files_per_task": 2})}
    )
    on_ray = Ingestor(settings, lambda: embedder, interactive=False).run(corpus, settings.index_dir)
    left_out = ("seconds", "read_seconds", "embed_seconds", "snapshot")
    assert {k: v for k, v in on_ray.as_dict().items() if k not in left_out} == {k: v for k, v in plain.as_dict().items() if k not in left_out}
    assert on_ray.exit_code == plain.exit_code == 1 and "corrupt.pdf" in on_ray.failed
    a, b = HybridIndex.open(plain_settings.index_dir, plain_settings, dim=embedder.dim), open_index(settings.index_dir, settings, dim=embedder.dim)
    try:
        assert chunk_table(b) == chunk_table(a)
        query = embedder.encode_query("Where is Mount Etna?")
        (ids_a,), (scores_a,) = a.dense.search(query, 3)
        (ids_b,), (scores_b,) = b.dense.search(query, 3)
        assert np.allclose(scores_a, scores_b, atol=1e-5)  # the same vectors, embedded by the Ray actor
        again = Ingestor(settings, lambda: embedder, interactive=False).run(corpus, settings.index_dir)
        assert again.chunks_embedded == 0 and again.exit_code == 1  # an unchanged folder: nothing for Ray to do
    finally:
        a.close()
        b.close()
