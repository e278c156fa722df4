"""Documents the tests build with the libraries that write them: slides (python-pptx), sheets
(openpyxl), text PDFs with tables and running headers (fpdf2), DOCX tables (python-docx), and
pages of text drawn into images (Pillow), saved as PNG or as an image-only PDF (a scan)."""

from __future__ import annotations

from pathlib import Path


def write_pptx(path: Path, slides: list[tuple[str, list[str], list[list[str]] | None, str | None]]) -> Path:
    """(title, bullet lines, table rows or None, speaker notes or None) per slide."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for title, lines, table, notes in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text_frame.text = "\n".join(lines)
        if table:
            shape = slide.shapes.add_table(len(table), len(table[0]), Inches(1), Inches(4), Inches(6), Inches(2))
            for r, row in enumerate(table):
                for c, value in enumerate(row):
                    shape.table.cell(r, c).text = value
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    deck.save(path)
    return path


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def text_image(lines: list[str]):
    """Lines of black text on white, large enough for Tesseract."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=36)
    image = Image.new("RGB", (1700, 120 + 60 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((60, 60 + 60 * i), line, fill="black", font=font)
    return image


def write_scan(path: Path, pages: list[list[str]]) -> Path:
    """An image-only PDF (one image a page, no text layer), or a PNG of the first page."""
    images = [text_image(lines) for lines in pages]
    if path.suffix == ".png":
        images[0].save(path)
    else:
        images[0].save(path, save_all=True, append_images=images[1:])
    return path


def write_pdf(path: Path, pages: list[tuple[list[str], list[list[str]] | None]], header: str | None = None, footer: bool = False) -> Path:
    """A text PDF (fpdf2): per page, lines of text and an optional ruled table; `header` on top of
    every page and, with `footer`, "Page N" at the bottom (running lines)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(False)  # one page per entry: the footer must not spill onto a new page
    pdf.set_font("helvetica", size=11)
    for number, (lines, table) in enumerate(pages, start=1):
        pdf.add_page()
        if header:
            pdf.cell(0, 8, header, new_x="LMARGIN", new_y="NEXT")
        for line in lines:
            pdf.multi_cell(0, 7, line, new_x="LMARGIN", new_y="NEXT")
        if table:
            with pdf.table() as grid:
                for row in table:
                    cells = grid.row()
                    for value in row:
                        cells.cell(value)
        if footer:
            pdf.set_y(-20)
            pdf.cell(0, 8, f"Page {number}")
    pdf.output(str(path))
    return path


def write_docx_table(path: Path, before: str, table: list[list[str]], after: str) -> Path:
    import docx

    document = docx.Document()
    document.add_paragraph(before)
    grid = document.add_table(rows=len(table), cols=len(table[0]))
    for r, row in enumerate(table):
        for c, value in enumerate(row):
            grid.cell(r, c).text = value
    document.add_paragraph(after)
    document.save(path)
    return path
