"""File -> extracted text with page starts and headings. PDF through ingest/pdf.py (llama-index's
reader, pdfplumber for tables, OCR for scans), images through OCR (ingest/ocr.py), DOCX through
python-docx, slides and sheets through ingest/office.py; HTML through BeautifulSoup (llama-index returns it as raw markup);
Markdown and text are decoded here, because llama-index reads them with errors ignored and
would silently drop the bytes of a non-UTF-8 file."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from ingest.extracted import Extracted, Limits, ReadError, check_zip, decode_text, join_pages, normalise, require_text
from ingest.ocr import OcrOptions, image_frames, image_text
from ingest.tables import markdown_table

KINDS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".csv": "csv",
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".tif": "image",
    ".tiff": "image",
}
PAGED = frozenset({"pdf", "pptx", "xlsx", "image"})  # kinds whose chunks carry a page: the PDF page, the slide, the sheet, the frame
MD_HEADING_RE = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
DOCX_HEADING_STYLE_RE = re.compile(r'<w:pStyle w:val="(?:Heading|Title)')
XML_TEXT_RE = re.compile(r"<w:t(?: [^>]*)?>([^<]*)</w:t>")


def kind_of(path: Path) -> str | None:
    return KINDS.get(path.suffix.lower())


def _locate_headings(text: str, titles: list[str]) -> list[tuple[int, str]]:
    """Offsets of `titles` found in order in `text` (titles not found are dropped)."""
    found, cursor = [], 0
    for title in titles:
        title = " ".join(title.split())
        at = text.find(title, cursor) if title else -1
        if at >= 0:
            found.append((at, title))
            cursor = at + len(title)
    return found


def read_image(path: Path, ocr: OcrOptions = OcrOptions()) -> Extracted:
    """An image file through OCR, one page a frame."""
    from PIL import UnidentifiedImageError

    try:
        pages = [image_text(frame, ocr, f"image page {i}") for i, frame in enumerate(image_frames(path), start=1)]
    except (UnidentifiedImageError, OSError) as exc:
        raise ReadError(f"not a readable image: {exc}") from None
    except RuntimeError as exc:  # OcrUnavailable, or the page time limit
        raise ReadError(str(exc)) from None
    extracted = join_pages("image", pages, list(range(1, len(pages) + 1)))
    require_text(extracted.text, "OCR found no text in the image")
    return extracted


def read_docx(path: Path, limits: Limits = Limits()) -> Extracted:
    """Paragraphs and tables in document order (python-docx; docx2txt, which llama-index's
    DocxReader uses, flattens a table into one cell a line), tables as Markdown rows."""
    import docx
    from docx.table import Table

    check_zip(path, limits, "DOCX")
    try:
        document = docx.Document(str(path))
        parts = [
            markdown_table((None, [cell.text for cell in row.cells]) for row in item.rows) if isinstance(item, Table) else item.text
            for item in document.iter_inner_content()
        ]
        with zipfile.ZipFile(path) as zf:
            xml = zf.read("word/document.xml").decode("utf-8", errors="replace")
    except Exception as exc:  # python-docx and lxml raise several types for damaged files
        raise ReadError(f"not a valid DOCX file: {type(exc).__name__}: {exc}") from None
    text = normalise("\n\n".join(p for p in parts if p.strip()))
    require_text(text, "the document has no text")
    paragraphs = xml.split("</w:p>")
    titles = ["".join(XML_TEXT_RE.findall(p)) for p in paragraphs if DOCX_HEADING_STYLE_RE.search(p)]
    return Extracted("docx", text, headings=_locate_headings(text, titles))


def read_html(data: bytes) -> Extracted:
    from bs4 import BeautifulSoup

    if not data.strip():
        raise ReadError("empty file")
    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head"]):
        tag.decompose()
    lines = (" ".join(line.split()) for line in soup.get_text("\n").splitlines())
    text = "\n".join(line for line in lines if line)
    require_text(text, "the page has no visible text")
    titles = [h.get_text(" ") for h in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6"])]
    return Extracted("html", text, headings=_locate_headings(text, titles))


def read_plain(data: bytes, kind: str) -> Extracted:
    if not data:
        raise ReadError("empty file")
    text = require_text(normalise(decode_text(data)), "only whitespace")
    headings = [(m.start(), m.group(1).strip()) for m in MD_HEADING_RE.finditer(text)] if kind == "markdown" else []
    return Extracted(kind, text, headings=headings)


def read_document(path: Path, data: bytes, limits: Limits = Limits(), ocr: OcrOptions = OcrOptions()) -> Extracted:
    """Extract `path` (whose bytes are `data`); raises ReadError with a specific reason."""
    kind = kind_of(path)
    if kind is None:
        raise ReadError(f"unsupported file type {path.suffix!r}")
    if not data:
        raise ReadError("empty file")
    if kind == "pdf":
        from ingest.pdf import read_pdf

        return read_pdf(path, limits, ocr)
    if kind == "image":
        return read_image(path, ocr)
    if kind == "docx":
        return read_docx(path, limits)
    if kind in ("pptx", "xlsx", "csv"):
        from ingest import office

        return office.read_pptx(path, limits) if kind == "pptx" else office.read_xlsx(path, limits) if kind == "xlsx" else office.read_csv(path, data)
    if kind == "html":
        return read_html(data)
    return read_plain(data, kind)
