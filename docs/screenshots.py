"""The README's screenshots, taken from the real app on the bundled samples (`make screenshots`):
the Ask page's first screen, an answer with its source open, and an evaluation of the samples' own questions
(eval/data/samples_qa.jsonl) run from the Evaluation page with the default generator.

It serves index/samples (bring it up to date first: `rag ingest samples --index index/samples`)
on a free loopback port, writes its reports into a temporary folder and drives Debian's chromium
with Playwright."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INDEX = ROOT / "index" / "samples"
QUESTIONS = ROOT / "eval" / "data" / "samples_qa.jsonl"
QUESTION = "What is the dimension of the vectors all-MiniLM-L6-v2 maps sentences to?"
CHROMIUM = os.environ.get("RAG_TEST_CHROMIUM", "/usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"rag serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"{url} did not come up within {seconds} s")


def shoot(url: str, out: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 950})
        page.goto(url)
        page.get_by_text("Answers come only from these documents").wait_for(timeout=300_000)
        page.get_by_role("button", name="What about", exact=False).first.wait_for(timeout=300_000)  # the example questions
        page.get_by_role("slider", name="Passages (top-k)").wait_for(timeout=60_000)
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=60_000)  # the page has finished drawing
        page.screenshot(path=str(out / "first-screen.png"))

        box = page.get_by_test_id("stChatInputTextArea")
        box.fill(QUESTION)
        box.press("Enter")
        cite = page.get_by_role("button", name=re.compile(r"^\[1\] "))
        cite.wait_for(timeout=300_000)
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=300_000)
        cite.click()
        page.locator(".rag-passage mark").first.wait_for(timeout=60_000)
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=60_000)
        page.get_by_test_id("stChatMessage").first.evaluate("e => e.scrollIntoView()")  # the question and its answer on top
        page.screenshot(path=str(out / "ui-ask.png"))

        page.get_by_role("link", name="Evaluation").click()
        questions = {"name": QUESTIONS.name, "mimeType": "application/jsonl", "buffer": QUESTIONS.read_bytes()}
        page.locator("input[type=file]").set_input_files(files=[questions])
        page.get_by_text(f"{QUESTIONS.name}: ").wait_for(timeout=60_000)
        page.get_by_role("button", name="Run on this collection").click()
        page.get_by_text("Answers: samples").wait_for(timeout=600_000)
        expect(page.get_by_test_id("stImage")).to_have_count(2, timeout=60_000)
        page.set_viewport_size({"width": 1400, "height": 1500})
        page.get_by_text("Answers: samples").evaluate("e => e.scrollIntoView()")
        page.screenshot(path=str(out / "evaluation-report.png"))
        browser.close()


def main() -> int:
    if not INDEX.is_dir():
        sys.exit(f"{INDEX} is missing: run `rag ingest samples --index {INDEX}` first")
    port = free_port()
    with tempfile.TemporaryDirectory() as runs:
        env = {**os.environ, "RAG_UI__RUNS_DIR": runs, "HF_HUB_OFFLINE": "1"}
        cmd = [sys.executable, "-m", "app.cli", "serve", "--index", str(INDEX), "--port", str(port)]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_for(f"http://127.0.0.1:{port}/_stcore/health", proc)
            shoot(f"http://127.0.0.1:{port}", ROOT / "docs")
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    print("wrote docs/first-screen.png, docs/ui-ask.png and docs/evaluation-report.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
