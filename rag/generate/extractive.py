"""An answerer that needs no LLM: the sentences of the top passages closest to the question
(MiniLM cosine), each quoted with its source number. The fallback when no generator loads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.answer import Hit
from rag.citations import CITE_RE
from rag.embedding import Embedder
from rag.sentences import TOKEN_RE, split_sentences

DEFUSED = r"(\1)"  # [9] inside a quoted sentence -> (9)


def informative(sentence: str, asked: set[str]) -> bool:
    """A sentence that only repeats the question's words (a title, say) answers nothing."""
    return any(w.lower() not in asked for w in TOKEN_RE.findall(sentence) if len(w) > 2)


@dataclass
class Quote:
    n: int  # source number, 1-based
    sentence: str
    score: float


class ExtractiveAnswerer:
    def __init__(self, embedder: Embedder, sentences: int = 2, min_similarity: float = 0.3, max_sources: int = 5) -> None:
        self.embedder = embedder
        self.sentences = sentences
        self.min_similarity = min_similarity
        self.max_sources = max_sources

    def quotes(self, question: str, sources: Sequence[Hit]) -> list[Quote]:
        """Up to `sentences` distinct sentences at or above `min_similarity`, best first."""
        asked = {w.lower() for w in TOKEN_RE.findall(question)}
        candidates = [
            (n, sentence)
            for n, hit in enumerate(sources[: self.max_sources], start=1)
            for sentence in (" ".join(hit.text[a:b].split()) for a, b in split_sentences(hit.text))
            if not sentence.startswith("#") and informative(sentence, asked)
        ]
        if not candidates:
            return []
        vectors = self.embedder.encode([question] + [s for _, s in candidates])
        similarity = vectors[1:] @ vectors[0]
        order = np.argsort(-similarity, kind="stable")
        picked: list[Quote] = []
        for i in order:
            n, sentence = candidates[i]
            if similarity[i] < self.min_similarity or len(picked) == self.sentences:
                break
            if all(sentence != q.sentence for q in picked):
                picked.append(Quote(n, sentence, float(similarity[i])))
        return picked

    @staticmethod
    def compose(quotes: Sequence[Quote]) -> str:
        """The quotes, each followed by its [n]; a bracketed number inside a quote becomes (n),
        so a document cannot forge a citation."""
        return " ".join(f"{CITE_RE.sub(DEFUSED, q.sentence)} [{q.n}]" for q in quotes)
