"""Extracted text -> chunks that fit the embedding model's window. llama-index's SentenceSplitter
does the sentence-aware splitting of prose, counting in the model's own word pieces; Markdown
tables (sheets, slides' and documents' tables) are cut between rows only. This module adds what
the splitter does not keep: each chunk's character span, page and heading."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable

from llama_index.core.node_parser import SentenceSplitter

from ingest.extracted import Extracted
from ingest.readers import PAGED
from rag.sentences import TABLE_SEPARATOR_RE
from rag.storage.store import NewChunk


def locate(text: str, piece: str, cursor: int, reach: int = 0) -> tuple[int, int]:
    """Span of `piece` in `text`, searching from `cursor` first. A piece overlaps or follows the one
    before it (ending at `reach`), so where it occurs several times (a long run of one digit
    split mid-word) the latest start not past `reach` and the whitespace after it is the one that
    leaves no gap. The splitter may collapse whitespace between words, so an exact miss falls back
    to a whitespace-tolerant match."""
    limit = re.compile(r"\s*").match(text, reach).end()
    at = text.rfind(piece, cursor, limit + len(piece))
    if at < 0:
        at = text.find(piece, cursor)
    if at < 0:
        at = text.find(piece)
    if at >= 0:
        return at, at + len(piece)
    pattern = re.compile(r"\s+".join(re.escape(word) for word in piece.split()))
    match = pattern.search(text, cursor) or pattern.search(text)
    if match is None:
        raise ValueError(f"chunk not found in its source text: {piece[:60]!r}")
    return match.start(), match.end()


TABLE_BLOCK_RE = re.compile(r"(?:^\|[^\n]*\|[ \t]*(?:\n|$))+", re.MULTILINE)  # consecutive Markdown table rows


def blocks(text: str) -> list[tuple[bool, int, int]]:
    """(is a table, start, end) for the runs of `text`: Markdown tables and the prose between them."""
    out, at = [], 0
    for m in TABLE_BLOCK_RE.finditer(text):
        if m.start() > at:
            out.append((False, at, m.start()))
        out.append((True, m.start(), m.end()))
        at = m.end()
    if at < len(text):
        out.append((False, at, len(text)))
    return out


def row_groups(table: str, count_tokens: Callable[[str], int], chunk_tokens: int) -> list[tuple[str, str | None]]:
    """A table cut between rows into pieces of at most `chunk_tokens` (a row longer than that is
    a piece alone): a row is never split, so a cell stays beside the cells of its row. Each piece
    after the first comes with the table's header row as its context (searched with it), and
    the header's tokens count against the budget."""
    rows = table.splitlines()
    header = rows[0] if len(rows) > 1 and TABLE_SEPARATOR_RE.match(rows[1]) else None
    header_size = count_tokens(header) if header else 0
    groups: list[list[str]] = [[]]
    used = 0
    for row in rows:
        size = count_tokens(row)
        if groups[-1] and used + size > chunk_tokens:
            groups.append([])
            used = header_size
        groups[-1].append(row)
        used += size
    return [("\n".join(g), header if i else None) for i, g in enumerate(groups) if g]


class Chunker:
    """Splits a document page by page into sentence-aware chunks of at most `chunk_tokens`."""

    def __init__(self, count_tokens: Callable[[str], int], chunk_tokens: int, overlap_tokens: int) -> None:
        if overlap_tokens >= chunk_tokens:
            raise ValueError(f"chunking.overlap_tokens ({overlap_tokens}) must be below chunk_tokens ({chunk_tokens})")
        # the splitter takes the len() of what its tokenizer returns: a range is that count, unbuilt
        self.splitter = SentenceSplitter(chunk_size=chunk_tokens, chunk_overlap=overlap_tokens, tokenizer=lambda text: range(count_tokens(text)))
        self.count_tokens, self.chunk_tokens = count_tokens, chunk_tokens

    def pieces(self, text: str) -> list[tuple[str, str | None]]:
        """(piece, context): prose split by sentences (llama-index's SentenceSplitter), tables
        between rows with their header row as the context of every piece but the first."""
        out: list[tuple[str, str | None]] = []
        for table, a, b in blocks(text):
            part = text[a:b]
            if part.strip():
                out += row_groups(part.strip("\n"), self.count_tokens, self.chunk_tokens) if table else [(p, None) for p in self.splitter.split_text(part)]
        return out

    def chunk(self, doc: Extracted) -> list[NewChunk]:
        bounds = doc.page_starts + [len(doc.text)]
        heading_at = [offset for offset, _ in doc.headings]
        chunks: list[NewChunk] = []
        for page_no, (page_start, page_end) in enumerate(zip(bounds, bounds[1:]), start=1):
            page_text = doc.text[page_start:page_end]
            if not page_text.strip():
                continue
            cursor = reach = 0
            for piece, header in self.pieces(page_text):
                if not piece.strip():
                    continue
                start, end = locate(page_text, piece, cursor, reach)
                cursor, reach = start + 1, max(reach, end)
                start, end = start + page_start, end + page_start
                h = bisect.bisect_right(heading_at, start) - 1
                heading = doc.headings[h][1] if h >= 0 else None
                context = "\n".join(filter(None, [heading, header])) if header else None  # "Ubuntu releases\n| row | version | ..."
                chunks.append(
                    NewChunk(
                        text=doc.text[start:end],
                        start=start,
                        end=end,
                        page=page_no if doc.kind in PAGED else None,
                        heading=heading,
                        ocr=page_no in doc.ocr_pages,
                        context=context,
                    )
                )
        return chunks
