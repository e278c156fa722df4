"""Slides, sheets, CSV, scans and images: each read into text with its page (slide, sheet, PDF
page) and headings; tables cut between rows only; OCR for pages without a usable text layer, and
a clear reason when Tesseract is missing; and one folder of them ingested and asked about."""

import json
import shutil
import subprocess
import sys

import pytest
from office_factory import write_docx_table, write_pdf, write_pptx, write_scan, write_xlsx

from ingest.chunking import Chunker, blocks, row_groups
from ingest.extracted import ReadError
from ingest.ocr import usable_text
from ingest.readers import read_document
from rag.answering.answer import place

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="Tesseract is not installed (make setup installs it)")


def words(text: str) -> int:
    """A stand-in word-piece counter: whitespace-separated words."""
    return len(text.split())


def read(path):
    return read_document(path, path.read_bytes())


def test_slides_are_pages_with_titles_tables_and_notes(tmp_path):
    deck = write_pptx(
        tmp_path / "deck.pptx",
        [
            ("Quarterly review", ["Revenue grew in every region."], None, None),
            ("Regional figures", ["North led the year."], [["Region", "Revenue"], ["North", "41"], ["South", "17"]], "Say that South recovered late."),
        ],
    )
    doc = read(deck)
    assert doc.kind == "pptx" and len(doc.page_starts) == 2
    second = doc.text[doc.page_starts[1] :]
    assert "| North | 41 |" in second and "Notes: Say that South recovered late." in second
    assert [h for _, h in doc.headings] == ["Quarterly review", "Regional figures"]
    chunks = Chunker(words, 64, 8).chunk(doc)
    assert {c.page for c in chunks if "North" in c.text} == {2}


def test_sheets_are_pages_and_rows_keep_their_numbers(tmp_path):
    book = write_xlsx(
        tmp_path / "book.xlsx",
        {"Cities": [["City", "Population"], ["Lyon", 522000], [], ["Nantes", 320000.0]], "Rivers": [["River", "Length km"], ["Loire", 1006]]},
    )
    doc = read(book)
    assert doc.kind == "xlsx" and len(doc.page_starts) == 2 and [h for _, h in doc.headings] == ["Cities", "Rivers"]
    assert "| row | City | Population |" in doc.text and "| 4 | Nantes | 320000 |" in doc.text  # sheet row 4: the empty row 3 is left out
    assert "| 2 | Loire | 1006 |" in doc.text[doc.page_starts[1] :]


def test_a_long_sheet_is_cut_between_rows_with_its_header_as_context(tmp_path):
    rows = [["Station", "Lamp"]] + [[f"Skerry {i}", f"lens type {i % 7}"] for i in range(2, 300)]
    doc = read(write_xlsx(tmp_path / "lamps.xlsx", {"Lamps": rows}))
    chunks = Chunker(words, 60, 8).chunk(doc)
    late = next(c for c in chunks if "| 250 | Skerry 250 |" in c.text)
    assert late.context == "Lamps\n| row | Station | Lamp |" and late.indexed_text.startswith(late.context + "\n| ")
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)  # the text stays a span of the sheet


