"""Check `generation.abstain_below` on data: the answerability evidence (rag/answering/answerable.py: best
dense cosine and IDF-weighted term coverage) for questions a collection answers (SciFact train
claims over a SciFact slice that holds their evidence) against questions it does not (the same
claims over the bundled samples). The threshold itself was set on squad-dev-a (see the README).

    python -m bench.tune_abstention --dataset ../shared/datasets/scifact --samples-index index/samples
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from eval.datasets import load_beir, write_corpus  # noqa: E402
from ingest.pipeline import Ingestor  # noqa: E402
from rag.answering.answerable import weigh  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.search.embedding import Embedder  # noqa: E402
from rag.search.retriever import HybridRetriever  # noqa: E402
from rag.storage.index import HybridIndex  # noqa: E402


def evidence(index: HybridIndex, embedder: Embedder, settings: Settings, questions: list[str]) -> np.ndarray:
    retriever = HybridRetriever(index, embedder, settings.retrieval)
    return np.array([weigh(q, retriever.retrieve(q), index.sparse).score for q in questions])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--samples-index", type=Path, required=True, help="an index of an unrelated collection")
    parser.add_argument("--queries", type=int, default=300, help="train claims used")
    parser.add_argument("--max-false-declines", type=float, default=0.02, help="share of answerable questions declined")
    args = parser.parse_args()

    data = load_beir(args.dataset, "train")
    chosen = random.Random(0).sample(sorted(data.qrels), args.queries)
    keep = set().union(*(data.qrels[q] for q in chosen))

    settings = Settings()
    embedder = Embedder.load(settings.embedding)
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        write_corpus(data.corpus_file, docs, keep=keep)
        Ingestor(settings, lambda: embedder, interactive=False).run(docs, Path(tmp) / "index")
        in_collection = HybridIndex.open(Path(tmp) / "index", settings, dim=embedder.dim)
        questions = [data.queries[q] for q in chosen]
        answerable = evidence(in_collection, embedder, settings, questions)
    samples = HybridIndex.open(args.samples_index, settings, dim=embedder.dim)
    unanswerable = evidence(samples, embedder, settings, questions)

    threshold = float(np.quantile(answerable, args.max_false_declines))
    declined_out = float((unanswerable < threshold).mean())
    print(f"answerable evidence: median {np.median(answerable):.3f}, p2 {np.quantile(answerable, 0.02):.3f}, p5 {np.quantile(answerable, 0.05):.3f}")
    print(f"unanswerable evidence: median {np.median(unanswerable):.3f}, p95 {np.quantile(unanswerable, 0.95):.3f}, max {unanswerable.max():.3f}")
    print(f"threshold at {args.max_false_declines:.0%} false declines: {threshold:.3f}; it declines {declined_out:.1%} of out-of-collection questions")
    for t in (0.35, 0.4, settings.generation.abstain_below, 0.5):
        print(f"  abstain_below={t}: declines {(answerable < t).mean():.1%} answerable, {(unanswerable < t).mean():.1%} unanswerable")


if __name__ == "__main__":
    main()
