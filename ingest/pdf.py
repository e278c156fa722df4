"""PDF -> text page by page: the text layer through llama-index's PDFReader (pypdf); pages with
tables through pdfplumber, each table as Markdown rows in its place; pages without a usable
text layer through OCR (ingest/ocr.py); and running page headers and footers (the same line at
the top or bottom of most pages) removed, so they are not glued to the sentences under them."""

from __future__ import annotations

import logging
import re
import warnings
from collections import Counter
from pathlib import Path

from ingest.extracted import Extracted, Limits, ReadError, join_pages, require_text
from ingest.ocr import OcrOptions, OcrUnavailable, ocr_pages
from ingest.tables import markdown_table

log = logging.getLogger("ingest")
EDGE_LINES = 2  # lines at the top and at the bottom of a page that may be a running header or footer
RUNNING_SHARE = 0.5  # a line on at least this share of the pages (and 3 of them) is a running line
DIGITS_RE = re.compile(r"\d+")


def line_key(line: str) -> str:
    """A line with its numbers blanked, so "Page 3 of 17" and "Page 4 of 17" count as one line."""
    return DIGITS_RE.sub("#", " ".join(line.split())).lower()


def strip_running_lines(pages: list[str]) -> list[str]:
    """`pages` without the lines that repeat at the top or bottom of most of them (past the first)."""
    if len(pages) < 3:
        return pages
    counts: Counter[str] = Counter()
    for page in pages:
        lines = [ln for ln in page.splitlines() if ln.strip()]
        counts.update({line_key(ln) for ln in lines[:EDGE_LINES] + lines[-EDGE_LINES:]})
    running = {k for k, n in counts.items() if n >= max(3, RUNNING_SHARE * len(pages))}
    if not running:
        return pages
    out = [pages[0]]  # the first page keeps them: there the repeated line is usually the title
    for page in pages[1:]:
        lines = page.splitlines()
        content = [i for i, ln in enumerate(lines) if ln.strip()]
        drop = {i for i in content[:EDGE_LINES] + content[-EDGE_LINES:] if line_key(lines[i]) in running}
        out.append("\n".join(ln for i, ln in enumerate(lines) if i not in drop))
    return out


def page_with_tables(page) -> str | None:
    """A pdfplumber page's text with each table as Markdown rows in its place; None without tables."""
    tables = sorted(page.find_tables(), key=lambda t: t.bbox[1])
    if not tables:
        return None

    def outside(obj: dict) -> bool:
        x, y = (obj["x0"] + obj["x1"]) / 2, (obj["top"] + obj["bottom"]) / 2
        return not any(t.bbox[0] <= x <= t.bbox[2] and t.bbox[1] <= y <= t.bbox[3] for t in tables)

    text_only = page.filter(outside)
    parts, top = [], 0.0
    for table in tables:
        if table.bbox[1] > top:
            parts.append(text_only.crop((0, top, page.width, table.bbox[1])).extract_text())
        parts.append(markdown_table((None, row) for row in table.extract()))
        top = table.bbox[3]
    if top < page.height:
        parts.append(text_only.crop((0, top, page.width, page.height)).extract_text())
    return "\n".join(p for p in parts if p.strip())


def with_tables(pages: list[str], path: Path, skip: set[int] = frozenset()) -> list[str]:
    """`pages` with each page that holds a table (bar the 1-based pages in `skip`) re-read by
    pdfplumber: pypdf flattens a table's cells into one run of words. Finding tables costs 50-90 ms
    a page (the samples' 17-page PDF: 0.9-1.5 s, against 0.3-0.5 s for its text layer)."""
    import pdfplumber

    out = list(pages)
    try:
        with pdfplumber.open(path) as pdf:
            for i, page in enumerate(pdf.pages[: len(pages)]):
                text = None if i + 1 in skip else page_with_tables(page)
                if text is not None:
                    out[i] = text
    except Exception as exc:  # pdfminer raises many types on damaged files: keep the text layer
        log.warning("%s: tables not read (%s: %s); kept the text layer", path.name, type(exc).__name__, exc)
        return pages
    return out


def read_pdf(path: Path, limits: Limits = Limits(), ocr: OcrOptions = OcrOptions()) -> Extracted:
    from llama_index.readers.file import PDFReader
    from pypdf import PdfReader

    try:
        count = len(PdfReader(path).pages)
    except Exception as exc:  # pypdf raises many types for damaged files
        raise ReadError(f"not a readable PDF: {type(exc).__name__}: {exc}") from None
    if count > limits.max_pdf_pages:
        raise ReadError(f"{count} pages, over the limit of {limits.max_pdf_pages} (ingest.max_pdf_pages)")

    # PDFReader retries failures 3 times; a broken PDF will not mend, so call it once.
    load_once = PDFReader.load_data.__wrapped__
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pages = [doc.text for doc in load_once(PDFReader(), path)]
    except Exception as exc:  # pypdf raises many types for damaged files
        raise ReadError(f"not a readable PDF: {type(exc).__name__}: {exc}") from None
    try:
        pages, done = ocr_pages(pages, path, ocr)
    except OcrUnavailable as exc:
        raise ReadError(f"{len(pages)} page(s) without a usable text layer: {exc}") from None
    pages = with_tables(pages, path, skip=set(done))
    extracted = join_pages("pdf", strip_running_lines(pages), done)
    require_text(extracted.text, f"{len(pages)} page(s) with no text, not even by OCR")
    return extracted
