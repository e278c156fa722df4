"""Table passages for whoever reads them (the reader, an LLM, a quoted citation): each row as
"column: value" pairs, and, for a question, only the rows it names.

A row of bare cells does not say which date is the release and which the creation, and a chunk
of twenty rows gave the reader twenty candidate dates: on 25 questions over the samples' tables
(eval/data/tables_samples.jsonl) the reader found the answer in 0.28 of them reading whole
chunks. Picking the rows that hold the question's rarest words first (a name, a version, a
date) and reading those alone is how table QA is usually done (row retrieval, then the cell).
Markdown tables (what ingest writes for sheets, CSV, slides, PDF and DOCX tables) and plain-text
tables of pipes ("uid | name" over "----+-----") are both read."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache

CELL_SPLIT_RE = re.compile(r"(?<!\\)\|")  # a cell border: a pipe not escaped as \|
SEPARATOR_RE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:[|+]\s*:?-{2,}:?\s*)*\|?\s*$")  # | --- | --- | or ----+----
TERM_RE = re.compile(r"\w[\w.'-]*\w|\w")  # "22.04", "2023-06-10" and "mysql-server" stay whole
ROW_NUMBER = "row"  # the first column ingest adds to sheets and CSV files: where the row is, not what it says
ASKING = frozenset(
    "a an the of in on for to and or is are was were be been do does did what which who whom whose when where why how it its "
    "that this there with by at as from has have had many much".split()
)
KEEP_ROWS = 2  # rows read for a question: the best and a close second (a tie between two versions)


def cells(line: str) -> list[str]:
    """The cells of a table line, with or without outer pipes."""
    text = line.strip()
    parts = CELL_SPLIT_RE.split(text)
    if text.startswith("|"):
        parts = parts[1:]
    if text.endswith("|") and not text.endswith("\\|"):
        parts = parts[:-1]
    return [p.strip() for p in parts]


def is_row(line: str) -> bool:
    return len(CELL_SPLIT_RE.findall(line)) >= 1 and len(cells(line)) >= 2 and not SEPARATOR_RE.match(line)


def table_header(passage: str, context: str | None) -> list[str] | None:
    """The header cells of the table in a passage: the row above its separator line, else its
    context's last line when that is a row (a table cut into pieces repeats its header there)."""
    lines = passage.splitlines()
    for i, line in enumerate(lines[1:], start=1):
        if SEPARATOR_RE.match(line) and is_row(lines[i - 1]):
            return cells(lines[i - 1])
    if context and is_row(context.splitlines()[-1]):
        return cells(context.splitlines()[-1])
    return None


def labelled(row: str, header: list[str] | None, columns: set[int] | None = None) -> str:
    """A row as "column: value" pairs (empty cells, the sheet's row number and columns not in
    `columns` left out); the line as it is when it is not a row of this header."""
    values = cells(row) if is_row(row) else []
    if not header or len(values) != len(header):
        return row
    pairs = [(h, v) for k, (h, v) in enumerate(zip(header, values, strict=True)) if v and h.lower() != ROW_NUMBER and (columns is None or k in columns)]
    return "; ".join(f"{h}: {v}" for h, v in pairs)


def terms(text: str) -> set[str]:
    return {t.removesuffix("'s") for t in TERM_RE.findall(text.lower()) if t not in ASKING}


@cache
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def stems(text: str) -> set[str]:
    """Terms stemmed, so "released" names the column "release"."""
    return set(_stemmer().stemWords(sorted(terms(text))))


def numbers(text: str) -> set[str]:
    """The terms that hold a digit: versions, ids, dates, the surest names a row has."""
    return {t for t in terms(text) if any(ch.isdigit() for ch in t)}


def specific(question: str) -> bool:
    """Whether the question names something a row would hold: a number or a capitalised word after its first."""
    words = question.split()
    return bool(numbers(question)) or any(w[:1].isupper() for w in words[1:])


def _row_scores(question: str, rows: dict[int, list[str]]) -> dict[int, float]:
    """Each row's weight of the question's terms in its cells: rarer across the rows weighs more,
    and a cell the question names whole ("mysql") twice a word inside one ("tac-plus user"). A
    question that names a number ("Debian 12") scores only the rows that hold one of its numbers."""
    asked, wanted = terms(question), numbers(question)
    spread = Counter(t for cells_ in rows.values() for t in set().union(*map(terms, cells_)))
    score = {}
    for i, cells_ in rows.items():
        held_all = set().union(*map(terms, cells_))
        total = 0.0
        if not wanted or wanted & held_all:
            for cell in cells_:
                held = terms(cell)
                found = held & asked
                total += sum(math.log(1 + len(rows) / spread[t]) for t in found) * (2 if found and held <= asked else 1)
        score[i] = total
    return score


