"""Kill a real `rag ingest` at a point it reports as a structured event (JSON log lines with an
`event` key, never log wording or wall-clock luck)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest


def is_point(line: str, event: str, at: str | int, seen: dict[str, int]) -> bool:
    """True when this JSON log line is the kill point: stage `at`, or the `at`-th event of that kind."""
    try:
        entry = json.loads(line)
    except ValueError:
        return False  # a library's plain-text warning
    if not isinstance(entry, dict) or entry.get("event") != event:
        return False
    seen[event] = seen.get(event, 0) + 1
    return entry.get("stage") == at if event == "stage" else seen[event] == at


def children_of(pid: int) -> list[int]:
    """The processes `pid` started (Linux /proc), e.g. its reading processes."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def exits_within(pid: int, seconds: float) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":  # ended, not yet reaped by its new parent
            return True
        time.sleep(0.1)
    return False


def kill_ingest_at(source: Path, index: Path, event: str, at: str | int, env: dict[str, str] | None = None, children: list[int] | None = None) -> bool:
    """Run `rag ingest` (with `env` added to the environment) and SIGKILL it the moment it
    reports `event` (`at`); True if it was killed. `children` gets the processes it had started."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "-v", "--log-format", "json", "ingest", str(source), "--index", str(index)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    seen: dict[str, int] = {}
    try:
        for line in proc.stderr:
            if is_point(line, event, at, seen):
                if children is not None:
                    children += children_of(proc.pid)
                os.kill(proc.pid, signal.SIGKILL)
                break
        else:
            pytest.fail(f"the ingest never reported {event} {at!r} (saw {seen})")
    finally:
        proc.stderr.close()
        proc.wait(timeout=600)
    return proc.returncode == -signal.SIGKILL


def kill_after_first_checkpoint(script: str, checkpoints: Path, seconds: float = 300) -> None:
    """Run `script` (python -c) in its own process group and SIGKILL the group a second after
    the first whole checkpoint (its trainer_state.json, written last) appears in `checkpoints`."""
    import time

    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    deadline = time.monotonic() + seconds
    while not list(checkpoints.glob("checkpoint-*/trainer_state.json")):
        assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint was written"
        time.sleep(0.2)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
