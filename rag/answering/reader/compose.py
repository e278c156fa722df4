"""From the reader's span to what an answer shows: the span as written in the text it read (a
table row as "column: value" pairs, rag/answering/tables.py), the source number, and the sentence or row
it sits in (the citation's quoted sentence)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.answering.reader.model import Reading
from rag.answering.tables import table_text
from rag.search.hit import Hit
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


def read_texts(question: str, hits: Sequence[Hit], passages: int) -> tuple[list[int], list[str]]:
    """(source numbers, texts) of the first `passages` hits that leave something to read once a
    table is cut to the rows the question names (rag/answering/tables.py): a chunk of another part of the
    table is skipped, not counted, so the chunk with the row is still read."""
    numbers, texts = [], []
    for n, hit in enumerate(hits, start=1):
        text = table_text(hit.text, hit.context, question)
        if text.strip():
            numbers.append(n)
            texts.append(text)
        if len(texts) == passages:
            break
    return numbers, texts


def span_answer(reading: Reading, texts: Sequence[str], numbers: Sequence[int]) -> SpanAnswer | None:
    """The reading's best span as an answer over `texts` (the passages it read, in order; their
    source numbers are `numbers`)."""
    if reading.best is None:
        return None
    text = texts[reading.best.passage]
    phrase = text[reading.best.start : reading.best.end].strip()
    if not phrase:
        return None
    return SpanAnswer(phrase, numbers[reading.best.passage], holding_sentence(text, reading.best.start, reading.best.end))
