"""Index snapshots on disk. Each ingest writes a complete new snapshot folder beside the
live one and switches to it atomically (write, fsync, rename), so a crash at any moment leaves
the previous snapshot whole and readers never see a half-written one.

    INDEX/CURRENT         name of the live snapshot (replaced by rename, never edited)
    INDEX/snap-000007/     a complete snapshot: store.sqlite, dense.faiss, sparse/, manifest.json
    INDEX/snap-000008.tmp/ a snapshot being written; never read, removed by the next writer
    INDEX/write.lock       held (flock) by the one ingest allowed at a time; holds its pid

Indexes written before snapshots had their name were `gen-NNNNNN`; they are read as they are.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from pathlib import Path

CURRENT = "CURRENT"
LOCK = "write.lock"
PREFIX = "snap-"
SNAPSHOT_RE = re.compile(r"^(?:snap|gen)-(\d{6})$")  # gen-: folders written before the rename


class IndexNotFoundError(FileNotFoundError):
    """No live snapshot at this path: nothing has been ingested there yet."""


class IndexBusyError(RuntimeError):
    """Another ingest holds the write lock on this index."""


def live_snapshot(root: Path) -> Path | None:
    """The folder of the live snapshot, or None when the index has none yet."""
    try:
        name = (root / CURRENT).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise IndexNotFoundError(f"{root} is a file, not an index folder") from None
    if not SNAPSHOT_RE.match(name) or not (root / name).is_dir():
        raise IndexNotFoundError(f"{root / CURRENT} names {name!r}, which is not a snapshot folder in {root}")
    return root / name


def require_live_snapshot(root: Path) -> Path:
    live = live_snapshot(root)
    if live is None:
        raise IndexNotFoundError(f"no index at {root}: run `rag ingest SOURCE --index {root}` first")
    return live


def _snapshot_folders(root: Path) -> dict[int, Path]:
    """Number -> folder of every snapshot, published or `.tmp`, oldest first."""
    found = {int(m.group(1)): p for p in root.iterdir() if (m := SNAPSHOT_RE.match(p.name.removesuffix(".tmp")))}
    return dict(sorted(found.items()))


def begin_snapshot(root: Path) -> Path:
    """A fresh, empty `.tmp` folder for the next snapshot (the caller holds the write lock)."""
    root.mkdir(parents=True, exist_ok=True)
    for leftover in unpublished(root):
        shutil.rmtree(leftover)  # from a writer that died; never published, never read
    number = max(_snapshot_folders(root), default=0) + 1
    folder = root / f"{PREFIX}{number:06d}.tmp"
    folder.mkdir()
    return folder


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_snapshot(tmp_folder: Path) -> Path:
    """Make `tmp_folder` durable and live: fsync its files, rename it, then swap CURRENT."""
    for dirpath, _, filenames in os.walk(tmp_folder):
        for name in filenames:
            _fsync_path(Path(dirpath) / name)
        _fsync_path(Path(dirpath))
    final = tmp_folder.with_name(tmp_folder.name.removesuffix(".tmp"))
    os.rename(tmp_folder, final)
    set_live(final)
    return final


def set_live(snapshot: Path) -> None:
    """Point CURRENT at a published snapshot, atomically (write, fsync, rename)."""
    root = snapshot.parent
    pointer = root / f"{CURRENT}.tmp"
    with open(pointer, "w", encoding="ascii") as fh:
        fh.write(snapshot.name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(pointer, root / CURRENT)
    _fsync_path(root)


class NewSnapshot:
    """The one way to write a snapshot (ingest, doctor, bench): fill `folder`, then `publish()`;
    leaving the `with` block without publishing, or by an exception, removes the folder.

        with NewSnapshot(root) as new:
            ...write into new.folder...
            new.publish()
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.published: Path | None = None

    def __enter__(self) -> NewSnapshot:
        self.folder = begin_snapshot(self.root)
        return self

    def publish(self) -> Path:
        self.published = publish_snapshot(self.folder)
        return self.published

    def __exit__(self, *exc: object) -> None:
        if self.published is None:
            shutil.rmtree(self.folder, ignore_errors=True)


def published_snapshots(root: Path) -> list[Path]:
    """Every published snapshot folder, oldest first."""
    return [p for p in _snapshot_folders(root).values() if not p.name.endswith(".tmp") and p.is_dir()]


def unpublished(root: Path) -> list[Path]:
    """`.tmp` folders left by a writer that died."""
    return [p for p in _snapshot_folders(root).values() if p.name.endswith(".tmp")]


def prune_snapshots(root: Path, keep: int) -> None:
    """Remove all but the newest `keep` published snapshots (never the live one)."""
    live = live_snapshot(root)
    published = published_snapshots(root)
    for folder in published[:-keep] if keep > 0 else published:
        if folder != live:
            shutil.rmtree(folder, ignore_errors=True)


class WriteLock:
    """The one-writer lock: an flock on INDEX/write.lock, released by the kernel if we die."""

    def __init__(self, root: Path) -> None:
        self.path = root / LOCK
        self._fd: int | None = None

    def __enter__(self) -> WriteLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise IndexBusyError(f"another ingest (pid {holder}) is writing {self.path.parent}; try again when it ends") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
