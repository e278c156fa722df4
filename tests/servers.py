"""Starting the product's real servers on free loopback ports, for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_healthy(url: str, proc: subprocess.Popen, seconds: float = 180) -> None:
    """Poll `url` until it answers 200; fail with the server's output if it exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"the server exited with {proc.returncode}: {out}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not come up within {seconds} s")


def listening(port: int) -> bool:
    """Whether anything accepts connections on 127.0.0.1:`port`."""
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def rag_api(index: Path | None, docs: Path | None, log: Path, env: dict[str, str], args: tuple[str, ...] = ()) -> Iterator[dict]:
    """`rag api` over `index` (None: the collections `args` name) on a free port (with `env` added
    to the environment), its output in `log`; yields {url, index, docs, log, proc} and stops it after."""
    port = free_port()
    cmd = [sys.executable, "-m", "app.cli", "api", "--port", str(port), *(["--index", str(index)] if index else []), *args]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(f"{url}/healthz", proc)
        yield {"url": url, "index": index, "docs": docs, "log": log, "proc": proc}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
