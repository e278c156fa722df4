"""Each format's extraction, and each kind of bad input failing with a specific reason."""

import random
from pathlib import Path

import pytest
from docx_factory import write_docx

from ingest.extracted import ReadError, decode_text
from ingest.readers import read_document

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def read(path: Path):
    return read_document(path, path.read_bytes())


def test_pdf_pages_and_their_offsets():
    doc = read(SAMPLES / "shared-mime-info-spec.pdf")
    assert doc.kind == "pdf" and len(doc.page_starts) > 5
    assert doc.page_starts == sorted(doc.page_starts) and doc.page_starts[0] == 0
    assert "Shared MIME-info Database" in doc.text


def test_docx_text_and_headings(tmp_path: Path):
    path = write_docx(tmp_path / "a.docx", [("Title", "Bridges"), (None, "Intro text."), ("Heading1", "Suspension"), (None, "Cables hold the deck.")])
    doc = read(path)
    assert "Cables hold the deck." in doc.text
    assert [h for _, h in doc.headings] == ["Bridges", "Suspension"]
    assert all(doc.text[o : o + len(h)] == h for o, h in doc.headings)


def test_html_drops_scripts_and_keeps_headings(tmp_path: Path):
    path = tmp_path / "p.html"
    path.write_text("<html><head><style>p{}</style></head><body><h1>Top</h1><script>evil()</script><p>Body &amp; more</p><h2>Sub</h2><p>x</p></body></html>")
    doc = read(path)
    assert "evil" not in doc.text and "Body & more" in doc.text
    assert [h for _, h in doc.headings] == ["Top", "Sub"]


def test_markdown_headings_point_into_the_text(tmp_path: Path):
    path = tmp_path / "m.md"
    path.write_text("# One\n\ntext\n\n## Two ##\n\nmore\n")
    doc = read(path)
    assert [(doc.text[o : o + 5], h) for o, h in doc.headings] == [("# One", "One"), ("## Tw", "Two")]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Café crème à la française, naïve façade".encode("cp1252"), "Café crème à la française"),
        ("Grüße aus Köln und Düsseldorf".encode("latin-1"), "Grüße aus Köln"),
        ("\ufeffBOM utf-8 text".encode("utf-8"), "BOM utf-8 text"),
        ("utf-16 text with a BOM".encode("utf-16"), "utf-16 text with a BOM"),
        ("Crème brûlée is a French dessert.".encode("cp1252"), "Crème brûlée"),
        ("日本語のテキストです。これは文字コードのテストです。".encode("shift_jis"), "日本語のテキスト"),
    ],
)
def test_non_utf8_text_is_decoded_sensibly(raw: bytes, expected: str):
    assert expected in decode_text(raw)


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"   \n\n\t ", "no text content"),
        ("random.txt", random.Random(0).randbytes(4096), "binary content"),
        ("random-no-nul.txt", random.Random(1).randbytes(4096).replace(b"\x00", b"\x01"), "binary content"),
        ("corrupt.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage without xref", "not a readable PDF"),
        ("fake.docx", b"PK\x03\x04 this is not really a zip archive", "not a valid DOCX"),
        ("empty.html", b"<html><body><script>x()</script></body></html>", "no text content"),
    ],
)
def test_bad_input_fails_with_a_specific_reason(tmp_path: Path, name: str, content: bytes, reason: str):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ReadError, match=reason):
        read(path)


def test_truncated_pdf_is_reported(tmp_path: Path):
    data = (SAMPLES / "shared-mime-info-spec.pdf").read_bytes()
    path = tmp_path / "truncated.pdf"
    path.write_bytes(data[: len(data) // 3])
    try:
        doc = read(path)  # pypdf may recover pages from a truncated file; then it must hold text
        assert doc.text.strip()
    except ReadError as exc:
        assert "PDF" in str(exc)
