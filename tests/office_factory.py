"""Documents the tests build with the libraries that write them: slides (python-pptx), sheets
(openpyxl), and pages of text drawn into images (Pillow), saved as PNG or as an image-only PDF
with no text layer (a scan)."""

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
