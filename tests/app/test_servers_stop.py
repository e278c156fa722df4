"""The servers' lifecycle: after SIGTERM to `rag serve` or `rag api` nothing of ours listens, and
binding beyond loopback without a password or API keys refuses to start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ingested_corpus
from servers import free_port, listening, wait_until_healthy

pytestmark = pytest.mark.slow
EXTRACTIVE = {**os.environ, "RAG_GENERATION__BACKEND": "extractive"}


@pytest.mark.parametrize("command, health", [("serve", "/_stcore/health"), ("api", "/healthz")])
def test_sigterm_leaves_nothing_listening(tmp_path: Path, embedder, command: str, health: str):
    settings = ingested_corpus(tmp_path, embedder, {})
    port = free_port()
    cmd = [sys.executable, "-m", "app.cli", command, "--index", str(settings.index_dir), "--port", str(port)]
    proc = subprocess.Popen(cmd, env=EXTRACTIVE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}{health}", proc)
        os.kill(proc.pid, signal.SIGTERM)  # the pid we started: no process group to hide a child behind
        proc.wait(timeout=30)
        assert not listening(port), f"something still listens on {port} after SIGTERM to rag {command}"
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("command, needs", [("serve", "ui.password"), ("api", "API keys")])
def test_another_address_without_protection_refuses_to_start(tmp_path: Path, command: str, needs: str):
    cmd = [sys.executable, "-m", "app.cli", command, "--index", str(tmp_path / "index"), "--host", "0.0.0.0", "--port", str(free_port())]
    env = {k: v for k, v in os.environ.items() if k != "RAG_UI__PASSWORD"}
    done = subprocess.run(cmd, env={**env, "RAG_UI__PASSWORD": ""}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "refusing to listen on 0.0.0.0" in done.stderr and needs in done.stderr