def _acronym(name: str, question: str) -> bool:
    """Whether the question spells a column's short name out: "end of life" for "eol"."""
    if not name.isalpha() or not 2 <= len(name) <= 5:
        return False
    initials = "".join(w[0] for w in re.findall(r"[a-z0-9]+", question.lower()))
    return name.lower() in initials


def _named(question: str, header: list[str], key: set[int]) -> set[int]:
    """The columns whose name the question uses ("released" -> release, "end of life" -> eol), its key columns aside."""
    asked = stems(question)
    return {k for k, name in enumerate(header) if stems(name) & asked or _acronym(name, question)} - key


@dataclass(frozen=True)
class Focus:
    """What of a table a question asks about: the rows to read, the columns to keep of a single
    row (None: all), and the one cell it names (a single row and a single named column)."""

    rows: set[int]
    columns: set[int] | None = None
    cell: tuple[int, int] | None = None  # (line, column)


def focus(question: str, lines: list[str], header: list[str] | None, rows: list[int]) -> Focus:
    """The rows that hold the question's rarest words (the best `KEEP_ROWS`, those scoring over
    half the best); none when it names something no row holds (that table is not the one asked
    about); of a single row, its key cells, its first column and the columns the question names."""
    lowered = [h.lower() for h in header or []]
    number = lowered.index(ROW_NUMBER) if ROW_NUMBER in lowered else None
    values = {i: [c if k != number else "" for k, c in enumerate(cells(lines[i]))] for i in rows}
    score = _row_scores(question, values)
    best = sorted(rows, key=lambda i: -score[i])[:KEEP_ROWS]
    if score[best[0]] <= 0:
        return Focus(set() if specific(question) else set(rows))
    keep = {i for i in best if score[i] > score[best[0]] / 2}
    if len(keep) > 1 or header is None or len(values[best[0]]) != len(header):
        return Focus(keep)
    row = values[best[0]]
    key = {k for k, cell in enumerate(row) if terms(cell) & terms(question)}
    named = {k for k in _named(question, header, key) if row[k]}
    if not named:
        return Focus(keep)
    first = next(k for k, cell in enumerate(row) if k != number)
    cell = (best[0], next(iter(named))) if len(named) == 1 else None
    return Focus(keep, key | named | {first}, cell)


def _table(passage: str, context: str | None) -> tuple[list[str], list[str] | None, list[int]]:
    """(the passage's lines, its table's header cells or None, the lines that are rows)."""
    lines = passage.splitlines()
    header = table_header(passage, context)
    rows = [i for i, line in enumerate(lines) if is_row(line) and cells(line) != header]
    if header is None and len(rows) < 2:
        rows = []
    return lines, header, rows


def table_text(passage: str, context: str | None, question: str | None = None) -> str:
    """The passage with its table rows labelled and its header and separator lines left out (the
    pairs carry them); with a question, only what `focus` keeps. A passage without a table comes
    back unchanged."""
    lines, header, rows = _table(passage, context)
    if not rows:
        return passage
    chosen = focus(question, lines, header, rows) if question else Focus(set(rows))
    out = []
    for i, line in enumerate(lines):
        if SEPARATOR_RE.match(line) or (header is not None and is_row(line) and cells(line) == header):
            continue
        if i not in rows:
            out.append(line)
        elif i in chosen.rows:
            out.append(labelled(line, header, chosen.columns))
    return "\n".join(out)


@dataclass(frozen=True)
class Cell:
    value: str  # verbatim from the table
    row: str  # its row as "column: value" pairs: what the citation quotes


def cell_answer(question: str, passage: str, context: str | None) -> Cell | None:
    """The cell a question names outright: one row picked out by its words and one other column
    by its name ("When was Debian bookworm released?" -> bookworm's row, the release column);
    None when either is unclear, and the reader reads instead."""
    lines, header, rows = _table(passage, context)
    if not rows or header is None:
        return None
    chosen = focus(question, lines, header, rows)
    if chosen.cell is None:
        return None
    line, column = chosen.cell
    return Cell(cells(lines[line])[column], labelled(lines[line], header, chosen.columns))
