"""Training pairs for tuning the embedder, made from the collection alone: no query and no
relevance label is used. Three kinds here, each a (query-like text, passage) pair (a fourth,
"question", is written by an instruction-tuned LLM: rag/tune/queries.py):

- title: a document's title or a section heading -> a passage under it;
- sentence: one sentence of a passage -> the rest of that passage (the inverse cloze task);
- crop: two independent random spans of one passage (Contriever's cropping).

A hard negative for each pair is the best BM25 match of its query that is neither the positive
nor from the same file, skipped when it nearly duplicates the positive (word-set Jaccard above
`max_overlap`): a duplicate "negative" would teach the model that the right answer is wrong."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rag.sentences import split_sentences

KINDS = ("title", "sentence", "crop")
WORD_RE = re.compile(r"\w+")
TITLE_MAX_WORDS = 24  # a first line longer than this is prose, not a title
MIN_WORDS = 5  # a query shorter than this says too little


@dataclass(frozen=True)
class Passage:
    chunk_id: int
    path: str
    heading: str | None
    text: str
    first: bool  # the first chunk of its file (the one a document title belongs to)


@dataclass(frozen=True)
class Pair:
    kind: str
    query: str
    positive: str
    path: str  # the positive's file
    chunk_id: int  # the positive's chunk
    negative: str | None = None


def words(text: str) -> list[str]:
    return WORD_RE.findall(text.lower())


def title_of(passage: Passage) -> tuple[str, str] | None:
    """(title, the passage without it): a section heading, else a short first line followed by a
    blank line at the top of a file (as "title\\n\\ntext" documents have)."""
    if passage.heading and len(words(passage.heading)) >= 2:
        return passage.heading, passage.text
    if passage.first:
        head, sep, rest = passage.text.partition("\n\n")
        if sep and 2 <= len(words(head)) <= TITLE_MAX_WORDS and len(words(rest)) >= MIN_WORDS:
            return head.strip(), rest.strip()
    return None


def title_pairs(passages: Iterable[Passage]) -> list[Pair]:
    """One pair per distinct (file, title): the first passage under it."""
    seen, pairs = set(), []
    for p in passages:
        found = title_of(p)
        if found and (p.path, found[0]) not in seen:
            seen.add((p.path, found[0]))
            pairs.append(Pair("title", found[0], found[1], p.path, p.chunk_id))
    return pairs


def sentence_pairs(passages: Iterable[Passage], rng: random.Random) -> list[Pair]:
    """One random sentence of each passage with three or more, against the other sentences."""
    pairs = []
    for p in passages:
        sentences = [p.text[a:b] for a, b in split_sentences(p.text) if p.text[a:b].strip()]
        if len(sentences) < 3:
            continue
        i = rng.randrange(len(sentences))
        if len(words(sentences[i])) < MIN_WORDS:
            continue
        rest = " ".join(sentences[:i] + sentences[i + 1 :])
        pairs.append(Pair("sentence", sentences[i].strip(), rest, p.path, p.chunk_id))
    return pairs


def crop(tokens: list[str], rng: random.Random, low: float, high: float) -> str:
    """A random span holding a `low`-`high` share of `tokens` (at least MIN_WORDS)."""
    size = max(MIN_WORDS, int(len(tokens) * rng.uniform(low, high)))
    start = rng.randrange(len(tokens) - size + 1)
    return " ".join(tokens[start : start + size])


def crop_pairs(passages: Iterable[Passage], rng: random.Random, low: float = 0.1, high: float = 0.5) -> list[Pair]:
    """Two spans of each passage, each a random `low`-`high` share of its words, drawn independently."""
    pairs = []
    for p in passages:
        tokens = p.text.split()
        if len(tokens) >= 4 * MIN_WORDS:
            pairs.append(Pair("crop", crop(tokens, rng, low, high), crop(tokens, rng, low, high), p.path, p.chunk_id))
    return pairs


def jaccard(a: str, b: str) -> float:
    sa, sb = set(words(a)), set(words(b))
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0


def with_hard_negatives(pairs: Sequence[Pair], passages: Sequence[Passage], search, depth: int = 10, max_overlap: float = 0.5) -> list[Pair]:
    """Each pair with its hard negative; pairs with none in the top `depth` are dropped.
    `search(query, k)` gives chunk ids, best first (the collection's BM25)."""
    by_id = {p.chunk_id: p for p in passages}
    kept = []
    for pair in pairs:
        for chunk_id in search(pair.query, depth):
            candidate = by_id.get(int(chunk_id))
            if candidate is None or candidate.chunk_id == pair.chunk_id or candidate.path == pair.path:
                continue
            if jaccard(candidate.text, pair.positive) > max_overlap:
                continue
            kept.append(Pair(pair.kind, pair.query, pair.positive, pair.path, pair.chunk_id, candidate.text))
            break
    return kept


def build_pairs(passages: Sequence[Passage], kinds: Sequence[str], seed: int = 0) -> list[Pair]:
    """Pairs of the chosen kinds, shuffled (a batch mixes kinds and files)."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown pair kind(s) {sorted(unknown)}; choose from {list(KINDS)}")
    rng = random.Random(seed)
    pairs: list[Pair] = []
    if "title" in kinds:
        pairs += title_pairs(passages)
    if "sentence" in kinds:
        pairs += sentence_pairs(passages, rng)
    if "crop" in kinds:
        pairs += crop_pairs(passages, rng)
    rng.shuffle(pairs)
    return pairs


def collection_pairs(
    store,
    search,
    kinds: Sequence[str],
    max_pairs: int,
    hard_negatives: bool = True,
    seed: int = 0,
    questions: Callable[[list[Passage]], list[Pair]] | None = None,
) -> list[Pair]:
    """Pairs from every chunk of an index's store (rag.storage.store.ChunkStore), at most `max_pairs`,
    each with a hard negative from `search` (the index's BM25) when asked. `questions` writes the
    "question" kind (rag/tune/queries.py), which comes first: it costs an LLM call a pair."""
    passages = [Passage(cid, path, heading, text, order == 0) for cid, path, heading, text, order in store.passages()]
    asked = questions(passages) if questions is not None and "question" in kinds else []
    pairs = (asked + build_pairs(passages, [k for k in kinds if k != "question"], seed))[:max_pairs]
    return with_hard_negatives(pairs, passages, search) if hard_negatives else pairs
