"""What every reader returns (`Extracted`: text, page starts, headings, OCR'd pages) and what they
all share: the limits they refuse past, the specific `ReadError`, text decoding, pages joined into
one text, the zip check for Office files. Kept apart from the readers that use it, so the PDF and
Office readers need not import the dispatcher that imports them."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

PAGE_SEP = "\n\n"
HIGH_BYTES_RE = re.compile(rb"[\x80-\xff]+")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class ReadError(Exception):
    """A file that cannot be ingested; the message is the specific reason shown to the user."""


@dataclass
class Extracted:
    """The text chunks point into; `page_starts[i]` is where page i+1 begins (one page if not paged)."""

    kind: str
    text: str
    page_starts: list[int] = field(default_factory=lambda: [0])
    headings: list[tuple[int, str]] = field(default_factory=list)  # (offset, heading), in order
    ocr_pages: list[int] = field(default_factory=list)  # 1-based pages whose text came from OCR


def decode_text(data: bytes) -> str:
    """Bytes -> str: UTF-8 (with or without BOM), UTF-16 by BOM, else the best detected charset.
    Binary data is refused rather than decoded into garbage."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if b"\x00" in data:
        raise ReadError("binary content (NUL bytes), not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _decode_legacy(data)
    if len(CONTROL_RE.findall(text)) > max(8, len(text) // 100):
        raise ReadError("binary content (control characters), not text")
    return text


def _decode_legacy(data: bytes) -> str:
    """Non-UTF-8 bytes. Western text has isolated high bytes (an accent here and there), CJK
    double-byte text has them in pairs; charset-normalizer alone mistakes short Western text
    for CJK, so isolated high bytes are read as cp1252 first."""
    runs = HIGH_BYTES_RE.findall(data)
    if sum(map(len, runs)) < 1.5 * len(runs):
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ReadError("binary content: no text encoding fits its bytes")
    return str(best)


def normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def require_text(text: str, what: str) -> str:
    if not text.strip():
        raise ReadError(f"no text content ({what})")
    return text


@dataclass(frozen=True)
class Limits:
    """What a reader refuses to take on: zip bombs in DOCX, PDFs past a page count."""

    max_expanded_bytes: int = 256 * 1024 * 1024
    max_pdf_pages: int = 5000


def join_pages(kind: str, pages: list[str], ocr: list[int] | None = None) -> Extracted:
    starts, parts, offset = [], [], 0
    for page in pages:
        starts.append(offset)
        parts.append(normalise(page))
        offset += len(parts[-1]) + len(PAGE_SEP)
    return Extracted(kind, PAGE_SEP.join(parts), starts or [0], ocr_pages=ocr or [])


def check_zip(path: Path, limits: Limits, kind: str) -> None:
    """Refuse an Office file (a zip) that is not one, or whose parts expand past the limit."""
    try:
        with zipfile.ZipFile(path) as zf:
            expanded = sum(info.file_size for info in zf.infolist())
    except zipfile.BadZipFile as exc:
        raise ReadError(f"not a valid {kind} file: {exc}") from None
    if expanded > limits.max_expanded_bytes:
        raise ReadError(
            f"its zipped parts expand to {expanded / 1e6:.0f} MB, over the limit of "
            f"{limits.max_expanded_bytes / 1e6:.0f} MB (ingest.max_expanded_mb): a zip bomb, or too large"
        )