def test_csv_delimiter_is_sniffed(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text("item;price\nbread;2,10\nmilk | fresh;1,05\n", encoding="utf-8")
    doc = read(path)
    assert doc.kind == "csv" and "| 2 | bread | 2,10 |" in doc.text and "milk \\| fresh" in doc.text


def test_tables_are_cut_between_rows_only():
    rows = [f"| {i} | Station {i} | {i * 7} metres above the sea |" for i in range(40)]
    text = "Intro sentence about stations.\n\n" + "\n".join(rows) + "\n\nA closing remark."
    assert [t for t, _, _ in blocks(text)] == [False, True, False]
    groups = row_groups("\n".join(rows), words, 30)
    assert len(groups) > 1 and [line for g, _ in groups for line in g.splitlines()] == rows
    header = "| row | Station | Height |"
    with_header = row_groups("\n".join([header, "| --- | --- | --- |", *rows]), words, 30)
    assert with_header[0][1] is None and {context for _, context in with_header[1:]} == {header}  # repeated as context
    assert all(len((g if c is None else f"{c}\n{g}").split()) <= 30 for g, c in with_header)
    doc = read_document_text(text)
    for chunk in Chunker(words, 30, 5).chunk(doc):
        for line in chunk.text.splitlines():
            assert not line.startswith("|") or line in rows  # every table line whole


TIDES = [["Harbour", "High water", "Range m"], ["Leith", "06:12", "4.8"], ["Oban", "01:47", "3.1"], ["Wick", "09:30", "2.9"]]


def test_pdf_and_docx_tables_become_rows(tmp_path):
    pdf = read(write_pdf(tmp_path / "tides.pdf", [(["Tide table for the week."], TIDES)]))
    docx = read(write_docx_table(tmp_path / "tides.docx", "Tide table for the week.", TIDES, "Ranges are spring tides."))
    for doc in (pdf, docx):
        assert "| Harbour | High water | Range m |" in doc.text and "| Oban | 01:47 | 3.1 |" in doc.text
        assert doc.text.index("Tide table") < doc.text.index("| Harbour")
    assert docx.text.index("| Wick") < docx.text.index("Ranges are spring tides.")


def test_running_headers_and_page_numbers_are_removed(tmp_path):
    seasons = ["spring storms", "summer fog", "autumn gales", "winter ice", "the relief boat"]
    pages = [
        ([f"This chapter tells of {season} on the rock.", f"Written down in the log by keeper {name}."], None)
        for season, name in zip(seasons, "Ann Bob Cy Di Ed".split(), strict=True)
    ]
    doc = read(write_pdf(tmp_path / "log.pdf", pages, header="Northern Lighthouse Board - Annual Log", footer=True))
    assert doc.text.count("Northern Lighthouse Board") == 1  # kept on the first page only
    assert "Page 3" not in doc.text and doc.text[doc.page_starts[2] :].startswith("This chapter tells of autumn gales")


def read_document_text(text: str):
    from ingest.extracted import Extracted

    return Extracted("markdown", text)


def test_the_usable_text_rule():
    assert usable_text("The keeper served for thirty-one years at the light.")
    assert not usable_text("")
    assert not usable_text("\x01\x02 %$ {} [] ## \x03\x04 @@ ~~ .. ^^ &* ()")
    assert usable_text("Leith 06:12 4.8 Oban 01:47 3.1 Wick 09:30 2.9")  # figures are text


@needs_tesseract
def test_a_scan_is_read_by_ocr_page_by_page(tmp_path):
    scan = write_scan(tmp_path / "scan.pdf", [["Nothing on the first page but this."], ["The keeper of Skerryvore was Alasdair Brodie."]])
    doc = read(scan)
    assert doc.kind == "pdf" and doc.ocr_pages == [1, 2]
    assert "Alasdair Brodie" in doc.text[doc.page_starts[1] :]


def test_missing_tesseract_is_a_clear_reason(tmp_path, monkeypatch):
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", str(tmp_path / "no-tesseract"))
    with pytest.raises(ReadError, match="Tesseract is not installed"):
        read(write_scan(tmp_path / "scan.pdf", [["Some scanned words here."]]))
    with pytest.raises(ReadError, match="Tesseract is not installed"):
        read(write_scan(tmp_path / "page.png", [["Some scanned words here."]]))


def test_a_damaged_office_file_is_named_as_such(tmp_path):
    for name in ("bad.pptx", "bad.xlsx"):
        (tmp_path / name).write_bytes(b"PK\x03\x04 not really a zip")
        with pytest.raises(ReadError, match=f"not a valid {name[-4:].upper()} file"):
            read(tmp_path / name)


@pytest.mark.slow
@needs_tesseract
def rag(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, timeout=600)


def test_facts_in_scans_images_slides_and_sheets_are_found_and_cited(tmp_path):
    """rag ingest, then rag ask about a fact in each kind of file: found and cited to its page."""
    docs = tmp_path / "mixed"
    docs.mkdir()
    write_scan(docs / "scan.pdf", [["Annual report of the lighthouse board."], ["The keeper of Skerryvore was Alasdair Brodie."]])
    write_scan(docs / "note.png", [["The Bell Rock light was first lit in 1811."]])
    write_pptx(
        docs / "deck.pptx",
        [("Fleet", ["Our ships are painted blue."], None, None), ("Tenders", ["The tender Pharos carries fuel oil to the rocks."], None, None)],
    )
    write_xlsx(
        docs / "stations.xlsx", {"Keepers": [["Station", "Keepers"], ["Muckle Flugga", 4]], "Lamps": [["Station", "Lamp"], ["Sule Skerry", "Fresnel lens"]]}
    )
    write_pdf(docs / "tides.pdf", [(["Harbour guide, part one."], None), (["Tide table for the week."], TIDES)])
    ferries = [["Route", "Vessel", "Crossing minutes"], ["Ullapool to Stornoway", "Loch Seaforth", "165"], ["Oban to Craignure", "Isle of Mull", "46"]]
    write_docx_table(docs / "ferries.docx", "Ferry timetable of the company.", ferries, "Crossings may be cancelled in storms.")
    index = str(tmp_path / "index")
    ingested = rag("ingest", str(docs), "--index", index, "--json")
    assert ingested.returncode == 0 and json.loads(ingested.stdout)["added"] == 6, ingested.stderr
    for question, path, page in [
        ("Who was the keeper of Skerryvore?", "scan.pdf", 2),
        ("When was the Bell Rock light first lit?", "note.png", 1),
        ("What does the tender Pharos carry?", "deck.pptx", 2),
        ("Which lamp does Sule Skerry have?", "stations.xlsx", 2),
        ("What is the high water time at Wick?", "tides.pdf", 2),
        ("Which vessel sails from Ullapool to Stornoway?", "ferries.docx", None),
    ]:
        asked = rag("ask", question, "--index", index, "--generator", "extractive", "--json")
        assert asked.returncode == 0, asked.stderr
        answer = json.loads(asked.stdout)
        cited = answer["citations"][0]
        assert not answer["abstained"] and (cited["path"], cited["page"]) == (path, page), question
        assert cited["ocr"] == (path in ("scan.pdf", "note.png")), question  # marked when its text came from OCR
    assert place("deck.pptx", 2) == "deck.pptx, slide 2" and place("scan.pdf", 3, ocr=True) == "scan.pdf, page 3 (OCR)"
