import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.storage.snapshots import (
    IndexBusyError,
    IndexNotFoundError,
    NewSnapshot,
    WriteLock,
    begin_snapshot,
    live_snapshot,
    prune_snapshots,
    publish_snapshot,
    published_snapshots,
    require_live_snapshot,
)


def publish(root: Path, payload: str) -> Path:
    tmp = begin_snapshot(root)
    (tmp / "data.txt").write_text(payload)
    return publish_snapshot(tmp)


def test_publish_switches_the_live_snapshot(tmp_path: Path):
    assert live_snapshot(tmp_path) is None
    with pytest.raises(IndexNotFoundError, match="rag ingest"):
        require_live_snapshot(tmp_path)
    first = publish(tmp_path, "one")
    second = publish(tmp_path, "two")
    assert (first.name, second.name) == ("snap-000001", "snap-000002")
    assert live_snapshot(tmp_path) == second
    assert (second / "data.txt").read_text() == "two"


def test_unpublished_snapshots_are_never_live_and_are_cleared(tmp_path: Path):
    publish(tmp_path, "one")
    abandoned = begin_snapshot(tmp_path)  # a writer that died before publishing
    (abandoned / "data.txt").write_text("half")
    assert live_snapshot(tmp_path).name == "snap-000001"
    next_tmp = begin_snapshot(tmp_path)
    assert next_tmp.name == "snap-000002.tmp" and list(next_tmp.iterdir()) == []


def test_new_snapshot_publishes_or_leaves_nothing(tmp_path: Path):
    with NewSnapshot(tmp_path) as new:
        (new.folder / "part").write_text("whole")
        published = new.publish()
    assert live_snapshot(tmp_path) == published and (published / "part").read_text() == "whole"
    with NewSnapshot(tmp_path) as abandoned:  # left without publishing: nothing stays
        (abandoned.folder / "part").write_text("half")
    with pytest.raises(OSError), NewSnapshot(tmp_path) as failed:
        (failed.folder / "part").write_text("half")
        raise OSError(28, "No space left on device")
    assert live_snapshot(tmp_path) == published and not list(tmp_path.glob("*.tmp"))


def test_prune_keeps_the_newest(tmp_path: Path):
    for i in range(4):
        publish(tmp_path, str(i))
    prune_snapshots(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.glob("snap-*")) == ["snap-000003", "snap-000004"]


def test_current_naming_a_missing_folder_is_a_clear_error(tmp_path: Path):
    (tmp_path / "CURRENT").write_text("snap-000009\n")
    with pytest.raises(IndexNotFoundError, match="snap-000009"):
        live_snapshot(tmp_path)


def test_one_writer_at_a_time_and_the_holder_is_named(tmp_path: Path):
    with WriteLock(tmp_path):
        with pytest.raises(IndexBusyError, match=f"pid {os.getpid()}"):
            with WriteLock(tmp_path):
                pass
    with WriteLock(tmp_path):  # released on exit
        pass


def test_a_lock_left_by_a_dead_process_does_not_block(tmp_path: Path):
    code = f"import os; from rag.storage.snapshots import WriteLock; l = WriteLock(__import__('pathlib').Path({str(tmp_path)!r})).__enter__(); os._exit(0)"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (tmp_path / "write.lock").read_text().strip().isdigit()  # pid left behind
    with WriteLock(tmp_path):
        pass


def test_folders_from_before_the_rename_are_read_as_they_are(tmp_path: Path):
    legacy = tmp_path / "gen-000004"
    legacy.mkdir()
    (tmp_path / "CURRENT").write_text("gen-000004\n")
    assert live_snapshot(tmp_path) == legacy and published_snapshots(tmp_path) == [legacy]
    assert begin_snapshot(tmp_path).name == "snap-000005.tmp"
