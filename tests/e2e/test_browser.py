"""The app in a real browser: `rag serve` on a free loopback port over a small ingested folder,
Debian's chromium driven by Playwright asks a question, waits for the answer, opens a citation,
checks the source panel, reloads the page (the conversation and a sidebar choice stay), leaves
feedback, uploads a file on the Collection page (a second copy is refused), asks about it in a new
conversation, goes back to the first, and evaluates the collection from the rating and an uploaded
CSV. No request may leave the machine. Screenshots are saved as test artifacts."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import ingested_corpus
from servers import free_port, wait_until_healthy

CHROMIUM = Path(os.environ.get("RAG_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(os.environ.get("RAG_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "runs" / "test-artifacts"))


def leaves_the_machine(url: str) -> bool:
    parts = urlparse(url)
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in ("127.0.0.1", "localhost", "::1")


def wait_for_saved_choice(index_dir: Path, key: str, value, seconds: float = 30) -> None:
    """Poll the conversations store until some user's saved sidebar choice `key` is `value`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db = index_dir / "conversations.sqlite"
        rows = sqlite3.connect(db).execute("SELECT settings FROM preferences").fetchall() if db.is_file() else []
        if any(json.loads(r[0]).get(key) == value for r in rows):
            return
        time.sleep(0.2)
    raise AssertionError(f"the choice {key} = {value} was not saved within {seconds} s")


def top_k_slider(page):
    """The sidebar's "Passages (top-k)" slider, its Advanced section opened first (it starts closed)."""
    slider = page.get_by_role("slider", name="Passages (top-k)")
    if not slider.is_visible():
        page.get_by_test_id("stSidebar").get_by_text("Advanced", exact=True).click()
    slider.wait_for(timeout=30_000)
    return slider


@pytest.mark.slow
def test_ask_open_a_citation_and_rate_it_in_chromium(tmp_path: Path, embedder):
    from playwright.sync_api import expect, sync_playwright

    assert CHROMIUM.is_file(), f"{CHROMIUM} is missing: `make setup` installs Debian's chromium"
    settings = ingested_corpus(tmp_path, embedder, {})
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "RAG_GENERATION__BACKEND": "extractive"}
    cmd = [sys.executable, "-m", "app.cli", "serve", "--index", str(settings.index_dir), "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_until_healthy(f"{url}/_stcore/health", proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            outside: list[str] = []  # a local-first app for private documents makes no request off this machine
            page.on("request", lambda r: outside.append(r.url) if leaves_the_machine(r.url) else None)
            page.goto(url)
            box = page.get_by_test_id("stChatInputTextArea")
            box.wait_for(timeout=120_000)  # the first visit loads the models
            box.fill("Which town have Etna's lava flows reached?")
            box.press("Enter")
            cite = page.get_by_role("button", name=re.compile(r"^\[\d+\] volcanoes\.md$"))
            cite.wait_for(timeout=120_000)
            assert "Catania" in page.get_by_test_id("stChatMessage").nth(1).inner_text()
            cite.click()
            page.locator(".rag-passage mark").first.wait_for(timeout=60_000)
            assert any("Catania" in text for text in page.locator(".rag-passage mark").all_inner_texts())
            expect(page.locator("[data-scrolled=yes] .rag-passage")).to_have_count(1)  # the panel's script ran in the page
            assert page.get_by_role("button", name="Open / download the file").is_visible()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "browser-answer-with-source.png"))

            top_k_slider(page).press("ArrowLeft")  # 8 -> 7: a choice that must stick
            wait_for_saved_choice(settings.index_dir, "top_k", 7)  # the app has it (the slider moves before the app hears of it)
            page.reload()  # the conversation and the choice outlive a reload
            cite.wait_for(timeout=120_000)
            assert "Catania" in page.get_by_test_id("stChatMessage").nth(1).inner_text()
            expect(top_k_slider(page)).to_have_value("7", timeout=30_000)
            cite.click()
            page.locator(".rag-passage mark").first.wait_for(timeout=60_000)

            page.locator("[data-testid=stFeedback] [aria-label='Thumbs up']").click()
            page.get_by_label("Comment (optional)").fill("right passage")
            page.get_by_label("Comment (optional)").press("Enter")
            page.get_by_role("button", name="Send feedback").click()
            page.get_by_text("Thanks for the feedback.").wait_for(timeout=30_000)

            page.get_by_role("link", name="Collection").click()
            glacier = {"name": "../../glaciers.txt", "mimeType": "text/plain", "buffer": b"The Aletsch Glacier is the largest glacier in the Alps.\n"}
            page.locator("input[type=file]").set_input_files(files=[glacier])
            page.get_by_role("button", name="Upload and ingest").click()
            page.get_by_text("Added 1,").wait_for(timeout=120_000)
            assert (tmp_path / "docs" / "glaciers.txt").is_file()  # saved inside the folder, under a safe name
            expect(page.get_by_role("button", name="Upload and ingest")).to_have_count(0, timeout=30_000)  # the uploader was emptied
            expect(page.locator("input[type=file]")).to_have_count(1, timeout=30_000)
            page.locator("input[type=file]").set_input_files(files=[{**glacier, "name": "glaciers copy.txt"}])
            page.get_by_role("button", name="Upload and ingest").click()
            page.get_by_text("already in the collection as 'glaciers.txt'").wait_for(timeout=60_000)
            assert not (tmp_path / "docs" / "glaciers copy.txt").exists()
            page.get_by_role("link", name="Ask").click()
            cite.wait_for(timeout=60_000)  # the conversation is still there after a page switch
            expect(top_k_slider(page)).to_have_value("7")  # and the choice
            page.get_by_role("button", name="New conversation").click()
            expect(cite).to_have_count(0, timeout=30_000)
            box.fill("What is the largest glacier in the Alps?")
            box.press("Enter")
            page.get_by_role("button", name="[1] glaciers.txt").wait_for(timeout=120_000)  # the new snapshot serves
            page.get_by_role("button", name="Which town have Etna's lava flows reached?").click()  # back to the first conversation
            cite.wait_for(timeout=30_000)
            expect(page.get_by_test_id("stMainBlockContainer")).not_to_contain_text("glacier", timeout=30_000)

            page.get_by_role("link", name="Evaluation").click()  # the rating above and a CSV of one's own, asked again
            questions = b"question,answer,source\nWhat is the largest glacier in the Alps?,Aletsch Glacier,glaciers.txt\n"
            page.locator("input[type=file]").set_input_files(files=[{"name": "mine.csv", "mimeType": "text/csv", "buffer": questions}])
            page.get_by_text("mine.csv: 1 question(s)").wait_for(timeout=30_000)  # the upload has reached the app and was read
            expect(page.get_by_label("The answers rated on the Ask page (1)")).to_be_checked(timeout=60_000)
            page.get_by_role("button", name="Run on this collection").click()
            page.get_by_text("Answers: index, 2 questions").wait_for(timeout=120_000)  # the rating and the CSV's row
            expect(page.get_by_test_id("stImage")).to_have_count(2, timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "browser-evaluation-report.png"), full_page=True)
            browser.close()
        assert outside == [], f"requests that left the machine: {outside}"
        rows = sqlite3.connect(settings.index_dir / "feedback.sqlite").execute("SELECT rating, comment, question FROM feedback").fetchall()
        assert rows == [(1, "right passage", "Which town have Etna's lava flows reached?")]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
