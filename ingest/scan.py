"""Walk a source folder: the supported files under it, with their stat data, and the entries
that must be reported instead (broken links, links leading outside the folder)."""

from __future__ import annotations

import fnmatch
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


IGNORE_FILE = ".ragignore"


def ignore_patterns(root: Path) -> list[str]:
    """Glob patterns from SOURCE/.ragignore (one per line, # for comments), matched against
    relative paths and bare file names."""
    try:
        lines = (root / IGNORE_FILE).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def is_ignored(rel: str, patterns: list[str]) -> bool:
    """A pattern starting with "/" matches the relative path only (as in .gitignore); any other
    matches the relative path or the bare file name."""
    name = rel.rsplit("/", 1)[-1]
    for p in patterns:
        if p.startswith("/"):
            if fnmatch.fnmatchcase(rel, p[1:]):
                return True
        elif fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p):
            return True
    return False


def leave_out(root: Path, rel: str) -> None:
    """Add one file to SOURCE/.ragignore, anchored and with its glob characters escaped, so the
    next ingest drops it from the index and leaves the file itself where it is."""
    exact = "/" + "".join(f"[{c}]" if c in "*?[" else c for c in rel)
    path = root / IGNORE_FILE
    existing = path.read_text(encoding="utf-8") if path.is_file() else ""
    if exact in existing.splitlines():
        return
    lead = "" if not existing or existing.endswith("\n") else "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{lead}# removed from the index, kept in the folder\n{exact}\n")


def scan_folder(source: Path, settings: IngestSettings) -> tuple[list[SourceFile], dict[str, str], list[str]]:
    """(files sorted by relative path, {relative path: reason} for entries that were skipped,
    the relative paths .ragignore left out)."""
    root = source.resolve()
    extensions = {e.lower() for e in settings.extensions}
    ignored = ignore_patterns(root)
    files: list[SourceFile] = []
    skipped: dict[str, str] = {}
    left_out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith(".") or Path(name).suffix.lower() not in extensions:
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if is_ignored(rel, ignored):
                left_out.append(rel)
                continue
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
    return files, skipped, sorted(left_out)
