"""From the reader's span to what an answer shows: the span as written in the text it read (a
table row as "column: value" pairs, rag/answering/tables.py), the source number, and the sentence or row
it sits in (the citation's quoted sentence)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answering.reader.model import Reading
from rag.answering.tables import table_text
from rag.search.hit import Hit
from rag.sentences import split_sentences

COUNT_RE = re.compile(r"(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|several|many)\b", re.I)
LISTED_RE = re.compile(r"\s+[^.:;!?\n\d]*[^\W\d][^.:;!?\n\d]{0,60}?:\s*(?P<items>[^.;!?\n]*?(?:,| and | or )[^.;!?\n]*?)\s*(?:[.;!?\n]|$)")
ASKS_WHICH_RE = re.compile(r"^\W*(?:(?:and|but|so|also)\s+)?(?:which|what)\b", re.I)


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


def listed_after_count(question: str, text: str, start: int, end: int) -> str | None:
    """The list a count announces when the span is that count and the question asks which or what
    ("three apple varieties: Boskoop, Elstar and Topaz" for "Which apple varieties ...?"): the
    reader marks the count, the asker wants the items; None otherwise (a "how many" question
    keeps its count)."""
    if not ASKS_WHICH_RE.match(question) or not COUNT_RE.fullmatch(text[start:end].strip()):
        return None
    listed = LISTED_RE.match(text, end)
    return listed.group("items").strip() if listed else None


def span_answer(reading: Reading, texts: Sequence[str], numbers: Sequence[int], question: str = "") -> SpanAnswer | None:
    """The reading's best span as an answer over `texts` (the passages it read, in order; their
    source numbers are `numbers`); a count before a list, asked "which", becomes the list."""
    if reading.best is None:
        return None
    text, start, end = texts[reading.best.passage], reading.best.start, reading.best.end
    phrase = listed_after_count(question, text, start, end) or text[start:end].strip()
    if not phrase:
        return None
    return SpanAnswer(phrase, numbers[reading.best.passage], holding_sentence(text, start, end))
