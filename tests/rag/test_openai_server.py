"""The openai generator backend against a real OpenAI-compatible server that the test starts:
llama-cpp-python's own (`python -m llama_cpp.server`) serving the bundled Gemma GGUF on a loopback
port. Then the whole engine through it, and a server that is down: the answer falls back to
quoting the sources and says why."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from conftest import ingested_corpus
from servers import free_port, wait_until_healthy

from rag.answering.engine import Engine
from rag.answering.generate.load import load_generator, resolve_generator_path
from rag.config import GenerationSettings

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed"),
]
PROMPT = "Context: Paris is the capital of France.\nQuestion: What is the capital of France?\nAnswer:"


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"  # a file: llama.cpp's load log would fill a pipe and stall it
    gguf = resolve_generator_path("gemma-3-270m")
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--model_alias",
        "gemma",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--n_threads",
        "1",
        "--chat_format",
        "gemma",
    ]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_healthy(f"{url}/models", proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_completions_stream_from_the_server(server_url: str):
    settings = GenerationSettings(backend="openai", base_url=server_url, model="gemma", max_new_tokens=16)
    generator, why = load_generator(settings)
    assert why is None and generator.name == f"openai:gemma@{server_url}"
    pieces = list(generator.stream(PROMPT, settings))
    assert "Paris" in "".join(pieces)  # the same greedy answer as llama.cpp in-process
    assert "\n\n" not in "".join(pieces)  # stop strings hold
    chat = GenerationSettings(backend="openai", base_url=server_url, model="gemma", endpoint="chat", max_new_tokens=16, stop=[])
    chatting = load_generator(chat)[0]
    assert chatting.chat_template and not generator.chat_template  # the chat endpoint applies the server's template
    assert "paris" in "".join(chatting.stream(PROMPT, chat)).lower()  # a string prompt goes as one user message
    messages = [{"role": "system", "content": "Answer in one word."}, {"role": "user", "content": PROMPT}]
    assert "paris" in "".join(chatting.stream(messages, chat)).lower()  # messages go as they are


def test_the_engine_answers_through_the_server(server_url: str, tmp_path, embedder):
    settings = ingested_corpus(tmp_path, embedder, {})
    settings.generation = GenerationSettings(backend="openai", base_url=server_url, model="gemma", answer_style="short")
    engine = Engine.from_settings(settings, settings.index_dir, embedder=embedder)
    answer = engine.ask("Mount Etna is on which island?")
    assert answer.generator.startswith("openai:gemma") and not answer.abstained and "Sicily" in answer.answer
    assert answer.citations and answer.citations[0].path == "volcanoes.md" and "first_token" in answer.timings


def test_a_server_that_is_down_falls_back_to_quotes(tmp_path, embedder):
    settings = ingested_corpus(tmp_path, embedder, {})
    settings.generation = GenerationSettings(backend="openai", base_url=f"http://127.0.0.1:{free_port()}/v1", model="gemma", timeout_s=5, answer_style="short")
    engine = Engine.from_settings(settings, settings.index_dir, embedder=embedder)
    answer = engine.ask("Which town have Etna's lava flows reached?")
    assert answer.generator == "extractive" and "Catania" in answer.answer
    assert any("failed" in n and "quoting the sources instead" in n for n in answer.notes)


def test_no_base_url_is_a_clear_fallback():
    generator, why = load_generator(GenerationSettings(backend="openai"))
    assert generator is None and "generation.base_url" in why
