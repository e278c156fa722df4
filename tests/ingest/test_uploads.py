"""Uploaded file names cannot escape the source folder, hide, pose as options or overwrite."""

import hashlib
from pathlib import Path

import pytest

from ingest.uploads import UploadError, resolve_inside, safe_upload_name, save_upload
from rag.config import IngestSettings

SETTINGS = IngestSettings(max_file_mb=0.001)


@pytest.mark.parametrize(
    "name, safe",
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/cron.d/evil.txt", "evil.txt"),
        ("..\\..\\windows\\evil.md", "evil.md"),
        ("-rf --no-preserve-root.txt", "rf --no-preserve-root.txt"),
        (".hidden.md", "hidden.md"),
        ("a;b|c`d$(e)&f>g.txt", "a_b_c_d_(e)_f_g.txt"),
        ("quote\"and'apostrophe.txt", "quote_and_apostrophe.txt"),
        ("Überblick – 日本語.DOCX", "Überblick _ 日本語.docx"),
        ("nul\x00and\x1bescape.txt", "nulandescape.txt"),
        (".txt", "upload.txt"),
    ],
)
def test_names_are_made_safe(name: str, safe: str):
    assert safe_upload_name(name, SETTINGS) == safe


@pytest.mark.parametrize("name", ["program.exe", "no_extension", "archive.tar.gz", "notes.txt/"])
def test_unsupported_types_are_refused_by_name(name: str):
    with pytest.raises(UploadError, match="not a supported type"):
        safe_upload_name(name, SETTINGS)


def test_saving_never_overwrites_and_respects_the_size_limit(tmp_path: Path):
    first = save_upload("a.txt", b"one", tmp_path, SETTINGS)
    second = save_upload("../a.txt", b"two", tmp_path, SETTINGS)
    assert (first.name, second.name) == ("a.txt", "a (2).txt") and first.read_bytes() == b"one"
    with pytest.raises(UploadError, match="over the 0.001 MB limit"):
        save_upload("big.txt", b"x" * 2000, tmp_path, SETTINGS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a (2).txt", "a.txt"]


def test_content_the_collection_holds_is_not_added_twice(tmp_path: Path):
    save_upload("notes.txt", b"The keeper lit the lamp.", tmp_path, SETTINGS)
    with pytest.raises(UploadError, match="already in the collection as 'notes.txt'"):
        save_upload("notes copy.txt", b"The keeper lit the lamp.", tmp_path, SETTINGS)  # saved, not yet ingested
    indexed = {hashlib.sha256(b"Indexed text.").hexdigest(): "archive/old.txt"}
    with pytest.raises(UploadError, match="already in the collection as 'archive/old.txt'"):
        save_upload("new.txt", b"Indexed text.", tmp_path, SETTINGS, indexed)
    assert save_upload("other.txt", b"Other text.", tmp_path, SETTINGS, indexed).name == "other.txt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "other.txt"]


def test_resolve_inside_refuses_paths_that_leave_the_folder(tmp_path: Path):
    assert resolve_inside(tmp_path, "notes/a.txt") == tmp_path.resolve() / "notes" / "a.txt"
    for bad in ("../outside.txt", "/etc/passwd", "notes/../../x", "."):
        with pytest.raises(UploadError):
            resolve_inside(tmp_path, bad)
