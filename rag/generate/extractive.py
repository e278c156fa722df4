"""An answerer that needs no LLM: the sentences of the top passages closest to the question
(MiniLM cosine), each quoted with its source number. The fallback when no generator loads."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rag.answer import Hit
from rag.embedding import Embedder

LINE_RE = re.compile(r"[^\n]+")
STRUCTURAL_RE = re.compile(r"\s*(?:#|[-*+|]\s|\d+[.)]\s)")  # heading, list item, table row
SENTENCE_END_RE = re.compile(r"[.!?](?=\s|$)")
TOKEN_RE = re.compile(r"\w+")


def _split_block(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    """Cut text[start:end] after sentence-ending punctuation; keep pieces of 3 words or more."""
    cuts = [m.end() for m in SENTENCE_END_RE.finditer(text, start, end)] + [end]
    at = start
    for cut in cuts:
        piece = text[at:cut]
        a = at + len(piece) - len(piece.lstrip())
        b = at + len(piece.rstrip())
        if b > a and len(TOKEN_RE.findall(text[a:b])) >= 3:
            spans.append((a, b))
        at = cut


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of `text`. Paragraph lines are joined, then cut at
    sentence ends; headings, list items and table rows stand alone."""
    spans: list[tuple[int, int]] = []
    block: list[int] = []  # [start, end] of the paragraph being gathered
    for m in LINE_RE.finditer(text):
        if not m.group().strip():
            continue
        structural = STRUCTURAL_RE.match(m.group()) is not None
        if block and (structural or "\n\n" in text[block[1] : m.start()].replace(" ", "")):
            _split_block(text, block[0], block[1], spans)
            block = []
        if structural:
            _split_block(text, m.start(), m.end(), spans)
        elif block:
            block[1] = m.end()
        else:
            block = [m.start(), m.end()]
    if block:
        _split_block(text, block[0], block[1], spans)
    return spans


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
        return " ".join(f"{q.sentence} [{q.n}]" for q in quotes)
