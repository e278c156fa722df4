"""Hostile and odd input in one batch: odd file names, symlink loops and links leading out,
zip bombs, PDFs past the page limit and PDF stream bombs, a 200 MB one-line file, deeply nested
HTML and a reader that hangs. Each file is ingested, limited or reported with a specific
reason, and the batch goes on."""

import io
import zipfile
from pathlib import Path

import pytest
from conftest import SAMPLES, write_pdf_pages
from docx_factory import write_docx

import ingest.prepare as prepare
from ingest.pipeline import Ingestor
from rag.config import IngestSettings, Settings

ODD_NAMES = ["with space.txt", "quote'single\".txt", "-leading-dash.txt", "semi;colon&amp|pipe$(x)`y`.txt", "Überblick 日本語.md", "new\nline.txt"]


def zip_bomb_docx(path: Path, expanded_mb: int) -> None:
    """A real DOCX whose document.xml inflates to `expanded_mb` MB from a few kB."""
    write_docx(path, [(None, "A harmless looking paragraph.")])
    body = io.BytesIO(path.read_bytes())
    with zipfile.ZipFile(body) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "word/document.xml":
                data = data.replace(b"</w:body>", b"<w:p><w:r><w:t>" + b" " * (expanded_mb << 20) + b"</w:t></w:r></w:p></w:body>")
            dst.writestr(item.filename, data)


def pdf_stream_bomb(path: Path, expanded_mb: int) -> None:
    """A one-page PDF whose content stream inflates to `expanded_mb` MB."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(200, 200)
    stream = DecodedStreamObject()
    stream.set_data(b"0 0 m\n" * ((expanded_mb << 20) // 6))
    page[NameObject("/Contents")] = writer._add_object(stream.flate_encode())
    with open(path, "wb") as fh:
        writer.write(fh)


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ODD_NAMES:
        (folder / name).write_text(f"The file named {name!r} holds an ordinary sentence about rivers.\n", encoding="utf-8")
    (folder / "sub").mkdir()
    (folder / "sub" / "loop").symlink_to(folder, target_is_directory=True)  # a loop back to the top
    (folder / "outside.txt").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "secret.txt").write_text("Outside the source folder.\n")
    zip_bomb_docx(folder / "bomb.docx", expanded_mb=40)
    pdf_stream_bomb(folder / "stream-bomb.pdf", expanded_mb=12)
    write_pdf_pages(SAMPLES / "shared-mime-info-spec.pdf", folder / "long.pdf", pages=[0] * 60)
    with open(folder / "huge-one-line.txt", "wb") as fh:
        fh.truncate(200 << 20)  # 200 MB, sparse on disk
    (folder / "nested.html").write_text("<div>" * 50_000 + "deep text about rivers" + "</div>" * 50_000)
    (folder / "hangs.txt").write_text("This reader never returns.\n")
    real_read = prepare.read_document

    def read_or_hang(path, data, limits, ocr):
        while path.name == "hangs.txt":
            pass
        return real_read(path, data, limits, ocr)

    monkeypatch.setattr(prepare, "read_document", read_or_hang)
    return folder


def test_hostile_batch_is_ingested_limited_or_reported(hostile: Path, tmp_path: Path, embedder):
    # read in this process: the monkeypatched hanging reader and pypdf's scaled guard do not reach a spawned reading process
    limits = IngestSettings(max_expanded_mb=32, max_pdf_pages=50, file_timeout_s=2, read_workers=0)
    settings = Settings(index_dir=tmp_path / "index", ingest=limits)
    import pypdf

    with pypdf.apply_configuration(zlib_maximum_output_length=8 << 20):  # pypdf's 75 MB guard, scaled to the test
        report = Ingestor(settings, lambda: embedder, interactive=False).run(hostile, settings.index_dir)
    failed = report.failed
    reasons = {
        "bomb.docx": "zip bomb",
        "long.pdf": "60 pages, over the limit of 50",
        "huge-one-line.txt": "over the 50 MB limit",
        "hangs.txt": "longer than 2 s",
        "outside.txt": "leads outside the source folder",
    }
    for name, reason in reasons.items():
        assert reason in failed.get(name, ""), (name, failed.get(name))
    assert "stream-bomb.pdf" in failed  # inflating stopped at pypdf's limit; nothing readable was left
    indexed = set(__import__("rag.storage.index", fromlist=["HybridIndex"]).HybridIndex.open(settings.index_dir, settings, dim=embedder.dim).store.files())
    assert set(ODD_NAMES) <= indexed  # every odd name went in as it is
    assert not any(p.startswith("sub/loop") for p in indexed)  # the loop was not followed
    assert "nested.html" in indexed or any(r in failed["nested.html"] for r in ("RecursionError", "longer than"))
    print(f"{len(ODD_NAMES) + len(reasons) + 3} hostile inputs: {len(failed)} reported, {len(indexed)} indexed")
