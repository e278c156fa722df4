"""From the reader's span to what an answer shows: the span as written in its passage, the
source number, and the passage sentence it sits in (the citation's quoted sentence)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer import Hit
from rag.generate.short import labelled, table_header
from rag.reader.model import Reading
from rag.sentences import TABLE_SEPARATOR_RE, split_sentences


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


def reader_text(hit: Hit) -> str:
    """What the reader reads of a passage: its text, with each table row written as "column:
    value" pairs (a row of bare cells does not say which date is the release and which the
    creation) and the header and separator lines, which the pairs now carry, left out."""
    header = table_header(hit.text, hit.context)
    if header is None:
        return hit.text
    lines = []
    for line in hit.text.splitlines():
        row = line.strip()
        if TABLE_SEPARATOR_RE.match(row) or (row.startswith("|") and [c.strip() for c in row.strip("|").split("|")] == header):
            continue
        lines.append(labelled(row, hit.text, hit.context) if row.startswith("|") and row.endswith("|") else line)
    return "\n".join(lines)


def span_answer(reading: Reading, texts: Sequence[str]) -> SpanAnswer | None:
    """The reading's best span as an answer over `texts` (the passages it read, in order)."""
    if reading.best is None:
        return None
    text = texts[reading.best.passage]
    phrase = text[reading.best.start : reading.best.end].strip()
    if not phrase:
        return None
    return SpanAnswer(phrase, reading.best.passage + 1, holding_sentence(text, reading.best.start, reading.best.end))
