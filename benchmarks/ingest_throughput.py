"""Ingest throughput on a BEIR corpus: chunks/s of the whole pipeline (scan, read, chunk, embed,
store, index, publish) next to the raw encode rate of the same chunks by the same model in the
same run, their ratio (target >= 0.9), and a re-ingest of the unchanged folder.

    python benchmarks/ingest_throughput.py --dataset ../shared/datasets/scifact [--limit 500]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from eval.datasets import write_corpus  # noqa: E402
from ingest.pipeline import Ingestor  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embedding import Embedder  # noqa: E402
from rag.index import HybridIndex  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True, help="BEIR folder holding corpus.jsonl")
    parser.add_argument("--limit", type=int, default=None, help="first N documents only")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    settings = Settings()
    embedder = Embedder.load(settings.embedding)
    embedder.encode(["warm up the model"] * 8)
    with tempfile.TemporaryDirectory() as tmp:
        docs, index = Path(tmp) / "docs", Path(tmp) / "index"
        n_docs = len(write_corpus(args.dataset / "corpus.jsonl", docs, args.limit))

        ingestor = Ingestor(settings, lambda: embedder, interactive=False)
        report = ingestor.run(docs, index)
        pipeline_rate = report.chunks_embedded / report.seconds

        opened = HybridIndex.open(index, settings, dim=embedder.dim)
        texts = [text for _, text in opened.store.iter_chunk_texts()]
        opened.close()
        started = time.monotonic()
        embedder.encode(texts)
        raw_seconds = time.monotonic() - started
        raw_rate = len(texts) / raw_seconds

        again = Ingestor(settings, lambda: embedder, interactive=False).run(docs, index)

    figures = {
        "documents": n_docs,
        "chunks": report.chunks_embedded,
        "pipeline_seconds": round(report.seconds, 2),
        "pipeline_chunks_per_s": round(pipeline_rate, 2),
        "raw_encode_seconds": round(raw_seconds, 2),
        "raw_encode_chunks_per_s": round(raw_rate, 2),
        "throughput_ratio": round(pipeline_rate / raw_rate, 3),
        "reingest_seconds": round(again.seconds, 3),
        "reingest_chunks_embedded": again.chunks_embedded,
        "device": embedder.device,
        "torch_threads": __import__("torch").get_num_threads(),
    }
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
