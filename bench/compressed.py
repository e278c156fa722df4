"""The compressed dense index, chosen by measurement: HNSW over 8-bit vectors against IVF-PQ
whose candidates are re-ranked on 8-bit or 16-bit vectors (the product's `dense.compress_from`
kind, `dense.refine_codec`), on
bench.scale's synthetic chunks (1M by default). Each is searched as the product searches, for
`retrieval.candidates` hits, and scored on their top 10 against exact search."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import faiss
import numpy as np

from bench.scale import recall_at_10, search_latency, synthetic
from rag.config import Settings
from rag.storage.dense import DenseIndex, all_cores

HNSW_EF = (128, 256, 512)


def size_mb(index: faiss.Index) -> float:
    return round(len(faiss.serialize_index(index)) / 2**20, 1)


def run(n: int, queries: int, settings: Settings, dim: int = 384) -> dict:
    vectors, _, qv, _, _ = synthetic(n, dim, queries)
    k = settings.retrieval.candidates
    exact = faiss.IndexFlatIP(dim)
    exact.add(vectors)
    _, truth = exact.search(qv, 10)
    del exact
    result: dict = {"chunks": n, "queries": queries, "k": k}

    hnsw = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, settings.dense.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = max(40, 2 * settings.dense.hnsw_m)
    started = time.perf_counter()
    with all_cores(settings.dense):
        hnsw.train(vectors[:: max(1, n // 100_000)])
        hnsw.add(vectors)
    result["hnsw_sq8"] = {"build_s": round(time.perf_counter() - started, 1), "size_mb": size_mb(hnsw), "by_ef_search": {}}
    for ef in HNSW_EF:
        found, latency = search_latency(hnsw, qv, k, faiss.SearchParametersHNSW(efSearch=ef))
        result["hnsw_sq8"]["by_ef_search"][ef] = {"recall@10": round(recall_at_10(found, truth), 4), **latency}
    del hnsw

    ids = np.arange(n, dtype=np.int64)
    blocks = lambda: [(ids[a : a + 100_000], vectors[a : a + 100_000]) for a in range(0, n, 100_000)]  # noqa: E731
    for codec in ("SQ8", "SQfp16"):  # the vectors the PQ candidates are re-ranked on
        dense = settings.dense.model_copy(update={"refine_codec": codec})
        started = time.perf_counter()
        product = DenseIndex.build_blocks(n, dim, blocks, dense)
        figures = {"build_s": round(time.perf_counter() - started, 1), "size_mb": size_mb(product.index), "by_setting": {}}
        for nprobe in (8, 16, 32):
            for k_factor in (2, 4, 8):
                base = faiss.SearchParametersIVF(nprobe=nprobe)
                found, latency = search_latency(product.index, qv, k, faiss.IndexRefineSearchParameters(k_factor=k_factor, base_index_params=base))
                figures["by_setting"][f"nprobe {nprobe}, refine {k_factor}"] = {"recall@10": round(recall_at_10(found, truth), 4), **latency}
        result[f"ivf_pq_{codec.lower()}"] = figures
        del product
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    args = parser.parse_args()
    settings = Settings.load()
    faiss.omp_set_num_threads(settings.dense.faiss_threads)
    args.out.write_text(
        json.dumps(run(args.chunks, args.queries, settings.model_copy(update={"dense": settings.dense.model_copy(update={"compress_from": 1})})), indent=2)
    )


if __name__ == "__main__":
    main()
