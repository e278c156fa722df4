"""Which sentence of the top passages answers the question: for squad-dev-a's answerable
questions, the share whose best-ranked sentence holds a gold string, for variants of the
ranking's features (rag/answering/sentence_rank.py). Tune on squad-dev-a only.

    python -m bench.tune_sentences --dataset ../shared/datasets/squad-dev-a --index INDEX
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from eval.qa import load_questions, normalize  # noqa: E402
from rag.answering.sentence_rank import candidates  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.search.embedding import Embedder  # noqa: E402
from rag.search.retriever import HybridRetriever  # noqa: E402
from rag.sentences import TOKEN_RE  # noqa: E402
from rag.storage.index import HybridIndex  # noqa: E402

TIME_RE = re.compile(r"\b(?:1\d{3}|20\d{2})s?\b|\b(?:january|february|march|april|may|june|july|august|september|october|november|december|century)\b", re.I)
NUMBER_RE = re.compile(r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|hundred|thousand|million|billion)\b", re.I)
NAME_RE = re.compile(r"(?<=\s)[A-Z][\w'-]+")  # a capitalised word inside the sentence


def answer_type_match(question: str, sentence: str) -> bool:
    """Whether the sentence holds what the question's form asks for (a time for "when", a number
    for "how many", a name for "who" or "where") that the question does not already say."""
    q = question.lower()
    if q.startswith("when") or re.search(r"\b(?:what|which) (?:year|decade|century|month|date)\b", q):
        kind = TIME_RE
    elif re.search(r"\bhow (?:many|much|long|far|old|big|large|tall|high)\b|\bwhat (?:percentage|percent|number|amount)\b", q):
        kind = NUMBER_RE
    elif re.search(r"\b(?:who|whom|whose|where)\b", q):
        kind = NAME_RE
    else:
        return False
    asked = {w.lower() for w in TOKEN_RE.findall(question)}
    return any(m.group().lower().rstrip(".,") not in asked for m in kind.finditer(sentence))


def features(question: str, hits, sparse, embedder: Embedder, max_sources: int) -> tuple[list[str], np.ndarray]:
    """Each candidate sentence with [lexical, cosine, 1/source rank, answer type, previous sentence's lexical]."""
    found = candidates(question, hits, max_sources)
    texts = [t for _, t in found]
    if not texts:
        return [], np.zeros((0, 5))
    lexical = sparse.term_share(question, texts)
    asked = embedder.encode_query(question)[0]
    cosine = np.array([embedder.encode_query(t)[0] @ asked for t in texts])
    rank = np.array([1.0 / n for n, _ in found])
    typed = np.array([float(answer_type_match(question, t)) for t in texts])
    previous = np.array([lexical[i - 1] if i and found[i - 1][0] == found[i][0] else 0.0 for i in range(len(found))])
    return texts, np.stack([lexical, cosine, rank, typed, previous], axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True, help="the dataset's index (rag eval qa builds one under .cache/eval)")
    parser.add_argument("--max-sources", type=int, default=4)
    args = parser.parse_args()

    settings = Settings()
    embedder = Embedder.load(settings.embedding)
    index = HybridIndex.open(args.index, settings, dim=embedder.dim)
    retriever = HybridRetriever(index, embedder, settings.retrieval)
    rows = []
    for item in load_questions(args.dataset / "questions.jsonl"):
        if not item.answers:
            continue
        texts, x = features(item.question, retriever.retrieve(item.question), index.sparse, embedder, args.max_sources)
        gold = np.array([any(normalize(a) in normalize(t) for a in item.answers) for t in texts])
        rows.append((x, gold))
    print(f"{len(rows)} answerable questions; a gold sentence among the candidates: {np.mean([g.any() for _, g in rows]):.3f}")
    grid = {"cosine": [0.5, 1.0, 1.5], "rank": [0.0, 0.1, 0.2], "typed": [0.0, 0.1, 0.2, 0.3], "previous": [0.0, 0.2, 0.4]}
    results = []
    for combo in itertools.product(*grid.values()):
        w = np.array([1.0, *combo])
        held = np.mean([g[np.argmax(x @ w)] if len(g) else False for x, g in rows])
        results.append((held, combo))
    for held, combo in sorted(results, reverse=True)[:10]:
        print(f"{held:.3f}  " + "  ".join(f"{k}={v}" for k, v in zip(grid, combo, strict=True)))
    for name in grid:  # each feature alone on top of lexical + cosine
        for value in grid[name]:
            combo = tuple(value if k == name else (1.0 if k == "cosine" else 0.0) for k in grid)
            print(f"{name}={value}: {dict((c, h) for h, c in results)[combo]:.3f}")


if __name__ == "__main__":
    main()
