"""The follow-ups a new user tried on the samples (issue 32), through `rag chat` and the API, over
the samples' own tables and a note with an abbreviation: each answered right, never with the
previous answer's row."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import cli_ingest
from servers import rag_api

pytestmark = pytest.mark.slow
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
CONVERSATIONS = [  # (turns, what each answer must hold)
    (["When was Debian bookworm released?", "And what about trixie?"], ["2023-06-10", "2025-08-09"]),
    (["What is the codename of Ubuntu 22.04?", "and what about 20.04?", "and when was it released?"], ["Jammy Jellyfish", "Focal Fossa", "2020-04-23"]),
    (["What is the codename of Ubuntu 22.04?", "and when was it released?"], ["Jammy Jellyfish", "2022-04-21"]),
    (["Who founded the Zephyrine Observatory?"], ["Mira Okonkwo"]),
]


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("followups")
    docs = root / "docs"
    docs.mkdir()
    for name in ("debian-releases.csv", "ubuntu-releases.xlsx"):
        shutil.copy(SAMPLES / name, docs / name)
    (docs / "observatory.txt").write_text("The Zephyrine Observatory was founded in 1987 by Dr. Mira Okonkwo near Tromso. It studies auroras.\n")
    return cli_ingest(docs, root / "index")


@pytest.mark.parametrize(("turns", "expected"), CONVERSATIONS)
def test_rag_chat_answers_each_follow_up_right(index: Path, turns: list[str], expected: list[str]):
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "chat", "--index", str(index), "--json"], input="\n".join(turns) + "\n", capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(answers) == len(turns), result.stdout
    for answer, wanted in zip(answers, expected, strict=True):
        assert wanted in answer["answer"], (answer["question"], answer["searched"], answer["answer"])


def test_the_api_answers_the_follow_ups_from_their_history(index: Path, tmp_path: Path):
    with rag_api(index, index.parent / "docs", tmp_path / "api.log", {}) as server:
        for turns, expected in CONVERSATIONS:
            history = []
            for question, wanted in zip(turns, expected, strict=True):
                reply = httpx.post(f"{server['url']}/v1/ask", json={"question": question, "history": history}, timeout=120)
                assert reply.status_code == 200, reply.text
                answer = reply.json()
                assert wanted in answer["answer"], (question, answer.get("searched"), answer["answer"])
                history.append({"question": question, "answer": answer["answer"], "searched": answer.get("searched") or ""})


def test_the_openai_route_resolves_a_three_turn_conversation_from_its_messages(index: Path, tmp_path: Path):
    """Chat clients send only the messages: the earlier turns are resolved one by one, so the third
    question is asked about 20.04, not 22.04."""
    turns, expected = CONVERSATIONS[1]
    with rag_api(index, index.parent / "docs", tmp_path / "api.log", {}) as server:
        messages = []
        for question, wanted in zip(turns, expected, strict=True):
            messages.append({"role": "user", "content": question})
            reply = httpx.post(f"{server['url']}/v1/chat/completions", json={"model": "rag-local", "messages": messages}, timeout=120).json()
            text = reply["choices"][0]["message"]["content"]
            assert wanted in text, (question, reply.get("searched"), text)
            messages.append({"role": "assistant", "content": text})


def test_the_app_answers_the_follow_ups_in_chromium(index: Path):
    """The same conversations typed into the app in Debian's chromium (`rag serve`, the default reader)."""
    import os
    import signal

    from playwright.sync_api import expect, sync_playwright
    from servers import free_port, wait_until_healthy

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "app.cli", "serve", "--index", str(index), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_until_healthy(f"{url}/_stcore/health", proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(url)
            for turns, expected in CONVERSATIONS:
                page.get_by_role("button", name="New conversation").click()
                expect(page.get_by_test_id("stChatMessage")).to_have_count(0, timeout=60_000)
                for n, (question, wanted) in enumerate(zip(turns, expected, strict=True)):
                    box = page.get_by_test_id("stChatInputTextArea")
                    box.wait_for(timeout=120_000)  # the first visit loads the models
                    box.fill(question)
                    box.press("Enter")
                    answer = page.get_by_test_id("stChatMessage").nth(2 * n + 1)
                    try:
                        answer.get_by_role("button", name=re.compile(r"^\[\d+\] ")).first.wait_for(timeout=120_000)  # its citation: the answer is done
                    except Exception:
                        raise AssertionError(page.get_by_test_id("stChatMessage").all_inner_texts()) from None
                    assert wanted in answer.inner_text(), (question, answer.inner_text())
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
