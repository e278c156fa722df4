"""Slides and sheets -> text: PPTX through python-pptx (one page a slide: its title as the
heading, its text boxes, tables and speaker notes), XLSX through openpyxl and CSV through the
csv module (one page a sheet, its name as the heading, each row a Markdown table row that starts
with the sheet's own row number, so a cited row can be found in the file)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ingest.extracted import Extracted, Limits, ReadError, check_zip, decode_text, join_pages
from ingest.tables import markdown_table

MAX_CELLS = 2_000_000  # a sheet past this is refused rather than read into memory


def paged(kind: str, pages: list[tuple[str, str]]) -> Extracted:
    """Extracted text from (heading, page text) pairs: pages joined, each starting a new page."""
    extracted = join_pages(kind, [text for _, text in pages])
    if not extracted.text.strip():
        raise ReadError(f"no text content (the {kind.upper()} file has no {'slides with text' if kind == 'pptx' else 'cells'})")
    for start, (heading, text) in zip(extracted.page_starts, pages, strict=False):
        if heading:
            extracted.headings.append((start + max(text.find(heading), 0), heading))
    return extracted


def read_pptx(path: Path, limits: Limits) -> Extracted:
    """One page a slide: its title, text frames (paragraph by paragraph), tables and notes."""
    from pptx import Presentation

    check_zip(path, limits, "PPTX")
    try:
        deck = Presentation(str(path))
    except Exception as exc:  # python-pptx raises several types for damaged files
        raise ReadError(f"not a valid PPTX file: {type(exc).__name__}: {exc}") from None
    pages = []
    for slide in deck.slides:
        title = slide.shapes.title.text_frame.text.strip() if slide.shapes.title is not None else ""
        lines = [title] if title else []
        for shape in slide.shapes:
            if shape.has_text_frame and shape != slide.shapes.title:
                lines += [p.strip() for p in shape.text_frame.text.splitlines() if p.strip()]
            if getattr(shape, "has_table", False) and shape.has_table:
                table = [[cell.text for cell in row.cells] for row in shape.table.rows]
                lines.append(markdown_table((None, row) for row in table))
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame.text.strip():
            lines.append("Notes: " + " ".join(slide.notes_slide.notes_text_frame.text.split()))
        pages.append((" ".join(title.split()), "\n\n".join(lines)))  # a paragraph a block: bullets end no sentence
    return paged("pptx", pages)


def read_xlsx(path: Path, limits: Limits) -> Extracted:
    """One page a sheet, cached formula values (what the file shows), row numbers kept."""
    from openpyxl import load_workbook

    check_zip(path, limits, "XLSX")
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for damaged files
        raise ReadError(f"not a valid XLSX file: {type(exc).__name__}: {exc}") from None
    try:
        pages = []
        for sheet in book.worksheets:
            cells = (sheet.max_row or 0) * (sheet.max_column or 0)
            if cells > MAX_CELLS:
                raise ReadError(f"sheet {sheet.title!r} has {cells} cells, over the limit of {MAX_CELLS}")
            rows = ((row[0].row, [c.value for c in row]) for row in sheet.iter_rows() if row and hasattr(row[0], "row"))
            table = markdown_table(rows)
            if table:
                pages.append((sheet.title, f"{sheet.title}\n{table}"))
    finally:
        book.close()
    return paged("xlsx", pages)


def read_csv(path: Path, data: bytes) -> Extracted:
    """One page: the file's rows as a table, the delimiter sniffed (comma when unsure)."""
    text = decode_text(data)
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = list(csv.reader(io.StringIO(text), dialect))
    except csv.Error as exc:
        raise ReadError(f"not a readable CSV file: {exc}") from None
    if sum(len(r) for r in rows) > MAX_CELLS:
        raise ReadError(f"over the limit of {MAX_CELLS} cells")
    return paged("csv", [(path.name, f"{path.name}\n{markdown_table(enumerate(rows, start=1))}")])
