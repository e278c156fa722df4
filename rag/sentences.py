"""Sentence spans in passage and answer text, for extractive answers and citation support.
Paragraph lines are joined and cut at sentence ends; headings, list items and table rows stand
alone, so a Markdown title is never glued to the sentence under it."""

from __future__ import annotations

import re

LINE_RE = re.compile(r"[^\n]+")
STRUCTURAL_RE = re.compile(r"\s*(?:#|[-*+|]\s|\d+[.)]\s)")  # heading, list item, table row
SENTENCE_END_RE = re.compile(r"[.!?](?=\s|$)")
TOKEN_RE = re.compile(r"\w+")
TABLE_SEPARATOR_RE = re.compile(r"^\|(?:\s*:?-{3,}:?\s*\|)+\s*$")  # | --- | --- |: the line under a Markdown table's header


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
