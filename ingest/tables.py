"""Tables as Markdown text, for every reader that meets one (sheets, CSV, slides, PDF and DOCX
tables): one line a row, so the chunker can cut between rows and a cell stays beside its row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence


def cell_text(value: object) -> str:
    """A cell as one line of table text: integral floats without ".0", dates in ISO form, pipes escaped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, dt.datetime) and value.time() == dt.time():
        value = value.date()
    if isinstance(value, dt.date | dt.time):
        value = value.isoformat()
    return " ".join(str(value).split()).replace("|", "\\|")


def markdown_table(rows: Iterable[tuple[int | None, Sequence[object]]]) -> str:
    """Markdown table lines from (row number, cells); the first non-empty row is the header. Row
    numbers, when given, become a first column named "row"; empty rows are left out."""
    lines: list[str] = []
    width = 0
    for number, cells in rows:
        texts = [cell_text(c) for c in cells]
        while texts and not texts[-1]:
            texts.pop()
        if not texts:
            continue
        if number is not None:
            texts = [str(number), *texts]
        if not lines:
            width = len(texts)
            if number is not None:
                texts[0] = "row"
            lines += ["| " + " | ".join(texts) + " |", "|" + " --- |" * width]
        else:
            lines.append("| " + " | ".join(texts + [""] * (width - len(texts))) + " |")
    return "\n".join(lines)
