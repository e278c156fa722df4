"""BM25 over chunk ids: bm25s (sparse-matrix BM25, ~60x faster per query than rank-bm25 with
the same ranking) over lower-cased, stopword-filtered, Snowball-stemmed word tokens."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

from rag.config import BM25Settings

TOKEN_RE = re.compile(r"(?u)\b\w\w+\b")  # the same word pattern bm25s and scikit-learn use
STOPWORDS = {"en": frozenset(STOPWORDS_EN)}
STEM_CACHE = 1_000_000  # words; cleared when full


class Tokenizer:
    """Text -> BM25 terms. One instance serves both indexing and queries, so they always agree."""

    def __init__(self, stemmer: str | None = "english", stopwords: str | None = "en") -> None:
        self._stemmer = Stemmer.Stemmer(stemmer) if stemmer else None
        self._stopwords = STOPWORDS[stopwords] if stopwords else frozenset()
        self._stems: dict[str, str] = {}  # word -> stem: a vocabulary is small next to its text

    def __call__(self, text: str) -> list[str]:
        words = [w for w in TOKEN_RE.findall(text.lower()) if w not in self._stopwords]
        if self._stemmer is None:
            return words
        stems = self._stems
        new = [w for w in set(words) if w not in stems]
        if new:
            if len(stems) > STEM_CACHE:
                stems.clear()
            stems.update(zip(new, self._stemmer.stemWords(new)))
        return [stems[w] for w in words]


@dataclass
class SparseIndex:
    """A bm25s index whose row i is chunk `ids[i]`."""

    ids: np.ndarray
    bm25: bm25s.BM25
    tokenizer: Tokenizer
    _df: np.ndarray | None = field(default=None, repr=False)  # documents per term, read from the matrix once

    @classmethod
    def build(cls, chunks: Iterable[tuple[int, str]], settings: BM25Settings) -> SparseIndex:
        tokenizer = Tokenizer(settings.stemmer, settings.stopwords)
        ids, tokens = [], []
        for chunk_id, text in chunks:
            ids.append(chunk_id)
            tokens.append(tokenizer(text))
        bm25 = bm25s.BM25(method=settings.method, k1=settings.k1, b=settings.b)
        if any(tokens):  # bm25s cannot index a collection without a single term (found by fuzzing)
            bm25.index(tokens, show_progress=False)
        return cls(np.asarray(ids, dtype=np.int64), bm25, tokenizer)

    @property
    def indexed(self) -> bool:
        return bool(getattr(self.bm25, "vocab_dict", None))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "ids.npy", self.ids)
        if self.indexed:
            self.bm25.save(str(folder), show_progress=False)
        (folder / "sparse.json").write_text(json.dumps({"count": int(len(self.ids)), "indexed": self.indexed}))

    @classmethod
    def load(cls, folder: Path, settings: BM25Settings) -> SparseIndex:
        ids = np.load(folder / "ids.npy")
        meta = json.loads((folder / "sparse.json").read_text())
        count = meta["count"]
        if count != len(ids):
            raise ValueError(f"{folder}: BM25 ids file holds {len(ids)} ids, manifest says {count}")
        if meta.get("indexed", bool(len(ids))):
            bm25 = bm25s.BM25.load(str(folder), mmap=False, show_progress=False)
            if bm25.scores["num_docs"] != len(ids):
                raise ValueError(f"{folder}: BM25 matrix has {bm25.scores['num_docs']} rows for {len(ids)} ids")
        else:
            bm25 = bm25s.BM25(method=settings.method, k1=settings.k1, b=settings.b)
        return cls(ids, bm25, Tokenizer(settings.stemmer, settings.stopwords))

    def __len__(self) -> int:
        return len(self.ids)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every row for `query` (zeros when no query term is in the index)."""
        terms = self.tokenizer(query)
        if not self.indexed or not terms:
            return np.zeros(len(self.ids), dtype=np.float32)
        return self.bm25.get_scores(terms)

    def idf(self, terms: list[str]) -> np.ndarray:
        """log((N + 1) / (df + 0.5)) per term, from the index's own document frequencies; a term
        the collection never saw gets the highest value, as the rarest possible."""
        n = len(self.ids)
        if self._df is None:
            self._df = np.diff(np.asarray(self.bm25.scores["indptr"])) if self.indexed else np.zeros(0, dtype=np.int64)
        vocab = getattr(self.bm25, "vocab_dict", None) or {}
        return idf_of(n, np.array([self._df[vocab[t]] if t in vocab else 0 for t in terms], dtype=np.float64))

    def term_share(self, query: str, texts: Sequence[str]) -> np.ndarray:
        return term_share(self.tokenizer, self.idf, query, texts)

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, scores) of the k best rows with a positive score, best first; only rows
        whose chunk id is in `allowed` when it is given."""
        scores = self.scores(query)
        if allowed is not None:
            scores = np.where(np.isin(self.ids, allowed), scores, 0.0)
        k = min(k, len(scores))
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return self.ids[top], scores[top].astype(np.float32)


def idf_of(n: int, df: np.ndarray) -> np.ndarray:
    """log((N + 1) / (df + 0.5)): the IDF the answer's checks weigh query terms by."""
    return np.log((n + 1) / (df + 0.5))


def term_share(tokenizer: Tokenizer, idf: Callable[[list[str]], np.ndarray], query: str, texts: Sequence[str]) -> np.ndarray:
    """For each text, the IDF-weighted share of the query's terms it contains (0 to 1): how
    much of what the query asks about, rare terms counting most, a text mentions."""
    terms = list(dict.fromkeys(tokenizer(query)))
    weights = dict(zip(terms, idf(terms).tolist(), strict=True))
    total = sum(weights.values())
    if not terms or total <= 0:
        return np.zeros(len(texts))
    return np.array([sum(weights[t] for t in set(tokenizer(text)) if t in weights) / total for text in texts])
