"""Files that arrive through the browser: a safe name inside the source folder (no path
traversal, no hidden or option-like names), an allowed type and a size limit, never an
overwrite of a file already there, and never a second copy of content the collection holds."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from rag.config import IngestSettings

UNSAFE_RE = re.compile(r"[^\w .()+,-]")  # \w keeps letters of any script
MAX_NAME = 150


class UploadError(ValueError):
    """An upload refused, with the reason a person can act on."""


def safe_upload_name(name: str, settings: IngestSettings) -> str:
    """The last path component of `name`, with control and shell-special characters replaced,
    no leading dots or dashes, an allowed extension, and a bounded length."""
    base = unicodedata.normalize("NFC", name.replace("\\", "/").split("/")[-1])
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")  # control, format, private
    stem, dot, ext = UNSAFE_RE.sub("_", base).rpartition(".")
    if not dot or f".{ext.lower()}" not in settings.extensions:
        allowed = ", ".join(settings.extensions)
        raise UploadError(f"{name!r}: not a supported type (allowed: {allowed})")
    stem = stem.strip().lstrip(".-_ ").rstrip(". ")[: MAX_NAME - len(ext) - 1] or "upload"
    return f"{stem}.{ext.lower()}"


def duplicate_of(data: bytes, folder: Path, indexed: dict[str, str]) -> str | None:
    """The file that already holds `data`: an indexed one (`indexed`: SHA-256 -> path) or one
    saved in `folder` but not ingested yet (same size, then same hash); None when it is new."""
    digest = hashlib.sha256(data).hexdigest()
    if digest in indexed:
        return indexed[digest]
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.is_file() and path.stat().st_size == len(data) and hashlib.sha256(path.read_bytes()).hexdigest() == digest:
            return path.name
    return None


def save_upload(name: str, data: bytes, folder: Path, settings: IngestSettings, indexed: dict[str, str] | None = None) -> Path:
    """Write `data` under `folder` with a safe name; a taken name gets " (2)", " (3)" ...
    Content the collection already holds (`indexed`: SHA-256 -> path, or a file in `folder`) is
    refused, naming the file that holds it."""
    if len(data) > settings.max_file_mb * 1024 * 1024:
        raise UploadError(f"{name!r}: {len(data) / 1e6:.1f} MB is over the {settings.max_file_mb:g} MB limit (ingest.max_file_mb)")
    existing = duplicate_of(data, folder, indexed or {})
    if existing is not None:
        raise UploadError(f"{name!r} is already in the collection as {existing!r} (the same content); not added again")
    safe = safe_upload_name(name, settings)
    folder = folder.resolve()
    stem, ext = safe.rsplit(".", 1)
    target, n = folder / safe, 1
    while target.exists():
        n += 1
        target = folder / f"{stem} ({n}).{ext}"
    if target.parent != folder:  # cannot happen with the name rules above; a last guard
        raise UploadError(f"{name!r}: would be written outside {folder}")
    with open(target, "xb") as fh:  # exclusive: never replaces a file that appeared meanwhile
        fh.write(data)
    return target


def resolve_inside(folder: Path, relative: str) -> Path:
    """`folder / relative`, refusing any path that leaves `folder` (for downloads and deletes)."""
    root = folder.resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root) or target == root:
        raise UploadError(f"{relative!r} is not inside {root}")
    return target
