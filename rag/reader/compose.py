"""From the reader's span to what an answer shows: the span as written in its passage, the
source number, and the passage sentence it sits in (the citation's quoted sentence)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer import Hit
from rag.reader.model import Reading
from rag.sentences import split_sentences


@dataclass(frozen=True)
class SpanAnswer:
    phrase: str  # verbatim from the passage: faithful by construction
    n: int  # 1-based source number among the hits
    sentence: str  # the passage sentence that holds it


def holding_sentence(text: str, start: int, end: int) -> str:
    """The sentence of `text` that holds characters [start, end); the sentences it spans when it
    crosses a boundary; the line when the splitter finds none (a short table row)."""
    spans = [(a, b) for a, b in split_sentences(text) if a < end and start < b]
    if spans:
        a, b = spans[0][0], spans[-1][1]
    else:
        a = text.rfind("\n", 0, start) + 1
        b = text.find("\n", end)
        b = len(text) if b < 0 else b
    return " ".join(text[a:b].split())


def span_answer(reading: Reading, hits: Sequence[Hit]) -> SpanAnswer | None:
    """The reading's best span as an answer over `hits` (the passages it read, in order)."""
    if reading.best is None:
        return None
    hit = hits[reading.best.passage]
    phrase = hit.text[reading.best.start : reading.best.end].strip()
    if not phrase:
        return None
    return SpanAnswer(phrase, reading.best.passage + 1, holding_sentence(hit.text, reading.best.start, reading.best.end))
