"""Text from images through Tesseract (pytesseract): image files (PNG, JPEG, TIFF, one page a
frame) and PDF pages without a usable text layer (rendered by pypdfium2, which pdfplumber
brings). Each page has a time limit; a missing Tesseract is a clear error, never an empty file."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("ingest")
WORD_RE = re.compile(r"[^\W\d_]{2,}")  # a run of two or more letters
TOKEN_RE = re.compile(r"[^\W_]{2,}")  # letters or digits: a page of figures is text too
MIN_WORDS = 3
MIN_WORD_SHARE = 0.5
INSTALL = "apt install tesseract-ocr tesseract-ocr-eng (make setup does)"


class OcrUnavailable(RuntimeError):
    """Tesseract is not installed (or OCR is switched off) and a page needs it."""


@dataclass(frozen=True)
class OcrOptions:
    """ingest.ocr* settings: on or off, Tesseract's languages ("eng", "eng+deu"), time per page, resolution."""

    enabled: bool = True
    languages: str = "eng"
    page_timeout_s: float = 60.0
    dpi: int = 300


def usable_text(text: str) -> bool:
    """Whether a PDF page's text layer is worth keeping: at least MIN_WORDS words, and runs of
    letters or digits make up at least MIN_WORD_SHARE of its non-space characters. The 17 pages of the
    samples' PDF score 0.87-0.96; a scan's layer is empty, and a layer in a broken font encoding
    (control characters and symbols) scores near 0."""
    chars = sum(not c.isspace() for c in text)
    return len(WORD_RE.findall(text)) >= MIN_WORDS and sum(map(len, TOKEN_RE.findall(text))) >= MIN_WORD_SHARE * chars


def image_text(image, options: OcrOptions, what: str) -> str:
    """One image's text; raises OcrUnavailable without Tesseract, RuntimeError past the time limit."""
    import pytesseract

    if not options.enabled:
        raise OcrUnavailable(f"{what} needs OCR, which is off (ingest.ocr)")
    try:
        return pytesseract.image_to_string(image, lang=options.languages, timeout=options.page_timeout_s)
    except pytesseract.TesseractNotFoundError:
        raise OcrUnavailable(f"{what} needs OCR and Tesseract is not installed: {INSTALL}") from None
    except RuntimeError as exc:  # pytesseract's time limit
        raise RuntimeError(f"{what}: OCR stopped after {options.page_timeout_s:g} s (ingest.ocr_page_timeout_s): {exc}") from None


def image_frames(path: Path) -> Iterator:
    """The frames of an image file (a TIFF may hold many pages), as RGB images."""
    from PIL import Image, ImageSequence

    with Image.open(path) as image:
        for frame in ImageSequence.Iterator(image):
            yield frame.convert("RGB")


def pdf_page_image(path: Path, index: int, dpi: int):
    """Page `index` (0-based) of a PDF rendered to an image."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        return pdf[index].render(scale=dpi / 72).to_pil()
    finally:
        pdf.close()


def ocr_pages(pages: list[str], path: Path, options: OcrOptions) -> tuple[list[str], list[int]]:
    """`pages` (a PDF's text layer, page by page) with each unusable page replaced by its OCR
    text; returns them and the OCR'd page numbers (1-based). A page whose OCR fails keeps its
    layer and is logged; with Tesseract missing, raises only when no page has usable text."""
    out, done = list(pages), []
    wanted = [i for i, text in enumerate(pages) if not usable_text(text)]
    for i in wanted:
        try:
            out[i] = image_text(pdf_page_image(path, i, options.dpi), options, f"page {i + 1} (no usable text layer)")
            done.append(i + 1)
        except OcrUnavailable:
            if len(wanted) == len(pages):
                raise
            log.warning("%s: %d page(s) without a usable text layer left out: OCR unavailable (%s)", path.name, len(wanted), INSTALL)
            return out, done
        except RuntimeError as exc:
            log.warning("%s: %s", path.name, exc)
    return out, done
