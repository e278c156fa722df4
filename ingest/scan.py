"""Walk a source folder: the supported files under it, with their stat data, and the entries
that must be reported instead (broken links, links leading outside the folder)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rag.config import IngestSettings


@dataclass(frozen=True)
class SourceFile:
    path: Path  # absolute
    rel: str  # relative to the source folder, '/'-separated: the file's key in the index
    size: int
    mtime_ns: int


def scan_folder(source: Path, settings: IngestSettings) -> tuple[list[SourceFile], dict[str, str]]:
    """(files sorted by relative path, {relative path: reason} for entries that were skipped)."""
    root = source.resolve()
    extensions = {e.lower() for e in settings.extensions}
    files: list[SourceFile] = []
    skipped: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith(".") or Path(name).suffix.lower() not in extensions:
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                target = path.resolve()
                if not target.exists():
                    skipped[rel] = "broken symbolic link"
                    continue
                if not settings.follow_symlinks and not target.is_relative_to(root):
                    skipped[rel] = f"symbolic link leads outside the source folder (to {target}); set ingest.follow_symlinks to include it"
                    continue
            try:
                st = path.stat()
            except OSError as exc:
                skipped[rel] = f"cannot stat: {exc.strerror or exc}"
                continue
            files.append(SourceFile(path, rel, st.st_size, st.st_mtime_ns))
    files.sort(key=lambda f: f.rel)
    return files, skipped
